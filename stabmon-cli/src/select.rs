//! One way to choose data for every reading command (`dump`, `report`, `incidents`, `top`): where it is
//! (`--data`, `--token`), which host (`--host`) and which range (`--from/--to`, `--since`, `--at/--window`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use stabmon_core::series::{MomentColumns, SampleParts, SystemSeries};
use stabmon_core::time::{LocalZone, parse_time};
use stabmon_core::{Sample, Timestamp};
use stabmon_report::PageMoments;
use stabmon_store::{DefaultRange, RangeRequest, SeriesRead, StoreReader};

use crate::{UsageError, datadir};

/// The span read when no range flag says otherwise (report, incidents, top): the last day of data.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(24 * 3600);

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
    /// directory served over HTTP (such as `stabmon serve`'s /data/), or a dataset in object storage: s3://BUCKET/PREFIX, gs://..., az://... or file:///PATH. [default: $STABMON_DATA, else a per-user or
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

/// Reads a `--from`/`--to`/`--at` time (stabmon-core's forms), local forms in this machine's time zone.
fn time(flag: &str, v: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, UsageError> {
    v.map(|s| parse_time(s, now, &LocalZone::system()))
        .transpose()
        .map_err(|e| UsageError(format!("{flag}: {e}")))
}

/// The range the flags ask for. Conflicting flags are refused by clap already.
pub fn request(args: &DataArgs, now: Timestamp) -> Result<RangeRequest, UsageError> {
    if let Some(d) = args.since {
        return Ok(RangeRequest::Since(d));
    }
    if let Some(at) = time("--at", args.at.as_deref(), now)? {
        let window = args.window.unwrap_or(RangeRequest::DEFAULT_WINDOW);
        return Ok(RangeRequest::Around { at, window });
    }
    let from = time("--from", args.from.as_deref(), now)?;
    let to = time("--to", args.to.as_deref(), now)?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(UsageError(format!(
            "--from ({f}) must be before --to ({t})"
        )));
    }
    Ok(RangeRequest::Between { from, to })
}

/// An opened data source, with the host chosen.
pub struct Source {
    pub reader: StoreReader,
    /// `--data` as given (a path or a URL), for messages.
    pub shown: String,
    /// The host read; `None` when every host is read (dump without --host).
    pub host: Option<String>,
    /// How many of the reader's warnings are printed already ([`print_warnings`]).
    printed: AtomicUsize,
}

/// Whether a command needs exactly one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    /// report, incidents, top.
    One,
    /// dump: every host unless --host.
    Any,
}

/// A `--data` URL's scheme is one of `known`: else a usage error naming it (exit 2).
pub fn check_scheme(url: &str, known: &[&str]) -> Result<(), UsageError> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(());
    };
    if known.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Ok(());
    }
    let listed: Vec<String> = known
        .iter()
        .filter(|s| !matches!(**s, "s3a" | "abfs" | "abfss" | "https"))
        .map(|s| match *s {
            "http" => "http(s)://".to_owned(),
            "file" => "file://".to_owned(),
            s => format!("{s}://"),
        })
        .collect();
    let (last, rest) = listed
        .split_last()
        .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
    Err(UsageError(format!(
        "--data {url}: unknown URL scheme {scheme}://; use a directory, {} or {last}",
        rest.join(", ")
    )))
}

/// Opens `--data` (a directory, a file or a URL, with `--token`) and chooses the host (stabmon-store's rules: the
/// one asked for, or the only one; journals count).
pub fn open(args: &DataArgs, hosts: Hosts) -> anyhow::Result<Source> {
    let path = datadir::resolve(args.data.as_deref())?;
    let shown = path.display().to_string();
    // http(s)://, s3://, gs://, az://, file://: stabmon-store says what it reads, and names a scheme it does not.
    let is_url = path.to_str().is_some_and(|p| p.contains("://"));
    if let Some(url) = path.to_str().filter(|_| is_url) {
        check_scheme(
            url,
            &[
                "http", "https", "s3", "s3a", "gs", "az", "abfs", "abfss", "file",
            ],
        )?;
    }
    if !is_url && !path.exists() {
        bail!(
            "no data at {shown}: it does not exist (record some with 'stabmon record --data {shown}')"
        );
    }
    let reader = StoreReader::open_with_token(&path, args.token.as_deref())
        .with_context(|| format!("cannot read stabmon data at {shown}"))?;
    let host = match reader.host_to_read(args.host.as_deref(), hosts == Hosts::Any) {
        Ok(h) => h,
        Err(
            e @ (stabmon_store::Error::UnknownHost { .. }
            | stabmon_store::Error::SeveralHosts { .. }),
        ) => {
            return Err(UsageError(e.to_string().replace(&reader.location(), &shown)).into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read stabmon data at {shown}")),
    };
    let reader = match &host {
        Some(h) => reader.with_host(h.clone()),
        None => reader,
    };
    Ok(Source {
        reader,
        shown,
        host,
        printed: AtomicUsize::new(0),
    })
}

/// Opens `--data` (see [`open`]) and the range to read (`from <= ts < to`): the bounds asked for, open ends filled in
/// from what the data covers (stabmon-store's [`resolve_range`](StoreReader::resolve_range)), and whether any bound
/// was asked for.
pub fn open_range(
    args: &DataArgs,
    hosts: Hosts,
    default: DefaultRange,
) -> anyhow::Result<(Source, Timestamp, Timestamp, bool)> {
    let now = Timestamp::now();
    let (from, to) = request(args, now)?.bounds(now);
    let src = open(args, hosts)?;
    let (start, end) = src
        .reader
        .resolve_range(src.host.as_deref(), from, to, default, now)
        .with_context(|| format!("cannot read stabmon data at {}", src.shown))?;
    Ok((src, start, end, from.is_some() || to.is_some()))
}

/// Prints the reader's warnings (damaged segments skipped, unreadable journals) on stderr, those not printed by
/// an earlier call: a command prints them after each read, and each once.
pub fn print_warnings(src: &Source) {
    let warnings = src.reader.warnings();
    let printed = src.printed.fetch_max(warnings.len(), Ordering::Relaxed);
    for w in warnings.into_iter().skip(printed) {
        // A file's name is anyone's choice: no control character reaches the terminal.
        eprintln!("stabmon: warning: {}", crate::table::printable(w));
    }
}

/// One host's system columns in the asked range, with their source and host name: how the commands that analyse
/// one host (`report`, `incidents`) start.
pub struct OneHost {
    pub src: Source,
    pub series: SystemSeries,
    pub host: String,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Hover moments read with the series, with their parts (see [`read_one_host_with`]), for
    /// `HostWindows::with_samples`.
    pub moments: (Vec<Sample>, SampleParts),
}

/// Opens `--data` for one host and reads the system columns of the asked range (by default, the last day of data),
/// those `read` asks for. `None`, after saying on stderr what the data does cover, when the range holds no sample.
pub fn read_one_host(args: &DataArgs, read: SeriesRead) -> anyhow::Result<Option<OneHost>> {
    read_one_host_with(args, read, |_, _, _, _| None)
}

/// [`read_one_host`], and with the series the hover moments `moments` gives for the reader, host and range
/// (`StoreReader::system_series_with_moments`), where it gives any.
pub fn read_one_host_with(
    args: &DataArgs,
    read: SeriesRead,
    moments: impl FnOnce(&StoreReader, &str, Timestamp, Timestamp) -> Option<PageMoments>,
) -> anyhow::Result<Option<OneHost>> {
    let (src, from, to, _) = open_range(args, Hosts::One, DefaultRange::Last(DEFAULT_SPAN))?;
    let Some(host) = src.host.clone() else {
        eprintln!("stabmon: {}", explain_empty(&src, from, to)?);
        return Ok(None);
    };
    let spin = progress::spinner("reading samples");
    let reader = &src.reader;
    let read = match moments(reader, &host, from, to) {
        Some(m) => reader
            .system_series_with_moments(&host, Some(from), Some(to), read, &m)
            .map(|(series, given)| (series, (given, m.parts()))),
        None => reader
            .system_series_of(&host, Some(from), Some(to), read)
            .map(|series| (series, (Vec::new(), SampleParts::NONE))),
    };
    let read = read.with_context(|| format!("cannot read stabmon data at {}", src.shown));
    // The decoding threads' freed row groups stay resident in their heaps: given back before the windows and the
    // page are read and made.
    crate::malloc::trim();
    spin.finish_and_clear();
    let (series, moments) = read?;
    print_warnings(&src);
    if series.is_empty() {
        eprintln!("stabmon: {}", explain_empty(&src, from, to)?);
        return Ok(None);
    }
    Ok(Some(OneHost {
        src,
        series,
        host,
        from,
        to,
        moments,
    }))
}

/// The message for a range without samples: what the data covers instead (from its coverage, without reading it).
pub fn explain_empty(src: &Source, from: Timestamp, to: Timestamp) -> anyhow::Result<String> {
    let covers = src
        .reader
        .describe_coverage(src.host.as_deref())
        .with_context(|| format!("cannot read stabmon data at {}", src.shown))?;
    let covers = if covers.starts_with("there is no data") {
        format!(
            "{covers} (record some with 'stabmon record --data {}')",
            src.shown
        )
    } else {
        covers
    };
    Ok(crate::table::printable(format!(
        "no samples from {from} to {to} at {} ({covers})",
        src.shown
    )))
}

/// Samples streamed from a range, one segment in memory at a time, moving a progress bar (on a terminal) by the
/// time they cover.
pub fn stream<'a>(
    src: &'a Source,
    from: Timestamp,
    to: Timestamp,
) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Sample>> + 'a> {
    let span = to.duration_since(from).unwrap_or_default();
    let bar = if span > BAR_FROM {
        progress::bar(span.as_secs())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut done = from;
    let shown = src.shown.clone();
    let stream = src
        .reader
        .stream(Some(from), Some(to))
        .with_context(|| format!("cannot read stabmon data at {shown}"))?;
    Ok(stream.map(move |s| {
        let s = s.with_context(|| format!("cannot read stabmon data at {shown}"))?;
        if let Some(d) = s.ts.duration_since(done).filter(|d| d.as_secs() >= 60) {
            bar.inc(d.as_secs());
            done = s.ts;
        }
        Ok(s)
    }))
}

/// Spans longer than this get a progress bar (shorter reads take well under a second).
const BAR_FROM: Duration = Duration::from_secs(2 * 3600);

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

    /// 2026-11-25T03:12:00Z.
    const T: i64 = 1_795_576_320;

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

    fn bounds(a: &DataArgs) -> Option<(Option<Timestamp>, Option<Timestamp>)> {
        let now = Timestamp::from_unix_secs(T);
        request(a, now).ok().map(|r| r.bounds(now))
    }

    #[test]
    fn ranges_from_since_and_at() {
        let t = Timestamp::from_unix_secs(T);
        let mut a = args();
        a.since = Some(Duration::from_secs(1800));
        assert_eq!(
            bounds(&a),
            Some((Some(t.saturating_sub(Duration::from_secs(1800))), None))
        );
        let mut a = args();
        a.at = Some("2026-11-25T03:12:00Z".into());
        a.window = Some(Duration::from_secs(300));
        assert_eq!(
            bounds(&a),
            Some((
                Some(t.saturating_sub(Duration::from_secs(150))),
                Some(t.saturating_add(Duration::from_secs(150)))
            ))
        );
        a.window = None;
        let r = bounds(&a);
        assert_eq!(
            r.and_then(|(f, t)| t?.duration_since(f?)),
            Some(RangeRequest::DEFAULT_WINDOW)
        );
        let mut a = args();
        a.from = Some("2026-11-25T03:00:00Z".into());
        a.to = Some("2026-11-25T02:00:00Z".into());
        let e = request(&a, t).err().map(|e| e.0).unwrap_or_default();
        assert!(e.contains("must be before --to"), "{e}");
        let mut a = args();
        a.at = Some("later".into());
        let e = request(&a, t).err().map(|e| e.0).unwrap_or_default();
        assert!(e.starts_with("--at: cannot read the time"), "{e}");
    }
}
