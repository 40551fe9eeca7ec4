//! `stabmon incidents`: the incidents the report would show, as a table or JSON.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use stabmon_core::analysis::{GapKind, Incident, IncidentKind, detect_incidents_in};
use stabmon_core::{Timestamp, human};
use stabmon_store::SeriesRead;

use crate::select::{self, DataArgs, OneHost};
use crate::table::{self, Cell, Column, Style};

/// The JSON document, documented in `stabmon incidents --help`.
const JSON_HELP: &str = "JSON (--json): one object, {\"host\", \"from\", \"to\", \"samples\", \"incidents\": [...]}, \
    incidents oldest first, each {\"kind\": cpu_surge|memory_climb|swap_growth|oom_kill|pressure_stall|gap|\
    latency_spike|latency_outage|runaway, \
    \"gap_kind\": stopped_cleanly|died|rebooted|unreadable|null, \"start\", \"end\", \"peak\" (RFC 3339 UTC), \
    \"duration_secs\", \"magnitude\", \"magnitude_unit\" (percent for CPU surges and pressure stalls, bytes for \
    memory climbs and swap growth, kills, seconds for gaps, milliseconds for latency spikes, percent loss for \
    latency outages, percent_of_core for runaways: the culprit's mean CPU), \"summary\", \"target\" (the latency \
    target, else null), \"culprit\": null or {\"name\", \"pid\" \
    (null for a name total), \"cmdline\", \"process_count\", \"cpu_pct\", \"rss_growth_bytes\", \"rss_bytes\", \
    \"exited_count\" (processes of a name total that exited within the incident, 0 where exits are not recorded), \
    \"anon_rss_bytes\" (an OOM victim the kernel named), \"cgroup\", \"unit\" (systemd unit or container, else \
    null), \"guessed\" (true for an OOM victim guessed from the memory that vanished)}}. \
    Fields are only ever added.";

#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{JSON_HELP}\n\n{}", select::RANGE_HELP, crate::DATA_DEFAULT_HELP))]
pub struct IncidentsArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Print JSON (documented below) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Every host of the data in one table, with a host column (JSON: a "host" in each incident, and "hosts" with
    /// each host's samples and incident count instead of "host" and "samples").
    #[arg(long, conflicts_with = "host")]
    pub all_hosts: bool,
}

pub fn run(args: &IncidentsArgs) -> anyhow::Result<ExitCode> {
    if args.all_hosts {
        return crate::fleet::incidents(&args.data, args.json);
    }
    let Some(read) = select::read_one_host(&args.data, SeriesRead::Detection)? else {
        return Ok(ExitCode::FAILURE);
    };
    let OneHost {
        src, host, series, ..
    } = &read;
    let opts = src.reader.detect_options(host);
    let spin = select::progress::spinner("finding incidents");
    // Culprits are named from whole samples read only inside each incident's window.
    let incidents = detect_incidents_in(series, &src.reader.windows(host), &opts)
        .with_context(|| format!("cannot read stabmon data at {}", src.shown));
    spin.finish_and_clear();
    let mut incidents = incidents?;
    select::print_warnings(src);
    incidents.sort_by(|a, b| a.start.cmp(&b.start).then(a.peak.cmp(&b.peak)));

    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = json!({
            "host": host,
            "from": read.from.to_string(),
            "to": read.to.to_string(),
            "samples": series.len(),
            "incidents": incidents.iter().map(incident_json).collect::<Vec<_>>(),
        });
        return crate::table::print_json(&mut out, &doc);
    }
    let style = Style::for_stdout();
    // The host's name comes from the data's directory names: no control character reaches the terminal.
    let host = table::printable(host.to_owned());
    if incidents.is_empty() {
        writeln!(
            out,
            "no incidents for {host} from {} to {} ({} samples)",
            table::local_time(read.from),
            table::local_time(read.to),
            series.len()
        )?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let columns = columns();
    let rows: Vec<Vec<Cell>> = incidents.iter().map(row).collect();
    writeln!(
        out,
        "{} incident{} for {host} from {} to {} ({} samples; times in {})",
        incidents.len(),
        if incidents.len() == 1 { "" } else { "s" },
        table::local_time(read.from),
        table::local_time(read.to),
        series.len(),
        table::local_zone()
    )?;
    out.write_all(table::render(&columns, &rows, &style).as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The table's columns, one [`row`] per incident.
pub fn columns() -> Vec<Column> {
    vec![
        Column::left("START"),
        Column::right("DURATION"),
        Column::left("KIND"),
        Column::text_min("CULPRIT", 20),
        Column::text("WHAT"),
        Column::text("COMMAND"),
    ]
}

/// One incident as a table row.
pub fn row(i: &Incident) -> Vec<Cell> {
    let kind = match i.kind {
        IncidentKind::Gap(g) => match g {
            GapKind::StoppedCleanly => "gap: stopped".to_owned(),
            GapKind::Died => "gap: died".to_owned(),
            GapKind::Rebooted => "gap: rebooted".to_owned(),
            GapKind::Unreadable => "gap: unreadable".to_owned(),
            _ => "gap".to_owned(),
        },
        k => match &i.target {
            Some(t) => format!("{} ({t})", k.name()),
            None => k.name().to_owned(),
        },
    };
    vec![
        Cell::from(table::local_time(i.start)),
        Cell::from(human::duration(i.duration())),
        table::painted(kind, Style::red),
        table::painted(
            match (&i.culprit, i.kind) {
                // In the kernel's terms: `OOM killed java (pid 812), 6.3 GB anon RSS, cgroup /...`.
                (Some(_), IncidentKind::OomKill) => i.label(),
                (Some(c), _) => c.label(),
                (None, _) => String::new(),
            },
            Style::yellow,
        ),
        Cell::from(i.summary.clone()),
        Cell::from(
            i.culprit
                .as_ref()
                .and_then(|c| c.cmdline.clone())
                .unwrap_or_default(),
        ),
    ]
}

fn ts(t: Timestamp) -> Value {
    Value::String(t.to_string())
}

/// One incident as the documented JSON object.
pub fn incident_json(i: &Incident) -> Value {
    let (kind, gap_kind, unit) = match i.kind {
        IncidentKind::CpuSurge => ("cpu_surge", None, "percent"),
        IncidentKind::MemoryClimb => ("memory_climb", None, "bytes"),
        IncidentKind::SwapGrowth => ("swap_growth", None, "bytes"),
        IncidentKind::OomKill => ("oom_kill", None, "kills"),
        IncidentKind::PressureStall => ("pressure_stall", None, "percent"),
        IncidentKind::Gap(g) => (
            "gap",
            Some(match g {
                GapKind::StoppedCleanly => "stopped_cleanly",
                GapKind::Died => "died",
                GapKind::Rebooted => "rebooted",
                GapKind::Unreadable => "unreadable",
                _ => "unknown",
            }),
            "seconds",
        ),
        IncidentKind::LatencySpike => ("latency_spike", None, "milliseconds"),
        IncidentKind::LatencyOutage => ("latency_outage", None, "percent"),
        IncidentKind::Runaway => ("runaway", None, "percent_of_core"),
        // Kinds added later: their name in snake case.
        k => (k.name(), None, "unknown"),
    };
    let kind = kind.to_lowercase().replace(' ', "_");
    let culprit = i.culprit.as_ref().map(|c| {
        json!({
            "name": c.name,
            "pid": c.pid,
            "cmdline": c.cmdline,
            "process_count": c.process_count,
            "cpu_pct": c.cpu_pct,
            "rss_growth_bytes": c.rss_growth_bytes,
            "rss_bytes": c.rss_bytes,
            "exited_count": c.exited_count,
            "anon_rss_bytes": c.anon_rss_bytes,
            "cgroup": c.cgroup,
            "unit": c.unit,
            "guessed": c.guessed,
        })
    });
    json!({
        "kind": kind,
        "gap_kind": gap_kind,
        "start": ts(i.start),
        "end": ts(i.end),
        "peak": ts(i.peak),
        "duration_secs": i.duration().as_secs_f64(),
        "magnitude": i.magnitude,
        "magnitude_unit": unit,
        "summary": i.summary,
        "target": i.target,
        "culprit": culprit,
    })
}
