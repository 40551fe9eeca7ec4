//! One way to choose data for every reading command (`dump`, `report`, `incidents`, `top`): where it is
//! (`--data`, `--token`), which host (`--host`) and which range (`--from/--to`, `--since`, `--at/--window`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use stabmon_core::{Sample, Timestamp};
use stabmon_store::StoreReader;

use crate::{UsageError, datadir};

/// The span read when no range flag says otherwise (report, incidents, top): the last day of data.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(24 * 3600);

/// The window around `--at` when `--window` is not given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(600);

/// Shown under the flag group in `--help`.
pub const RANGE_HELP: &str = "Choosing data: --data DIR|FILE|URL, --host H, and at most one range: --from T --to T, \
    --since D (the last D, counted back from now), or --at T --window D (centred on T). Times: RFC 3339 \
    (2026-11-25T03:12:00Z), a local date-time (2026-11-25 03:12, in this machine's time zone), a local time today \
    (03:12), or a relative time (2h ago, yesterday, today, now). report, incidents and top read one host: with data \
    of several hosts, --host is required (the error lists them); dump prints every host without it.";

/// The data flags shared by every reading command.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Data directory written by `stabmon record`, a single Parquet file from it, or the http(s) URL of a data
    /// directory served over HTTP (such as `stabmon serve`'s /data/). [default: $STABMON_DATA, else a per-user or
    /// system directory: see below]
    #[arg(long, value_name = "DIR|FILE|URL", env = "STABMON_DATA")]
    pub data: Option<PathBuf>,

    /// The host to read, when the data holds several (report, incidents and top need exactly one).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Start of the range (see the time forms below). [default: 24 hours before the end; dump: the start of the
    /// data]
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, conflicts_with_all = ["since", "at"])]
    pub from: Option<String>,

    /// End of the range, in the same forms as --from. [default: the end of the data]
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, conflicts_with_all = ["since", "at"])]
    pub to: Option<String>,

    /// The last DURATION up to now, such as 30m, 2h or 1d.
    #[arg(long, value_name = "DURATION", value_parser = parse_span, allow_hyphen_values = true,
          conflicts_with = "at")]
    pub since: Option<Duration>,

    /// A moment to look around (such as 03:12): the range is --window wide, centred on it.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub at: Option<String>,

    /// The width of the range around --at. [default: 10m]
    #[arg(long, value_name = "DURATION", value_parser = parse_span, allow_hyphen_values = true,
          requires = "at")]
    pub window: Option<Duration>,

    /// A bearer token sent when --data is a URL (for `stabmon serve --token`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "STABMON_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

fn parse_span(s: &str) -> Result<Duration, String> {
    crate::parse_positive_duration(s, "30m, 2h or 1d")
}

const TIME_FORMS: &str = "use RFC 3339 (2026-11-25T03:12:00Z), a local date-time (2026-11-25 03:12, in this \
    machine's time zone), a local time today (03:12), or a relative time (2h ago, 30m ago, yesterday, today, now)";

/// Parses a `--from`/`--to`/`--at` time relative to `now` (local date-times are in `now`'s time zone).
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

/// The range asked for: either bound may be open (then the data and the command's default decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The range the flags ask for, relative to `now`. Conflicting flags are refused by clap already.
pub fn asked_range(args: &DataArgs, now: &jiff::Zoned) -> Result<Asked, UsageError> {
    let nowts = Timestamp::from_unix_micros(now.timestamp().as_microsecond());
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| parse_time(s, now))
            .transpose()
            .map_err(|e| UsageError(format!("{flag}: {e}")))
    };
    if let Some(d) = args.since {
        return Ok(Asked {
            from: Some(nowts.saturating_sub(d)),
            to: None,
        });
    }
    if let Some(at) = time("--at", &args.at)? {
        let half = args.window.unwrap_or(DEFAULT_WINDOW) / 2;
        return Ok(Asked {
            from: Some(at.saturating_sub(half)),
            to: Some(at.saturating_add(half)),
        });
    }
    let from = time("--from", &args.from)?;
    let to = time("--to", &args.to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(UsageError(format!(
            "--from ({f}) must be before --to ({t})"
        )));
    }
    Ok(Asked { from, to })
}

/// An opened data source, with the host chosen.
pub struct Source {
    pub reader: StoreReader,
    /// `--data` as given (a path or a URL), for messages.
    pub shown: String,
    /// The host read; `None` when every host is read (dump without --host).
    pub host: Option<String>,
}

/// Whether a command needs exactly one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    /// report, incidents, top.
    One,
    /// dump: every host unless --host.
    Any,
}

/// Opens `--data` (a directory, a file or a URL, with `--token`) and chooses the host.
pub fn open(args: &DataArgs, hosts: Hosts) -> anyhow::Result<Source> {
    let path = datadir::resolve(args.data.as_deref())?;
    let shown = path.display().to_string();
    let url = path
        .to_str()
        .filter(|p| {
            let l = p.get(..8).unwrap_or(p).to_ascii_lowercase();
            l.starts_with("http://") || l.starts_with("https://")
        })
        .map(str::to_owned);
    let reader = match &url {
        Some(u) => StoreReader::open_url_with_token(u, args.token.as_deref())
            .with_context(|| format!("cannot read stabmon data at {shown}"))?,
        None => {
            if !path.exists() {
                bail!(
                    "no data at {shown}: it does not exist (record some with 'stabmon record --data {shown}')"
                );
            }
            StoreReader::open(&path)
                .with_context(|| format!("cannot read stabmon data at {shown}"))?
        }
    };
    let all = reader.hosts();
    let host = match (&args.host, all.as_slice()) {
        (Some(h), _) if all.contains(h) => Some(h.clone()),
        // Only a journal so far (no segment lists hosts): trust the flag, the read will tell.
        (Some(h), []) => Some(h.clone()),
        (Some(h), _) => {
            return Err(UsageError(format!(
                "no data for host {h:?} at {shown} (hosts there: {})",
                all.join(", ")
            ))
            .into());
        }
        (None, [one]) => Some(one.clone()),
        (None, []) => None,
        (None, many) if hosts == Hosts::One => {
            return Err(UsageError(format!(
                "the data at {shown} holds several hosts ({}); choose one with --host",
                many.join(", ")
            ))
            .into());
        }
        (None, _) => None,
    };
    let reader = match &host {
        Some(h) => reader.with_host(h.clone()),
        None => reader,
    };
    Ok(Source {
        reader,
        shown,
        host,
    })
}

/// What a command reads when no range is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// The last day of data (report, incidents, top).
    LastDay,
    /// Everything (dump).
    All,
}

/// The samples read and the range they stand for (`from <= ts < to`).
pub struct Read {
    pub samples: Vec<Sample>,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Reads the samples of `asked` (open ends filled in by `default`), with a progress bar on a terminal. Damaged
/// segments are skipped with a warning each. Errors when there is no sample at all; an empty range is returned
/// empty for the caller to explain ([`explain_empty`]).
pub fn read(src: &Source, asked: Asked, default: Default) -> anyhow::Result<Read> {
    let now = Timestamp::from_unix_micros(jiff::Timestamp::now().as_microsecond());
    let read = |f: Option<Timestamp>, t: Option<Timestamp>| read_with_progress(src, f, t);
    let out = match (asked.from, asked.to, default) {
        (Some(f), Some(t), _) => Read {
            samples: read(Some(f), Some(t))?,
            from: f,
            to: t,
        },
        (Some(f), None, _) => {
            let s = read(Some(f), None)?;
            let end = s.last().map_or(now.max(f), |l| after(l.ts));
            Read {
                samples: s,
                from: f,
                to: end,
            }
        }
        (None, Some(t), Default::LastDay) => {
            let f = t.saturating_sub(DEFAULT_SPAN);
            Read {
                samples: read(Some(f), Some(t))?,
                from: f,
                to: t,
            }
        }
        (None, Some(t), Default::All) => {
            let s = read(None, Some(t))?;
            let start = s.first().map_or(t, |x| x.ts);
            Read {
                samples: s,
                from: start,
                to: t,
            }
        }
        (None, None, Default::LastDay) => {
            // Usually the recorder runs now: read the last day; otherwise fall back to the whole store.
            let mut s = read(Some(now.saturating_sub(DEFAULT_SPAN)), None)?;
            if s.is_empty() {
                s = read(None, None)?;
            }
            let end = s.last().map_or(now, |l| after(l.ts));
            let start = end.saturating_sub(DEFAULT_SPAN);
            let keep = s.partition_point(|x| x.ts < start);
            s.drain(..keep);
            Read {
                samples: s,
                from: start,
                to: end,
            }
        }
        (None, None, Default::All) => {
            let s = read(None, None)?;
            let (from, to) = match (s.first(), s.last()) {
                (Some(a), Some(b)) => (a.ts, after(b.ts)),
                _ => (now, now),
            };
            Read {
                samples: s,
                from,
                to,
            }
        }
    };
    for w in src.reader.warnings() {
        eprintln!("stabmon: warning: {w}");
    }
    Ok(out)
}

/// One host's samples in the asked range, with their source and host name: how the commands that analyse one host
/// (`incidents`, `top`) start.
pub struct OneHost {
    pub src: Source,
    pub read: Read,
    pub host: String,
}

/// Opens `--data` for one host and reads the asked range (the last day of data by default). `None`, after saying
/// on stderr what the data does cover, when the range holds no sample.
pub fn read_one_host(args: &DataArgs) -> anyhow::Result<Option<OneHost>> {
    let asked = asked_range(args, &jiff::Zoned::now())?;
    let src = open(args, Hosts::One)?;
    let read = read(&src, asked, Default::LastDay)?;
    if read.samples.is_empty() {
        eprintln!("stabmon: {}", explain_empty(&src, read.from, read.to)?);
        return Ok(None);
    }
    let host = src
        .host
        .clone()
        .or_else(|| read.samples.first().map(|s| s.host.clone()))
        .unwrap_or_default();
    Ok(Some(OneHost { src, read, host }))
}

/// The message for a range without samples: what the data covers instead.
pub fn explain_empty(src: &Source, from: Timestamp, to: Timestamp) -> anyhow::Result<String> {
    let all = src
        .reader
        .samples(None, None)
        .with_context(|| format!("cannot read stabmon data at {}", src.shown))?;
    let who = src.host.clone().unwrap_or_else(|| "any host".to_owned());
    let covers = match (all.first(), all.last()) {
        (Some(a), Some(b)) => format!("the data for {who} covers {} to {}", a.ts, b.ts),
        _ => format!(
            "there is no data for {who} (record some with 'stabmon record --data {}')",
            src.shown
        ),
    };
    Ok(format!(
        "no samples from {from} to {to} at {} ({covers})",
        src.shown
    ))
}

/// Just after `ts`, so that a range ending there includes it.
pub fn after(ts: Timestamp) -> Timestamp {
    ts.saturating_add(Duration::from_micros(1))
}

/// A read split into pieces of at least this span, so a progress bar can move.
const PIECE: Duration = Duration::from_secs(6 * 3600);
/// Spans longer than this get a progress bar (shorter reads take well under a second).
const BAR_FROM: Duration = Duration::from_secs(2 * 3600);

fn read_with_progress(
    src: &Source,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> anyhow::Result<Vec<Sample>> {
    let context = || format!("cannot read stabmon data at {}", src.shown);
    let remote = src.shown.contains("://");
    let span = match (from, to) {
        (Some(f), Some(t)) => t.duration_since(f),
        _ => None,
    };
    match (from, to, span) {
        (Some(f), Some(_), Some(span)) if !remote && span > BAR_FROM => {
            // Local and long: read piece by piece, moving the bar by the span read.
            let bar = progress::bar(span.as_secs());
            let pieces = (span.as_secs() / PIECE.as_secs()).clamp(1, 200);
            let step = span / u32::try_from(pieces).unwrap_or(u32::MAX);
            let mut out = Vec::new();
            let mut a = f;
            for i in 0..pieces {
                let b = if i + 1 == pieces {
                    to.unwrap_or(a)
                } else {
                    a.saturating_add(step)
                };
                out.extend(src.reader.samples(Some(a), Some(b)).with_context(context)?);
                bar.inc(b.duration_since(a).unwrap_or_default().as_secs());
                a = b;
            }
            bar.finish_and_clear();
            Ok(out)
        }
        _ => {
            let bar = progress::spinner("reading samples");
            let out = src.reader.samples(from, to).with_context(context);
            bar.finish_and_clear();
            out
        }
    }
}

/// Progress bars on stderr, only when it is a terminal (nothing when piped or redirected).
pub mod progress {
    use super::*;
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// A bar over `len` seconds of data; hidden off a terminal.
    pub fn bar(len: u64) -> ProgressBar {
        if !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} reading samples [{bar:30}] {percent}% of the range, {elapsed}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }

    /// A spinner with a message and the time elapsed; hidden off a terminal.
    pub fn spinner(msg: &'static str) -> ProgressBar {
        if !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}, {elapsed}") {
            pb.set_style(style);
        }
        pb.set_message(msg);
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Zoned {
        // 2026-11-25T03:12:00+01:00 as a fixed offset, so the test needs no time zone database.
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

    fn args() -> DataArgs {
        DataArgs {
            data: None,
            host: None,
            from: None,
            to: None,
            since: None,
            at: None,
            window: None,
            token: None,
        }
    }

    #[test]
    fn ranges_from_since_and_at() {
        let t = Timestamp::from_unix_secs(1_795_576_320 - 3600);
        let mut a = args();
        a.since = Some(Duration::from_secs(1800));
        assert_eq!(
            asked_range(&a, &now()).ok(),
            Some(Asked {
                from: Some(t.saturating_sub(Duration::from_secs(1800))),
                to: None
            })
        );
        let mut a = args();
        a.at = Some("03:12".into());
        a.window = Some(Duration::from_secs(300));
        assert_eq!(
            asked_range(&a, &now()).ok(),
            Some(Asked {
                from: Some(t.saturating_sub(Duration::from_secs(150))),
                to: Some(t.saturating_add(Duration::from_secs(150)))
            })
        );
        a.window = None;
        let r = asked_range(&a, &now()).ok();
        assert_eq!(
            r.and_then(|r| r.to?.duration_since(r.from?)),
            Some(DEFAULT_WINDOW)
        );
        let mut a = args();
        a.from = Some("03:00".into());
        a.to = Some("02:00".into());
        let e = asked_range(&a, &now())
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("must be before --to"), "{e}");
        let mut a = args();
        a.at = Some("later".into());
        let e = asked_range(&a, &now())
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.starts_with("--at: cannot read the time"), "{e}");
    }
}
