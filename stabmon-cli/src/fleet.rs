//! `--all-hosts`: one answer across every host of the data (a fleet's bucket, or any directory with several).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use stabmon_core::analysis::{Incident, detect_incidents_in};
use stabmon_report::{Chart, HostSection, ReportBuilder};
use stabmon_store::{DefaultRange, SeriesRead};

use crate::select::{self, DataArgs, Hosts};
use crate::table::{self, Cell, Column, Style};

/// One host's incidents over the range, and how many samples they were found in.
pub struct HostIncidents {
    pub host: String,
    pub samples: usize,
    pub incidents: Vec<Incident>,
}

/// Every host's incidents over the asked range (by default the last day of the fleet's data), hosts in name
/// order; a host with no sample in the range is left out.
pub fn incidents_of_all(
    args: &DataArgs,
) -> anyhow::Result<(
    select::Source,
    stabmon_core::Timestamp,
    stabmon_core::Timestamp,
    Vec<HostIncidents>,
)> {
    let (src, from, to, _) =
        select::open_range(args, Hosts::Any, DefaultRange::Last(select::DEFAULT_SPAN))?;
    let hosts = src.reader.hosts();
    let spin = select::progress::spinner("finding incidents on every host");
    let out = per_host(&hosts, |host| host_incidents(&src, host, from, to))?;
    spin.finish_and_clear();
    select::print_warnings(&src);
    Ok((src, from, to, out))
}

/// `work` on every host, hosts being independent: one thread per core (at most four), each taking the next host and
/// holding only that host's data; the results in the order of `hosts`, `None`s left out.
fn per_host<T: Send>(
    hosts: &[String],
    work: impl Fn(&str) -> anyhow::Result<Option<T>> + Sync,
) -> anyhow::Result<Vec<T>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 4)
        .min(hosts.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<anyhow::Result<Vec<(usize, T)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(host) = hosts.get(i) else {
                            return Ok(mine);
                        };
                        if let Some(h) = work(host)? {
                            mine.push((i, h));
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a host's analysis panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(hosts.len());
    for r in results {
        out.extend(r?);
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, h)| h).collect())
}

/// One host's incidents over `[from, to)`; `None` when it has no sample there.
fn host_incidents(
    src: &select::Source,
    host: &str,
    from: stabmon_core::Timestamp,
    to: stabmon_core::Timestamp,
) -> anyhow::Result<Option<HostIncidents>> {
    let reader = src.reader.clone().with_host(host);
    // Only the columns detection reads.
    let series = reader
        .system_series_of(host, Some(from), Some(to), SeriesRead::Detection)
        .with_context(|| format!("cannot read stabmon data at {} (host {host})", src.shown))?;
    if series.is_empty() {
        return Ok(None);
    }
    let opts = reader.detect_options(host);
    let mut incidents = detect_incidents_in(&series, &reader.windows(host), &opts)
        .with_context(|| format!("cannot read stabmon data at {} (host {host})", src.shown))?;
    incidents.sort_by(|a, b| a.start.cmp(&b.start).then(a.peak.cmp(&b.peak)));
    Ok(Some(HostIncidents {
        host: host.to_owned(),
        samples: series.len(),
        incidents,
    }))
}

/// `stabmon incidents --all-hosts`: one table (or JSON document) with a host column, oldest first.
pub fn incidents(args: &DataArgs, as_json: bool) -> anyhow::Result<ExitCode> {
    let (src, from, to, hosts) = incidents_of_all(args)?;
    if hosts.is_empty() {
        eprintln!("stabmon: {}", select::explain_empty(&src, from, to)?);
        return Ok(ExitCode::FAILURE);
    }
    let mut all: Vec<(&str, &Incident)> = hosts
        .iter()
        .flat_map(|h| h.incidents.iter().map(move |i| (h.host.as_str(), i)))
        .collect();
    all.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(b.0)));
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if as_json {
        let doc = json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "hosts": hosts.iter().map(|h| json!({
                "host": h.host,
                "samples": h.samples,
                "incidents": h.incidents.len(),
            })).collect::<Vec<_>>(),
            "incidents": all.iter().map(|(host, i)| with_host(crate::incidents::incident_json(i), host)).collect::<Vec<_>>(),
        });
        return crate::table::print_json(&mut out, &doc);
    }
    let samples: usize = hosts.iter().map(|h| h.samples).sum();
    writeln!(
        out,
        "{} incident{} on {} host{} from {} to {} ({samples} samples; times in {})",
        all.len(),
        if all.len() == 1 { "" } else { "s" },
        hosts.len(),
        if hosts.len() == 1 { "" } else { "s" },
        table::local_time(from),
        table::local_time(to),
        table::local_zone()
    )?;
    if all.is_empty() {
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::for_stdout();
    let mut columns = vec![Column::left("HOST")];
    columns.extend(crate::incidents::columns());
    let rows: Vec<Vec<Cell>> = all
        .iter()
        .map(|(host, i)| {
            let mut row = vec![Cell::from((*host).to_owned())];
            row.extend(crate::incidents::row(i));
            row
        })
        .collect();
    out.write_all(table::render(&columns, &rows, &style).as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `stabmon top --all-hosts`: every host's process names ranked together, with a host column.
pub fn top(args: &crate::top::TopArgs) -> anyhow::Result<ExitCode> {
    use crate::top::By;
    if matches!(args.by, By::Unit) {
        return Err(crate::UsageError(
            "--by unit ranks one host's units; with --all-hosts use --by cpu or --by memory"
                .to_owned(),
        )
        .into());
    }
    let (src, from, to, _) = select::open_range(
        &args.data,
        Hosts::Any,
        DefaultRange::Last(select::DEFAULT_SPAN),
    )?;
    let spin = select::progress::spinner("adding up the processes of every host");
    let hosts = src.reader.hosts();
    // Hosts are added up a few at a time; each keeps only its names' totals.
    let usages = per_host(&hosts, |host| {
        let got = src
            .reader
            .clone()
            .with_host(host)
            .usage(host, Some(from), Some(to))
            .with_context(|| format!("cannot read stabmon data at {} (host {host})", src.shown))?;
        Ok((got.samples > 0).then(|| (host.to_owned(), got)))
    });
    spin.finish_and_clear();
    let mut per_host = Vec::new();
    let mut names = Vec::new();
    for (host, got) in usages? {
        let window = got.covered_secs;
        per_host.push(json!({"host": host, "samples": got.samples, "window_secs": window}));
        names.extend(got.names.into_iter().map(|u| (host.clone(), window, u)));
    }
    select::print_warnings(&src);
    if per_host.is_empty() {
        eprintln!("stabmon: {}", select::explain_empty(&src, from, to)?);
        return Ok(ExitCode::FAILURE);
    }
    match args.by {
        By::Cpu | By::Unit => names.sort_by(|a, b| {
            b.2.cpu_seconds
                .total_cmp(&a.2.cpu_seconds)
                .then(a.0.cmp(&b.0))
        }),
        By::Memory => names.sort_by(|a, b| {
            (b.2.peak_rss_bytes, b.2.rss_growth_bytes, &a.0).cmp(&(
                a.2.peak_rss_bytes,
                a.2.rss_growth_bytes,
                &b.0,
            ))
        }),
    }
    if args.limit > 0 {
        names.truncate(args.limit);
    }
    let avg = |cpu_s: f64, window: f64| {
        if window > 0.0 {
            cpu_s / window * 100.0
        } else {
            0.0
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "hosts": per_host,
            "by": match args.by { By::Cpu | By::Unit => "cpu", By::Memory => "memory" },
            "names": names.iter().map(|(host, window, u)| {
                with_host(crate::top::name_json(u, avg(u.cpu_seconds, *window), args.pids), host)
            }).collect::<Vec<_>>(),
        });
        return crate::table::print_json(&mut out, &doc);
    }
    let style = Style::for_stdout();
    let mut columns = crate::top::columns();
    columns.insert(1, Column::left("HOST"));
    let rows: Vec<Vec<Cell>> = names
        .iter()
        .enumerate()
        .map(|(i, (host, window, u))| {
            let mut row = crate::top::row(i + 1, u, avg(u.cpu_seconds, *window), args);
            row.insert(1, Cell::from(host.clone()));
            row
        })
        .collect();
    writeln!(
        out,
        "top processes of {} hosts by {} from {} to {} (times in {}; CPU-S: CPU seconds, a range where samples did \
         not list the name)",
        per_host.len(),
        match args.by {
            By::Cpu | By::Unit => "CPU",
            By::Memory => "memory",
        },
        table::local_time(from),
        table::local_time(to),
        table::local_zone()
    )?;
    out.write_all(table::render(&columns, &rows, &style).as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The charts of each host's section on a fleet page, and their width: the single-host report's for a few hosts;
/// beyond ten, without the load chart and narrower as hosts are added, so that a page of 100 hosts x 1 day stays
/// under 5 MB (a host's CPU and memory charts of a day cost about 220 bytes per pixel of width, their lines being
/// each pixel column's minimum and maximum). Hosts without incidents get no charts at all (stabmon-report).
fn section_charts(hosts: usize) -> (Vec<Chart>, u32) {
    match hosts {
        0..=10 => (
            vec![Chart::Cpu, Chart::Memory, Chart::Load, Chart::Latency],
            1200,
        ),
        11..=30 => (vec![Chart::Cpu, Chart::Memory, Chart::Latency], 800),
        _ => (vec![Chart::Cpu, Chart::Memory, Chart::Latency], 400),
    }
}

/// `stabmon report --all-hosts`: one page over every host, an overview ranked by incidents linking to each host's
/// section (its charts, incidents and gaps). Hosts are analysed a few at a time; each keeps only its rendered
/// section once done.
pub fn report(args: &crate::ReportArgs) -> anyhow::Result<ExitCode> {
    let (src, from, to, _) = select::open_range(
        &args.data,
        Hosts::Any,
        DefaultRange::Last(select::DEFAULT_SPAN),
    )?;
    let hosts = src.reader.hosts();
    let (charts, width) = section_charts(hosts.len());
    let base = || {
        let b = ReportBuilder::new()
            .range(from, to)
            .width_px(width)
            .charts(charts.iter().copied());
        match &args.title {
            Some(t) => b.title(t.clone()),
            None => b,
        }
    };
    let spin = select::progress::spinner("rendering every host's section");
    let sections = per_host(&hosts, |host| {
        let reader = src.reader.clone().with_host(host);
        let series = reader
            .system_series(host, Some(from), Some(to))
            .with_context(|| format!("cannot read stabmon data at {} (host {host})", src.shown))?;
        if series.is_empty() {
            return Ok(Some(HostSection::without_samples(host)));
        }
        let section = base()
            .detect_options(reader.detect_options(host))
            .build()
            .render_host_section_from(&series, &reader.windows(host))
            .with_context(|| format!("cannot make the report of {} (host {host})", src.shown))?;
        Ok(Some(section))
    });
    spin.finish_and_clear();
    select::print_warnings(&src);
    let mut sections = sections?;
    if sections.iter().all(|s| s.samples == 0) {
        eprintln!("stabmon: {}", select::explain_empty(&src, from, to)?);
        return Ok(ExitCode::FAILURE);
    }
    stabmon_report::rank_hosts(&mut sections);
    let html = base().build().render_fleet(&sections);
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("report.html"));
    crate::report::write_atomically(&output, html.as_bytes())?;
    let samples: usize = sections.iter().map(|s| s.samples).sum();
    let incidents: usize = sections.iter().map(HostSection::events).sum();
    eprintln!(
        "stabmon: wrote {} ({} KB): {} hosts, {samples} samples from {from} to {to}, {incidents} incident{} besides gaps",
        output.display(),
        html.len() / 1000,
        sections.len(),
        if incidents == 1 { "" } else { "s" }
    );
    if args.open {
        crate::report::open_in_browser(&output);
    }
    Ok(ExitCode::SUCCESS)
}

/// A host's answer in a fleet's JSON: `v` with a `"host"` key.
fn with_host(mut v: serde_json::Value, host: &str) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("host".to_owned(), json!(host));
    }
    v
}
