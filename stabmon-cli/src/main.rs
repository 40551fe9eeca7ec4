//! `stabmon`: records what a server was doing, second by second, and prints it back.
//!
//! This binary is deliberately thin glue (like ripgrep's `crates/core`): parsing flags, logging on stderr and
//! mapping errors to exit codes. Everything worth reusing lives in `stabmon-core`, `stabmon-probe` and
//! `stabmon-store`.
//!
//! Exit codes: 0 on success (and when stdout is a closed pipe), 1 when the work failed (no data to dump, a write
//! error while recording), 2 for bad input (a bad flag or value, a data directory that cannot be created or
//! written).

mod config;
mod datadir;
mod dump;
mod fleet;
mod incidents;
mod mail;
mod malloc;
mod notify;
mod record;
mod report;
mod select;
mod serve;
mod ship;
mod table;
mod top;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// stabmon pinpoints server instability: "what happened at 03:12, and which process did it?"
///
/// It samples system CPU, memory, swap, load, pressure stalls and the OOM-kill counter at a steady interval,
/// together with the processes that used the most CPU and memory (and, when asked, network latency to named targets), and stores the history as Parquet files that
/// stabmon, DuckDB, pandas or Spark can read.
#[derive(Debug, Parser)]
#[command(name = "stabmon", version, propagate_version = true, max_term_width = 100, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record samples to a data directory until Ctrl-C, SIGTERM or --duration.
    Record(RecordArgs),
    /// Print recorded samples as CSV or JSON Lines, one row per sample (or per process with --processes, per
    /// latency probe with --latency).
    Dump(DumpArgs),
    /// Write one standalone HTML report of a time range: charts whose spikes name the culprit process, gaps and
    /// why, and a table of incidents.
    Report(ReportArgs),
    /// Print the incidents the report would show (CPU surges, memory climbs, OOM kills, stalls, gaps and
    /// reboots), with the culprit process, oldest first, as a table or JSON.
    Incidents(incidents::IncidentsArgs),
    /// Rank the processes that used the most CPU or memory over a range, grouped by name with their biggest pids
    /// ("which process used the most at 03:12?": --at 03:12 --window 5m).
    Top(top::TopArgs),
    /// Mail a report of a range: a summary with the charts as images and the culprits of its incidents, and the
    /// full interactive report attached, through an SMTP relay (or to a .eml file with --dry-run).
    Mail(mail::MailArgs),
    /// Serve the live report of a recent window at / and the data directory, read-only, at /data/ (so that
    /// `stabmon report --data http://HOST:PORT/data/` works from another machine).
    Serve(serve::ServeArgs),
    /// Upload a data directory's finished segments to object storage (s3://, gs://, az://, file://) once;
    /// what is already there is not sent again.
    Ship(ship::ShipArgs),
}

/// Shown at the end of `stabmon --help`.
const EXAMPLES: &str = "Examples:\n  stabmon record --data ./data --duration 1m   record a minute to ./data\n  \
    stabmon record                               record to the default directory until Ctrl-C\n  \
    stabmon record --net auto                    also probe the gateway, the DNS resolver and the internet\n  \
    stabmon record --target gw=icmp://192.168.1.1 --target web=https://example.com/   probe these targets\n  \
    stabmon dump --data ./data                   print one CSV row per sample\n  \
    stabmon dump --data ./data --processes --format json   one JSON line per process entry\n  \
    stabmon dump --data ./data --latency         one CSV row per latency probe\n  \
    stabmon report --data ./data --from '2h ago' -o report.html   an HTML report of the last two hours\n  \
    stabmon incidents --data ./data --since 6h   what went wrong in the last six hours, and who did it\n  \
    stabmon top --data ./data --at 03:12 --window 5m   which process used the most around 03:12\n  \
    stabmon record --config /etc/stabmon.toml    record with the flags in a TOML file\n  \
    stabmon serve --data ./data                  the live report at http://127.0.0.1:8050/\n  \
    stabmon mail --since 1d --mail-to ops@example.com --smtp smtp://user@mail.example.com   mail a day's report\n  \
    stabmon record --ship s3://fleet/stabmon     record, and upload each finished segment to a bucket\n  \
    stabmon incidents --data s3://fleet/stabmon --host web-1   read from the bucket";

/// Where the data lives when neither `--data` nor `$STABMON_DATA` is given; shown in `--help`.
const DATA_DEFAULT_HELP: &str = "Default data directory: $STABMON_DATA if set; else /var/lib/stabmon for root, \
    $XDG_DATA_HOME/stabmon or ~/.local/share/stabmon for other users (macOS: ~/Library/Application \
    Support/stabmon; Windows: %LOCALAPPDATA%\\stabmon).";

#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{DATA_DEFAULT_HELP}", config::CONFIG_HELP))]
struct RecordArgs {
    /// A TOML file holding any of these flags (see below); a flag given here overrides it.
    #[arg(long, value_name = "FILE", env = "STABMON_CONFIG")]
    config: Option<PathBuf>,

    /// Directory to write the Parquet files to; created if missing, and checked for write access before sampling
    /// starts. [default: $STABMON_DATA, else a per-user or system directory: see below]
    #[arg(long, value_name = "DIR", env = "STABMON_DATA")]
    data: Option<PathBuf>,

    /// Time between samples: a duration with a unit, such as 500ms, 1s, 10s or 1m; at least 10ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval,
          allow_hyphen_values = true)]
    interval: Duration,

    /// How many processes to keep per sample in each top list (by CPU and by resident memory) and per-name totals;
    /// 1 to 1000.
    #[arg(long, value_name = "N", default_value = "10", value_parser = parse_top, allow_hyphen_values = true)]
    top: u16,

    /// The least CPU, in percent of one core, that puts a process (or a process name's total) in the by-CPU
    /// lists; 0 keeps the strict top N, idle processes included. At 1 s a process that merely woke up shows 1-2 %
    /// (CPU time comes in 10 ms clock ticks); below the floor, processes still appear by memory and in the per-name
    /// totals, and each sample records the floor as the bound of what its CPU list left out.
    #[arg(long, value_name = "PCT", default_value = "2.5", value_parser = parse_cpu_floor,
          allow_hyphen_values = true)]
    cpu_floor: f32,

    /// Stop after this long (such as 30s, 10m, 2h). [default: none: record until Ctrl-C or SIGTERM]
    #[arg(long, value_name = "DURATION", value_parser = parse_run_duration, allow_hyphen_values = true)]
    duration: Option<Duration>,

    /// Do not record process command lines (for privacy); names, pids and users are still recorded.
    #[arg(long)]
    no_cmdline: bool,

    /// The longest command line recorded, in bytes, 16 to 65536; longer ones keep their head and tail with " … "
    /// between them (the program and first options, and the last arguments such as a Java main class).
    #[arg(long, value_name = "BYTES", default_value_t = stabmon_core::attribution::DEFAULT_CMDLINE_MAX_BYTES,
          value_parser = parse_cmdline_max, allow_hyphen_values = true)]
    cmdline_max: usize,

    /// Which sampler reads the system: `auto` is the direct /proc reader on Linux and sysinfo elsewhere; `sysinfo`
    /// is the portable one, selectable on Linux too.
    #[arg(long, value_enum, default_value_t = SamplerArg::Auto)]
    sampler: SamplerArg,

    /// A network latency target to probe, NAME=URL (repeatable). URLs: `http://host[:port][/path]` and `https://...`
    /// (a HEAD request: DNS, connect, TLS, first byte and total), `tcp://host:port` (connect time), `icmp://host`
    /// (echo round trip), `dns://name` (system resolver) or `dns://name@host[:port]` (ask that DNS server).
    /// Example: `--target gw=icmp://192.168.1.1 --target web=https://example.com/favicon.ico`. [default: none: no
    /// latency is recorded]
    #[arg(long = "target", value_name = "NAME=URL", value_parser = parse_target)]
    targets: Vec<stabmon_probe::Target>,

    /// A preset of latency targets for a real machine: `auto` probes the default gateway (ICMP), the system DNS
    /// resolver and one public HTTPS host (one.one.one.one), so that a slowdown can be placed at the LAN, the
    /// resolver or beyond. It sends traffic off the machine: nothing is probed unless asked.
    #[arg(long, value_enum, value_name = "PRESET")]
    net: Option<NetPreset>,

    /// Time between two probes of each latency target. [default: the --interval]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, allow_hyphen_values = true)]
    probe_interval: Option<Duration>,

    /// How long a probe may take before it is recorded as a timeout; it may exceed the probe interval (a target
    /// is never probed twice at once).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_probe_timeout,
          allow_hyphen_values = true)]
    probe_timeout: Duration,

    /// How often the journal is fsynced: a power cut loses at most this much (a kill -9 at most the sample in
    /// flight). At the default every sample at a 1 s interval is fsynced as it is written: one small disk flush a
    /// second. Longer periods flush less and lose more on a power cut.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_sync,
          allow_hyphen_values = true)]
    sync: Duration,

    /// How long one Parquet segment covers: the journal is compacted into Parquet this often.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_rotate,
          allow_hyphen_values = true)]
    rotate: Duration,

    /// Delete segments older than this (such as 7d, 30d, 12h), or `forever`. The default of 30 days answers
    /// "since when?" for most incidents and covers monthly jobs, at a few MB a day.
    #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_retain,
          allow_hyphen_values = true)]
    retain: RetainArg,

    /// Delete the oldest segments while the data directory holds more than this: a size with a unit, GB/MB/kB
    /// (powers of 1000) or GiB/MiB/KiB (powers of 1024), such as 1GB or 500MiB. The segment being recorded is
    /// never deleted. [default: no size limit]
    #[arg(long, value_name = "SIZE", value_parser = parse_max_disk, allow_hyphen_values = true)]
    max_disk: Option<u64>,

    /// Mail and webhook: a daily digest and incident mail.
    #[command(flatten, next_help_heading = "Mail and webhook")]
    notify: notify::NotifyArgs,

    /// Upload every finished segment to object storage as well: s3://BUCKET/PREFIX, gs://..., az://... or
    /// file:///PATH (see `stabmon ship --help`). The upload runs beside sampling, never in its way; while the
    /// endpoint fails, segments wait in the data directory and are uploaded when it works again. The bucket lags
    /// the live data by up to --rotate. [default: none]
    #[arg(long, value_name = "URL", value_parser = ship::parse_ship_url)]
    ship: Option<String>,
}

/// The `--net` presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum NetPreset {
    /// The default gateway, the system DNS resolver and one public HTTPS host.
    Auto,
}

#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{DATA_DEFAULT_HELP}", select::RANGE_HELP))]
struct DumpArgs {
    #[command(flatten)]
    data: select::DataArgs,

    /// Output format: `csv` (a header line, then properly quoted rows) or `json` (JSON Lines: one object per line).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,

    /// Print one row per process entry per sample (timestamp, pid, name, CPU %, resident bytes, ranks, command
    /// line) instead of one row per sample.
    #[arg(long, conflicts_with = "latency")]
    processes: bool,

    /// Print one row per latency probe (start time, target, outcome, HTTP status, message, and the DNS, connect,
    /// TLS, first-byte and total times in milliseconds) instead of one row per sample.
    #[arg(long)]
    latency: bool,
}

#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{DATA_DEFAULT_HELP}", select::RANGE_HELP))]
pub struct ReportArgs {
    #[command(flatten)]
    data: select::DataArgs,

    /// One page over every host of the data (a fleet's bucket, or a directory with several): an overview ranked by
    /// incidents (by kind, peak CPU and memory, gaps, coverage) whose rows link to each host's section with its
    /// charts, narrower as hosts are added, and its incidents.
    #[arg(long, conflicts_with_all = ["host", "png"])]
    all_hosts: bool,

    /// Where to write the HTML file. [default: report.html, unless only --png is given]
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Also (or, without -o, only) write the charts as PNG images to this directory, created if missing:
    /// cpu.png, mem.png, load.png and lat.png (with latency data), 600 pixels wide with the culprit labels, for
    /// tickets and chat.
    #[arg(long, value_name = "DIR")]
    png: Option<PathBuf>,

    /// The page's title. [default: stabmon report: HOST]
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,

    /// Open the report in the desktop's browser once written.
    #[arg(long)]
    open: bool,
}

/// The `--sampler` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum SamplerArg {
    /// The fastest sampler for this OS: /proc on Linux, sysinfo elsewhere.
    Auto,
    /// The direct /proc reader (Linux only).
    Proc,
    /// The portable sysinfo sampler.
    Sysinfo,
}

/// The `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// JSON Lines: one JSON object per line.
    Json,
}

/// The smallest `--interval` accepted: below it a pass over every process cannot finish in time.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The largest `--top` accepted.
const MAX_TOP: u16 = 1000;

fn parse_positive_duration(s: &str, example: &str) -> Result<Duration, String> {
    // A bare number: say what is wrong with it in the user's terms.
    if let Ok(n) = s.trim().parse::<f64>() {
        return Err(if n < 0.0 {
            format!("durations cannot be negative; use a positive duration such as {example}")
        } else if n == 0.0 {
            format!("it must be more than zero; use a duration such as {example}")
        } else {
            format!(
                "a unit is missing (did you mean {}s?); use a duration such as {example}",
                s.trim()
            )
        });
    }
    let d = stabmon_core::units::parse_duration(s).map_err(|e| match e {
        stabmon_core::Error::InvalidDuration { reason, .. } => {
            format!("{reason}; use a positive duration with a unit, such as {example}")
        }
        other => format!("{other}; use a positive duration with a unit, such as {example}"),
    })?;
    if d.is_zero() {
        return Err(format!(
            "it must be more than zero; use a duration such as {example}"
        ));
    }
    Ok(d)
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s, "500ms, 1s or 10s")?;
    if d < MIN_INTERVAL {
        return Err(format!(
            "it must be at least {}ms; use a duration such as 500ms, 1s or 10s",
            MIN_INTERVAL.as_millis()
        ));
    }
    Ok(d)
}

fn parse_sync(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_positive_duration(s, "1s, 5s or 1m")
}

fn parse_rotate(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s, "1h, 30m or 1d")?;
    if d < Duration::from_secs(10) {
        return Err(format!("invalid rotation {s:?}: at least 10s"));
    }
    Ok(d)
}

/// `--retain`: an age, or `None` for forever.
#[derive(Debug, Clone, Copy)]
struct RetainArg(Option<Duration>);

fn parse_retain(s: &str) -> Result<RetainArg, String> {
    if matches!(s.trim(), "forever" | "never" | "none") {
        return Ok(RetainArg(None));
    }
    parse_positive_duration(s, "30d, 7d or 12h, or forever").map(|d| RetainArg(Some(d)))
}

fn parse_max_disk(s: &str) -> Result<u64, String> {
    stabmon_store::parse_size(s)
}

fn parse_run_duration(s: &str) -> Result<Duration, String> {
    parse_positive_duration(s, "30s, 10m or 2h")
}

fn parse_probe_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s, "500ms, 2s or 5s")?;
    if d < MIN_INTERVAL {
        return Err(format!(
            "it must be at least {}ms; use a duration such as 500ms, 2s or 5s",
            MIN_INTERVAL.as_millis()
        ));
    }
    Ok(d)
}

fn parse_target(s: &str) -> Result<stabmon_probe::Target, String> {
    stabmon_probe::Target::parse(s).map_err(|e| match e {
        stabmon_probe::Error::InvalidTarget { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// A whole number in `range`; `allowed` says what is (for the error).
fn parse_whole<T: TryFrom<i64>>(
    s: &str,
    range: std::ops::RangeInclusive<i64>,
    allowed: &str,
) -> Result<T, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => T::try_from(n).map_err(|_| allowed.to_owned()),
        Ok(_) => Err(format!("it is out of range; {allowed}")),
        Err(_) => Err(format!("it is not a whole number; {allowed}")),
    }
}

fn parse_cmdline_max(s: &str) -> Result<usize, String> {
    parse_whole(
        s,
        16..=65536,
        "use a whole number of bytes from 16 to 65536",
    )
}

/// The largest `--cpu-floor` accepted: 100 % of a thousand cores.
const MAX_CPU_FLOOR: f32 = 100_000.0;

fn parse_cpu_floor(s: &str) -> Result<f32, String> {
    let allowed =
        format!("use a percentage of one core from 0 to {MAX_CPU_FLOOR}, such as 2.5 or 0");
    let t = s.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim_end();
    match t.parse::<f32>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_CPU_FLOOR).contains(&v) => Ok(v),
        Ok(_) => Err(format!("it is out of range; {allowed}")),
        Err(_) => Err(format!("it is not a number; {allowed}")),
    }
}

fn parse_top(s: &str) -> Result<u16, String> {
    parse_whole(
        s,
        1..=i64::from(MAX_TOP),
        &format!("use a whole number from 1 to {MAX_TOP}"),
    )
}

/// Bad input from the user: reported on one line, exit status 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit status of bad input, as clap uses it.
const EXIT_USAGE: u8 = 2;

/// Renders a clap error on one line: the first line of clap's message, plus the allowed values or a hint.
fn one_line_clap_error(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let mut line = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("error: invalid arguments")
        .to_owned();
    if let Some(ContextValue::Strings(valid)) = err.get(ContextKind::ValidValue)
        && !line.contains("possible values")
        && !valid.is_empty()
    {
        line.push_str(&format!(" (allowed: {})", valid.join(", ")));
    }
    if err.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = err.get(ContextKind::InvalidArg)
    {
        line = format!("{} {}", line.trim_end_matches(':'), missing.join(", "));
    }
    match err.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => line.push_str(&format!("; did you mean '{s}'?")),
        Some(ContextValue::Strings(s)) if !s.is_empty() => {
            line.push_str(&format!("; did you mean '{}'?", s.join("' or '")));
        }
        _ => {}
    }
    if matches!(
        err.kind(),
        ErrorKind::UnknownArgument
            | ErrorKind::InvalidSubcommand
            | ErrorKind::MissingRequiredArgument
            | ErrorKind::ArgumentConflict
            | ErrorKind::TooManyValues
            | ErrorKind::WrongNumberOfValues
            | ErrorKind::NoEquals
            | ErrorKind::MissingSubcommand
    ) {
        line.push_str("; see 'stabmon --help' for the commands and flags allowed");
    }
    line
}

/// True when `err` (or anything in its chain) is a broken pipe: the reader of stdout went away, which is success
/// (`stabmon dump | head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, skipping a cause whose text is already shown (library errors often
/// repeat their source in their own message).
fn one_line_error(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    // Paths and names in it are anyone's choice: no control character reaches the terminal.
    table::printable(msg.replace(['\n', '\r'], " "))
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => match err.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
            _ => {
                eprintln!("stabmon: {}", one_line_clap_error(&err));
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    // `record --config FILE`: the file fills in the flags not given explicitly.
    if let (Command::Record(args), Some(("record", sub))) = (&mut cli.command, matches.subcommand())
        && let Err(err) = config::apply(args, sub)
    {
        let _ = writeln!(io::stderr(), "stabmon: error: {err}");
        return ExitCode::from(EXIT_USAGE);
    }
    // The commands that hold a range's columns at once: big blocks go back to the system when freed. (`top`
    // aggregates as it streams and keeps its row buffers for reuse instead: see top.rs.)
    if matches!(
        cli.command,
        Command::Report(_) | Command::Incidents(_) | Command::Serve(_) | Command::Mail(_)
    ) {
        malloc::for_reading();
    }
    if matches!(cli.command, Command::Serve(_)) {
        malloc::for_serving();
    }
    let result = match cli.command {
        Command::Record(args) => record::run(&args),
        Command::Dump(args) => dump::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Incidents(args) => incidents::run(&args),
        Command::Top(args) => top::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Mail(args) => mail::run(&args),
        Command::Ship(args) => ship::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(io::stderr(), "stabmon: error: {}", one_line_error(&err));
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn interval_bounds() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("10ms"), Ok(MIN_INTERVAL));
        for bad in ["0", "0s", "-1", "-1s", "abc", "5ms", ""] {
            assert!(parse_interval(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn errors_print_on_one_line_without_repeats() {
        let io = io::Error::new(io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::new(io)
            .context("reading x: gone")
            .context("dump failed");
        assert_eq!(one_line_error(&err), "dump failed: reading x: gone");
        let err = anyhow::anyhow!("two\nlines");
        assert_eq!(one_line_error(&err), "two lines");
    }

    #[test]
    fn targets_parse_or_name_the_problem() {
        assert_eq!(
            parse_target("gw=icmp://192.168.1.1").map(|t| t.name().to_owned()),
            Ok("gw".to_owned())
        );
        let err = parse_target("x=ftp://h").err().unwrap_or_default();
        assert!(err.contains("unknown scheme"), "{err}");
        assert!(parse_probe_timeout("0s").is_err());
        assert_eq!(parse_probe_timeout("2s"), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn top_bounds() {
        assert_eq!(parse_top("1"), Ok(1));
        assert_eq!(parse_top("1000"), Ok(1000));
        for bad in ["0", "-1", "1001", "ten", "1.5", "99999999999999999999"] {
            let err = parse_top(bad).err().unwrap_or_default();
            assert!(err.contains("1 to 1000"), "{bad:?}: {err}");
        }
    }
}
