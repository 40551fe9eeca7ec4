//! `stabmon report`: one standalone HTML page of a time range, with culprit-labelled spikes (stabmon-report).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use stabmon_core::Timestamp;
use stabmon_report::ReportBuilder;
use stabmon_store::StoreReader;

use crate::{ReportArgs, UsageError, datadir};

/// The range shown when neither `--from` nor `--to` says otherwise: the last day of data.
const DEFAULT_SPAN: Duration = Duration::from_secs(24 * 3600);

const TIME_FORMS: &str = "use RFC 3339 (2026-11-25T03:12:00Z), a local date-time (2026-11-25 03:12, in this \
    machine's time zone), a local time today (03:12), or a relative time (2h ago, 30m ago, yesterday, today, now)";

/// Parses a `--from`/`--to` time relative to `now` (local date-times are in `now`'s time zone).
pub fn parse_time(input: &str, now: &jiff::Zoned) -> Result<Timestamp, String> {
    let s = input.trim();
    let lower = s.to_ascii_lowercase();
    let bad = || format!("cannot read the time {input:?}: {TIME_FORMS}");
    let ts = |t: jiff::Timestamp| Timestamp::from_unix_micros(t.as_microsecond());
    let midnight = |days_back: i64| -> Result<Timestamp, String> {
        let day = now
            .date()
            .checked_sub(jiff::Span::new().days(days_back))
            .map_err(|_| bad())?;
        day.to_zoned(now.time_zone().clone())
            .map(|z| ts(z.timestamp()))
            .map_err(|_| bad())
    };
    match lower.as_str() {
        "" => return Err(bad()),
        "now" => return Ok(ts(now.timestamp())),
        "today" => return midnight(0),
        "yesterday" => return midnight(1),
        _ => {}
    }
    if let Some(ago) = lower.strip_suffix("ago") {
        let d = stabmon_core::units::parse_duration(ago.trim()).map_err(|_| bad())?;
        return Ok(ts(now.timestamp()).saturating_sub(d));
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(ts(t));
    }
    let tz = now.time_zone().clone();
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(tz)
            .map(|z| ts(z.timestamp()))
            .map_err(|_| bad());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d.to_zoned(tz).map(|z| ts(z.timestamp())).map_err(|_| bad());
    }
    if let Ok(t) = s.parse::<jiff::civil::Time>() {
        return now
            .date()
            .to_datetime(t)
            .to_zoned(tz)
            .map(|z| ts(z.timestamp()))
            .map_err(|_| bad());
    }
    Err(bad())
}

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let now = jiff::Zoned::now();
    let from = args
        .from
        .as_deref()
        .map(|s| parse_time(s, &now))
        .transpose()
        .map_err(|e| UsageError(format!("--from: {e}")))?;
    let to = args
        .to
        .as_deref()
        .map(|s| parse_time(s, &now))
        .transpose()
        .map_err(|e| UsageError(format!("--to: {e}")))?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(UsageError(format!("--from ({f}) must be before --to ({t})")).into());
    }

    let path = datadir::resolve(args.data.as_deref())?;
    if !path.exists() {
        bail!(
            "no data at {}: it does not exist (record some with 'stabmon record --data {}')",
            path.display(),
            path.display()
        );
    }
    let mut reader = StoreReader::open(&path)
        .with_context(|| format!("cannot read stabmon data at {}", path.display()))?;
    let hosts = reader.hosts();
    let host = match (&args.host, hosts.as_slice()) {
        (Some(h), _) if hosts.contains(h) => h.clone(),
        (Some(h), []) => h.clone(),
        (Some(h), _) => {
            return Err(UsageError(format!(
                "no data for host {h:?} at {} (hosts there: {})",
                path.display(),
                hosts.join(", ")
            ))
            .into());
        }
        (None, [one]) => one.clone(),
        (None, []) => bail!(
            "no samples found at {} (record some with 'stabmon record --data {}')",
            path.display(),
            path.display()
        ),
        (None, many) => {
            return Err(UsageError(format!(
                "the data at {} has several hosts ({}); choose one with --host",
                path.display(),
                many.join(", ")
            ))
            .into());
        }
    };
    reader = reader.with_host(host.clone());
    let read = |f: Option<Timestamp>, t: Option<Timestamp>| {
        reader
            .samples(f, t)
            .with_context(|| format!("cannot read stabmon data at {}", path.display()))
    };

    // The range: as given; a missing end is the end of the data (or --from + 24 h); a missing start is 24 h
    // before the end.
    let (samples, from, to) = match (from, to) {
        (Some(f), Some(t)) => (read(Some(f), Some(t))?, f, t),
        (Some(f), None) => {
            let s = read(Some(f), None)?;
            let end = s
                .last()
                .map_or(f.saturating_add(DEFAULT_SPAN), |l| after(l.ts));
            (s, f, end)
        }
        (None, Some(t)) => {
            let f = t.saturating_sub(DEFAULT_SPAN);
            (read(Some(f), Some(t))?, f, t)
        }
        (None, None) => {
            // Usually the recorder runs now: read the last day; otherwise fall back to the whole store.
            let nowts = Timestamp::from_unix_micros(now.timestamp().as_microsecond());
            let mut s = read(Some(nowts.saturating_sub(DEFAULT_SPAN)), None)?;
            if s.is_empty() {
                s = read(None, None)?;
            }
            let end = s.last().map_or(nowts, |l| after(l.ts));
            let start = end.saturating_sub(DEFAULT_SPAN);
            let keep = s.partition_point(|x| x.ts < start);
            s.drain(..keep);
            (s, start, end)
        }
    };
    if samples.is_empty() {
        let all = read(None, None)?;
        let covers = match (all.first(), all.last()) {
            (Some(a), Some(b)) => format!("the data for {host} covers {} to {}", a.ts, b.ts),
            _ => format!("there is no data for {host}"),
        };
        eprintln!(
            "stabmon: no samples from {from} to {to} at {} ({covers})",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    }

    // Clean-stop markers tell a recorder that was stopped from one that died.
    let detect =
        stabmon_report::DetectOptions::default().clean_stops(reader.clean_stops(Some(&host)));
    let mut builder = ReportBuilder::new().range(from, to).detect_options(detect);
    if let Some(title) = &args.title {
        builder = builder.title(title.clone());
    }
    let (html, summary) = builder
        .build()
        .render(&samples)
        .with_context(|| format!("cannot make the report of {}", path.display()))?;
    write_atomically(&args.output, html.as_bytes())?;
    let _ = writeln!(
        io::stderr(),
        "stabmon: wrote {} ({} KB): {} samples of {host} from {} to {}, {} incident{}",
        args.output.display(),
        summary.bytes / 1000,
        summary.samples,
        summary.from,
        summary.to,
        summary.incidents.len(),
        if summary.incidents.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    if args.open {
        open_in_browser(&args.output);
    }
    Ok(ExitCode::SUCCESS)
}

/// Just after `ts`, so that a range ending there includes it.
fn after(ts: Timestamp) -> Timestamp {
    ts.saturating_add(Duration::from_micros(1))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: never a half-written report.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(UsageError(format!(
            "cannot write the report to {}: {e}",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// Opens the report with the desktop's browser; a failure is a warning, the report is written.
fn open_in_browser(path: &Path) {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut cmd = std::process::Command::new("xdg-open");
    let spawned = cmd
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!(
            "stabmon: could not open {} in a browser ({e}); open it yourself",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Zoned {
        // 2026-11-25T03:12:00+01:00[Europe/Berlin] as a fixed offset, so the test needs no time zone database.
        "2026-11-25T03:12:00+01:00[+01:00]"
            .parse()
            .unwrap_or_else(|_| jiff::Zoned::now())
    }

    fn secs(s: &str) -> Option<i64> {
        parse_time(s, &now()).ok().map(Timestamp::as_unix_secs)
    }

    #[test]
    fn times_in_every_form() {
        let t = 1_795_576_320 - 3600; // 03:12 at +01:00
        assert_eq!(secs("2026-11-25T02:12:00Z"), Some(t));
        assert_eq!(secs("2026-11-25T03:12:00+01:00"), Some(t));
        assert_eq!(secs("2026-11-25 03:12"), Some(t));
        assert_eq!(secs("2026-11-25T03:12:00"), Some(t));
        assert_eq!(secs("2026-11-25"), Some(t - 3 * 3600 - 12 * 60));
        assert_eq!(secs("03:12"), Some(t));
        assert_eq!(secs("now"), Some(t));
        assert_eq!(secs("2h ago"), Some(t - 7200));
        assert_eq!(secs("30m ago"), Some(t - 1800));
        assert_eq!(secs("1h30m ago"), Some(t - 5400));
        assert_eq!(secs("today"), Some(t - 3 * 3600 - 12 * 60));
        assert_eq!(secs("Yesterday"), Some(t - 3 * 3600 - 12 * 60 - 86_400));
    }

    #[test]
    fn bad_times_name_the_input_and_the_forms() {
        for bad in [
            "",
            "soon",
            "2h",
            "ago",
            "-2h ago",
            "2026-13-01",
            "25/11/2026",
        ] {
            let err = parse_time(bad, &now()).err().unwrap_or_default();
            assert!(
                err.contains(&format!("{bad:?}")) && err.contains("RFC 3339"),
                "{bad:?}: {err}"
            );
        }
    }
}
