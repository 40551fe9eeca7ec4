//! `stabmon top`: the processes that used the most CPU or memory over a window, grouped by name (or by systemd
//! unit or container with `--by unit`).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use stabmon_core::analysis::{NameUsage, PidUsage, UnitUsage, UnitUsageAcc, rank_by_memory};
use stabmon_core::{Timestamp, human};
use stabmon_store::DefaultRange;

use crate::select::{self, DataArgs, Hosts};
use crate::table::{self, Cell, Column, Style};

/// The JSON document, documented in `stabmon top --help`.
const JSON_HELP: &str = "JSON (--json): one object, {\"host\", \"from\", \"to\" (RFC 3339 UTC), \"samples\", \
    \"window_secs\" (the time the samples cover), \"by\": cpu|memory, \"names\": [...]}, ranked, each {\"name\", \
    \"cpu_seconds\" (a lower bound: the samples where the name is listed), \"cpu_seconds_max\" (an upper bound \
    between its first and last appearance: absent samples counted at the list's bound, its N-th value or the CPU \
    floor), \
    \"avg_cpu_pct\" (cpu_seconds over the window, in percent of one core), \"peak_rss_bytes\", \
    \"rss_growth_bytes\" (the largest rise from a low to a later high), \"max_process_count\", \"samples_listed\", \
    \"pids\": [{\"pid\", \"start_time\", \"cmdline\", \"cpu_seconds\", \"peak_rss_bytes\", \"rss_growth_bytes\", \
    \"first_seen\", \"last_seen\", \"samples_listed\"}] (biggest first, at most --pids)}. With --by unit, \
    \"by\": unit and \"units\": [...] instead of \"names\", each {\"unit\" (the systemd unit or container, else the \
    cgroup path, null where no cgroup was recorded), \"cpu_seconds\" (of its listed processes: a lower bound), \
    \"avg_cpu_pct\", \"peak_rss_bytes\", \"max_process_count\", \"samples_listed\", \"names\": [{\"name\", \
    \"cpu_seconds\"}]}. Fields are only ever added.";

/// What `top` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// CPU seconds used over the window.
    Cpu,
    /// Peak resident memory (then its growth).
    Memory,
    /// Group by systemd unit or container (Linux cgroups) instead of by name, ranked by CPU seconds.
    Unit,
}

#[derive(Debug, Args)]
#[command(after_help = format!("Example: stabmon top --at 03:12 --window 5m   which process used the most around 03:12\n\n{}\n\n{JSON_HELP}\n\n{}", select::RANGE_HELP, crate::DATA_DEFAULT_HELP))]
pub struct TopArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Rank by CPU seconds used, or by peak resident memory.
    #[arg(long, value_enum, default_value_t = By::Cpu)]
    pub by: By,

    /// How many process names to show; 0 shows all.
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub limit: usize,

    /// How many of each name's biggest pids to list.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub pids: usize,

    /// Print JSON (documented below) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Rank the processes of every host of the data together, with a host column (JSON: a "host" in each name,
    /// and "hosts" with each host's samples and window instead of "host", "samples" and "window_secs").
    #[arg(long, conflicts_with = "host")]
    pub all_hosts: bool,
}

pub fn run(args: &TopArgs) -> anyhow::Result<ExitCode> {
    if args.all_hosts {
        return crate::fleet::top(args);
    }
    let (src, from, to, _) = select::open_range(
        &args.data,
        Hosts::One,
        DefaultRange::Last(select::DEFAULT_SPAN),
    )?;
    // Aggregated from the tables' columns row group by row group: memory grows with the names and processes,
    // not the samples.
    let Some(host) = src.host.clone() else {
        eprintln!("stabmon: {}", select::explain_empty(&src, from, to)?);
        return Ok(ExitCode::FAILURE);
    };
    if args.by == By::Unit {
        return run_by_unit(args, &src, &host, from, to);
    }
    // Row groups decode on threads of their own: with glibc's default thresholds the buffers they free go back
    // to the system and return as fresh pages to zero for the next row group (a tenth of the CPU time of a
    // month). Kept for reuse instead: a month's ranking stays near 64 MiB. A refusal costs time, not correctness.
    let _ = crate::malloc::fixed_thresholds(32 << 20, 64 << 20);
    let spin = select::progress::spinner("adding up the processes");
    let got = src
        .reader
        .usage(&host, Some(from), Some(to))
        .with_context(|| format!("cannot read stabmon data at {}", src.shown));
    spin.finish_and_clear();
    let got = got?;
    select::print_warnings(&src);
    let mut usage = got.names;
    if args.by == By::Memory {
        rank_by_memory(&mut usage);
    }
    let by = match args.by {
        By::Cpu | By::Unit => "CPU",
        By::Memory => "memory",
    };
    let layout = Layout {
        by: by.to_ascii_lowercase(),
        key: "names",
        title: table::printable(format!("top processes of {host} by {by}")),
        note: "CPU-S: CPU seconds, a range where samples did not list the name",
        columns: columns(),
    };
    let head = Head {
        host: &host,
        from,
        to,
        samples: got.samples,
        window_secs: got.covered_secs,
    };
    print_ranking(args, &src, &head, &layout, usage)
}

/// The range a ranking covers: its host, ends, samples and covered time.
struct Head<'a> {
    host: &'a str,
    from: Timestamp,
    to: Timestamp,
    samples: u64,
    window_secs: f64,
}

/// How a ranking prints: what it ranks by (JSON `by`), the JSON key of its list, the table's title and a note on
/// its columns, and the columns.
struct Layout {
    by: String,
    key: &'static str,
    title: String,
    note: &'static str,
    columns: Vec<Column>,
}

/// One entry of a ranking (a name, a unit), as a table row and as JSON, given its mean CPU over the window.
trait Ranked {
    fn cpu_seconds(&self) -> f64;
    fn json(&self, avg_cpu_pct: f64, args: &TopArgs) -> Value;
    fn row(&self, rank: usize, avg_cpu_pct: f64, args: &TopArgs) -> Vec<Cell>;
}

impl Ranked for NameUsage {
    fn cpu_seconds(&self) -> f64 {
        self.cpu_seconds
    }
    fn json(&self, avg_cpu_pct: f64, args: &TopArgs) -> Value {
        name_json(self, avg_cpu_pct, args.pids)
    }
    fn row(&self, rank: usize, avg_cpu_pct: f64, args: &TopArgs) -> Vec<Cell> {
        row(rank, self, avg_cpu_pct, args)
    }
}

/// Prints a ranking (best first) as JSON or a table, at most `--limit` entries; a range without samples is
/// explained on stderr and fails.
fn print_ranking<T: Ranked>(
    args: &TopArgs,
    src: &select::Source,
    head: &Head<'_>,
    layout: &Layout,
    mut list: Vec<T>,
) -> anyhow::Result<ExitCode> {
    if head.samples == 0 {
        eprintln!(
            "stabmon: {}",
            select::explain_empty(src, head.from, head.to)?
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.limit > 0 {
        list.truncate(args.limit);
    }
    let avg_pct = |u: &T| avg_cpu_pct(u.cpu_seconds(), head.window_secs);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let list: Vec<Value> = list.iter().map(|u| u.json(avg_pct(u), args)).collect();
        let doc = (
            head.host,
            head.from,
            head.to,
            head.samples,
            head.window_secs,
        );
        return table::print_json(&mut out, &document(doc, &layout.by, layout.key, list));
    }
    let rows: Vec<Vec<Cell>> = list
        .iter()
        .enumerate()
        .map(|(i, u)| u.row(i + 1, avg_pct(u), args))
        .collect();
    writeln!(
        out,
        "{} from {} to {} ({} samples; times in {}; {})",
        layout.title,
        table::local_time(head.from),
        table::local_time(head.to),
        head.samples,
        table::local_zone(),
        layout.note
    )?;
    out.write_all(table::render(&layout.columns, &rows, &Style::for_stdout()).as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds over the window, in percent of one core.
fn avg_cpu_pct(cpu_s: f64, window_secs: f64) -> f64 {
    if window_secs > 0.0 {
        cpu_s / window_secs * 100.0
    } else {
        0.0
    }
}

/// The JSON document: the range's host, ends, samples and covered time, what it ranks by, and the ranked `list`
/// under `key`.
fn document(
    (host, from, to, samples, window_secs): (&str, Timestamp, Timestamp, u64, f64),
    by: &str,
    key: &str,
    list: Vec<Value>,
) -> Value {
    let mut doc = json!({
        "host": host,
        "from": from.to_string(),
        "to": to.to_string(),
        "samples": samples,
        "window_secs": window_secs,
        "by": by,
    });
    doc[key] = Value::Array(list);
    doc
}

/// The table's columns, one [`row`] per name.
pub fn columns() -> Vec<Column> {
    vec![
        Column::right("#"),
        Column::text("NAME"),
        Column::right("CPU-S"),
        Column::right("AVG CPU"),
        Column::right("PEAK RSS"),
        Column::right("RSS GROWTH"),
        Column::right("PROCS"),
        Column::text("BIGGEST PIDS"),
        Column::text("COMMAND"),
    ]
}

/// One name's row: its rank, and its mean CPU over the window.
pub fn row(rank: usize, u: &NameUsage, avg_pct: f64, args: &TopArgs) -> Vec<Cell> {
    let cpu = if u.cpu_seconds_max > u.cpu_seconds + 0.5 {
        format!("{:.0}-{:.0}", u.cpu_seconds, u.cpu_seconds_max)
    } else {
        format!("{:.0}", u.cpu_seconds)
    };
    let pids: Vec<String> = u
        .pids
        .iter()
        .take(args.pids)
        .map(|p| match args.by {
            By::Cpu | By::Unit => format!("{} ({:.0}s)", p.pid, p.cpu_seconds),
            By::Memory => format!("{} ({})", p.pid, human::bytes(p.peak_rss_bytes)),
        })
        .collect();
    let cmd = u
        .pids
        .first()
        .and_then(|p| p.cmdline.clone())
        .unwrap_or_default();
    vec![
        Cell::from(rank.to_string()),
        table::painted(u.name.clone(), Style::bold),
        Cell::from(cpu),
        Cell::from(human::pct(avg_pct)),
        Cell::from(human::bytes(u.peak_rss_bytes)),
        Cell::from(human::bytes(u.rss_growth_bytes)),
        Cell::from(u.max_process_count.to_string()),
        Cell::from(pids.join(", ")),
        table::painted(cmd, Style::dim),
    ]
}

pub fn name_json(u: &NameUsage, avg_cpu_pct: f64, pids: usize) -> Value {
    json!({
        "name": u.name,
        "cpu_seconds": u.cpu_seconds,
        "cpu_seconds_max": u.cpu_seconds_max,
        "avg_cpu_pct": avg_cpu_pct,
        "peak_rss_bytes": u.peak_rss_bytes,
        "rss_growth_bytes": u.rss_growth_bytes,
        "max_process_count": u.max_process_count,
        "samples_listed": u.samples_listed,
        "pids": u.pids.iter().take(pids).map(pid_json).collect::<Vec<_>>(),
    })
}

fn pid_json(p: &PidUsage) -> Value {
    json!({
        "pid": p.pid,
        "start_time": p.start_time.to_string(),
        "cmdline": p.cmdline,
        "cpu_seconds": p.cpu_seconds,
        "peak_rss_bytes": p.peak_rss_bytes,
        "rss_growth_bytes": p.rss_growth_bytes,
        "first_seen": p.first_seen.to_string(),
        "last_seen": p.last_seen.to_string(),
        "samples_listed": p.samples_listed,
    })
}

/// `--by unit`: whole samples streamed over the range, their listed processes added up per unit.
fn run_by_unit(
    args: &TopArgs,
    src: &select::Source,
    host: &str,
    from: Timestamp,
    to: Timestamp,
) -> anyhow::Result<ExitCode> {
    let spin = select::progress::spinner("adding up the processes by unit");
    let reader = src.reader.clone().with_host(host);
    let mut acc = UnitUsageAcc::default();
    let (mut samples, mut window_secs) = (0u64, 0.0f64);
    let summed = (|| -> Result<(), stabmon_store::Error> {
        for s in reader.stream(Some(from), Some(to))? {
            let s = s?;
            samples += 1;
            window_secs += s.interval.as_secs_f64();
            acc.push(&s);
        }
        Ok(())
    })()
    .with_context(|| format!("cannot read stabmon data at {}", src.shown));
    spin.finish_and_clear();
    summed?;
    select::print_warnings(src);
    let mut columns = vec![Column::right("#"), Column::text("UNIT")];
    columns.extend(["CPU-S", "AVG CPU", "PEAK RSS", "PROCS"].map(Column::right));
    columns.push(Column::text("BUSIEST NAMES"));
    let layout = Layout {
        by: "unit".to_owned(),
        key: "units",
        title: table::printable(format!("top units of {host} by CPU")),
        note: "the listed processes of each systemd unit or container, else cgroup; -: no cgroup recorded",
        columns,
    };
    let head = Head {
        host,
        from,
        to,
        samples,
        window_secs,
    };
    print_ranking(args, src, &head, &layout, acc.finish())
}

impl Ranked for UnitUsage {
    fn cpu_seconds(&self) -> f64 {
        self.cpu_seconds
    }
    fn json(&self, avg_cpu_pct: f64, args: &TopArgs) -> Value {
        let names = self.names.iter().take(args.pids.max(1));
        json!({
            "unit": self.unit,
            "cpu_seconds": self.cpu_seconds,
            "avg_cpu_pct": avg_cpu_pct,
            "peak_rss_bytes": self.peak_rss_bytes,
            "max_process_count": self.max_process_count,
            "samples_listed": self.samples_listed,
            "names": names.map(|(n, c)| json!({"name": n, "cpu_seconds": c})).collect::<Vec<_>>(),
        })
    }
    fn row(&self, rank: usize, avg_cpu_pct: f64, args: &TopArgs) -> Vec<Cell> {
        let names: Vec<String> = self
            .names
            .iter()
            .take(args.pids.max(1))
            .map(|(n, c)| format!("{n} ({c:.0}s)"))
            .collect();
        let unit = self.unit.clone().unwrap_or_else(|| "-".to_owned());
        vec![
            Cell::from(rank.to_string()),
            table::painted(unit, Style::bold),
            Cell::from(format!("{:.0}", self.cpu_seconds)),
            Cell::from(human::pct(avg_cpu_pct)),
            Cell::from(human::bytes(self.peak_rss_bytes)),
            Cell::from(self.max_process_count.to_string()),
            Cell::from(names.join(", ")),
        ]
    }
}
