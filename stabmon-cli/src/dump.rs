//! `stabmon dump`: print recorded samples as CSV or JSON Lines.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::bail;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use stabmon_core::{LatencyProbe, ProcessEntry, Sample, Timestamp};

use stabmon_store::DefaultRange;

use crate::select::{self, Hosts};
use crate::{DumpArgs, Format};

pub fn run(args: &DumpArgs) -> anyhow::Result<ExitCode> {
    let (src, from, to, asked) = select::open_range(&args.data, Hosts::Any, DefaultRange::All)?;
    let path = &src.shown;
    // Streamed: the first line is out after the first segment is read, whatever the range.
    let mut samples = select::stream(&src, from, to)?.peekable();
    if samples.peek().is_none() {
        select::print_warnings(&src);
        if asked {
            bail!("{}", select::explain_empty(&src, from, to)?);
        }
        bail!("no samples found at {path} (record some with 'stabmon record --data {path}')");
    }

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.latency {
        let mut probes = 0usize;
        let mut reorder = ProbeOrder::default();
        match args.format {
            Format::Csv => write_row(&mut out, &header(LATENCY_COLUMNS))?,
            Format::Json => {}
        }
        for s in samples {
            let s = s?;
            for (host, p) in reorder.push(&s) {
                probes += 1;
                write_probe(&mut out, args.format, &host, &p)?;
            }
        }
        for (host, p) in reorder.finish() {
            probes += 1;
            write_probe(&mut out, args.format, &host, &p)?;
        }
        out.flush()?;
        if probes == 0 {
            eprintln!(
                "stabmon: no latency probes at {path}: record some with 'stabmon record --target NAME=URL' or --net auto"
            );
        }
        select::print_warnings(&src);
        return Ok(ExitCode::SUCCESS);
    }
    if args.format == Format::Csv {
        let columns = if args.processes {
            PROCESS_COLUMNS
        } else {
            SAMPLE_COLUMNS
        };
        write_row(&mut out, &header(columns))?;
    }
    for s in samples {
        let s = s?;
        match (args.format, args.processes) {
            (Format::Csv, false) => write_row(&mut out, &sample_row(&s))?,
            (Format::Csv, true) => write_processes_csv(&mut out, &s)?,
            (Format::Json, false) => write_sample_json(&mut out, &s)?,
            (Format::Json, true) => write_processes_json(&mut out, &s)?,
        }
    }
    out.flush()?;
    select::print_warnings(&src);
    Ok(ExitCode::SUCCESS)
}

/// Quotes a CSV field when it needs it (RFC 4180): fields holding a comma, a quote, a line break or leading or
/// trailing spaces are wrapped in quotes, with inner quotes doubled.
fn csv_field(s: &str) -> Cow<'_, str> {
    let needs = s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ');
    if needs {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

fn write_row<W: Write>(out: &mut W, fields: &[String]) -> io::Result<()> {
    let mut first = true;
    for f in fields {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(csv_field(f).as_bytes())?;
    }
    out.write_all(b"\n")
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn pct(v: f32) -> String {
    format!("{v:.2}")
}

fn opt_pct(v: Option<f32>) -> String {
    v.map(pct).unwrap_or_default()
}

const SAMPLE_COLUMNS: &[&str] = &[
    "ts",
    "host",
    "interval_ms",
    "lateness_ms",
    "cpu_busy_pct",
    "cpu_user_pct",
    "cpu_system_pct",
    "cpu_iowait_pct",
    "cpu_steal_pct",
    "load_1",
    "load_5",
    "load_15",
    "mem_total_bytes",
    "mem_used_bytes",
    "mem_available_bytes",
    "swap_total_bytes",
    "swap_used_bytes",
    "process_count",
    "psi_cpu_some_pct",
    "psi_memory_some_pct",
    "psi_memory_full_pct",
    "psi_io_some_pct",
    "psi_io_full_pct",
    "oom_kill_count",
    "top_cpu_name",
    "top_cpu_pid",
    "top_cpu_pct",
    "top_rss_name",
    "top_rss_pid",
    "top_rss_bytes",
    "top_name_by_cpu",
    "top_name_cpu_pct",
    "top_name_by_rss",
    "top_name_rss_bytes",
    "boot_time",
    "boot_id",
    "timezone",
];

fn sample_row(s: &Sample) -> Vec<String> {
    let top_cpu = s.top.processes.iter().find(|p| p.cpu_rank == Some(1));
    let top_rss = s.top.processes.iter().find(|p| p.rss_rank == Some(1));
    let name_cpu = s.top.names.iter().find(|n| n.cpu_rank == Some(1));
    let name_rss = s.top.names.iter().find(|n| n.rss_rank == Some(1));
    let psi = s.pressure.as_ref();
    vec![
        s.ts.to_string(),
        s.host.clone(),
        format!("{:.3}", s.interval.as_secs_f64() * 1000.0),
        format!("{:.3}", s.lateness.as_secs_f64() * 1000.0),
        pct(s.cpu.busy_pct),
        opt_pct(s.cpu.user_pct),
        opt_pct(s.cpu.system_pct),
        opt_pct(s.cpu.iowait_pct),
        opt_pct(s.cpu.steal_pct),
        opt(s.load.map(|l| format!("{:.2}", l.one))),
        opt(s.load.map(|l| format!("{:.2}", l.five))),
        opt(s.load.map(|l| format!("{:.2}", l.fifteen))),
        s.memory.total_bytes.to_string(),
        s.memory.used_bytes.to_string(),
        s.memory.available_bytes.to_string(),
        s.memory.swap_total_bytes.to_string(),
        s.memory.swap_used_bytes.to_string(),
        s.process_count.to_string(),
        opt_pct(psi.and_then(|p| p.cpu_some_pct)),
        opt_pct(psi.and_then(|p| p.memory_some_pct)),
        opt_pct(psi.and_then(|p| p.memory_full_pct)),
        opt_pct(psi.and_then(|p| p.io_some_pct)),
        opt_pct(psi.and_then(|p| p.io_full_pct)),
        opt(s.oom_kill_count),
        opt(top_cpu.map(|p| p.name.clone())),
        opt(top_cpu.map(|p| p.pid)),
        opt(top_cpu.map(|p| pct(p.cpu_pct))),
        opt(top_rss.map(|p| p.name.clone())),
        opt(top_rss.map(|p| p.pid)),
        opt(top_rss.map(|p| p.rss_bytes)),
        opt(name_cpu.map(|n| n.name.clone())),
        opt(name_cpu.map(|n| pct(n.cpu_pct))),
        opt(name_rss.map(|n| n.name.clone())),
        opt(name_rss.map(|n| n.rss_bytes)),
        s.boot_time.to_string(),
        opt(s.boot_id.clone()),
        opt(s.timezone.clone()),
    ]
}

fn header(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| (*c).to_owned()).collect()
}

const PROCESS_COLUMNS: &[&str] = &[
    "ts",
    "host",
    "pid",
    "parent_pid",
    "name",
    "user",
    "cpu_pct",
    "children_cpu_pct",
    "rss_bytes",
    "virtual_bytes",
    "start_time",
    "cpu_rank",
    "rss_rank",
    "cmdline",
];

fn process_row(s: &Sample, p: &ProcessEntry) -> Vec<String> {
    vec![
        s.ts.to_string(),
        s.host.clone(),
        p.pid.to_string(),
        opt(p.parent_pid),
        p.name.clone(),
        opt(p.user.clone()),
        pct(p.cpu_pct),
        opt_pct(p.children_cpu_pct),
        p.rss_bytes.to_string(),
        p.virtual_bytes.to_string(),
        p.start_time.to_string(),
        opt(p.cpu_rank),
        opt(p.rss_rank),
        opt(p.cmdline.clone()),
    ]
}

fn write_processes_csv<W: Write>(out: &mut W, s: &Sample) -> io::Result<()> {
    for p in &s.top.processes {
        write_row(out, &process_row(s, p))?;
    }
    Ok(())
}

// JSON errors are turned back into `io::Error` so that a broken pipe is still recognized as one.
fn write_sample_json<W: Write>(out: &mut W, s: &Sample) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

fn write_processes_json<W: Write>(out: &mut W, s: &Sample) -> io::Result<()> {
    {
        for p in &s.top.processes {
            let mut row = serde_json::Map::new();
            row.insert("ts".to_owned(), serde_json::Value::from(s.ts.to_string()));
            row.insert("host".to_owned(), serde_json::Value::from(s.host.clone()));
            if let serde_json::Value::Object(fields) =
                serde_json::to_value(p).map_err(io::Error::from)?
            {
                row.extend(fields);
            }
            serde_json::to_writer(&mut *out, &row).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// How long a probe may take at most before its sample is taken: probes are written once the stream is this far
/// past their start (a slow probe arrives with a later sample; probes time out long before this).
const PROBE_HOLD: Duration = Duration::from_secs(120);

/// Puts the probes of streamed samples in start order (ties in the samples' order), holding back only the last
/// [`PROBE_HOLD`] of them.
#[derive(Default)]
struct ProbeOrder {
    held: BinaryHeap<Reverse<(Timestamp, u64, String, ProbeKey)>>,
    seq: u64,
}

/// A probe in the heap, ordered by nothing but its place (the heap's key is start time and arrival).
struct ProbeKey(LatencyProbe);

impl PartialEq for ProbeKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for ProbeKey {}
impl PartialOrd for ProbeKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ProbeKey {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl ProbeOrder {
    /// Takes a sample's probes; gives back those that can no longer be overtaken.
    fn push(&mut self, s: &Sample) -> Vec<(String, LatencyProbe)> {
        for p in &s.latency {
            self.seq += 1;
            self.held.push(Reverse((
                p.ts,
                self.seq,
                s.host.clone(),
                ProbeKey(p.clone()),
            )));
        }
        let before = s.ts.saturating_sub(PROBE_HOLD);
        let mut out = Vec::new();
        while self.held.peek().is_some_and(|Reverse(x)| x.0 < before) {
            if let Some(Reverse((_, _, host, p))) = self.held.pop() {
                out.push((host, p.0));
            }
        }
        out
    }

    /// The probes still held, in order.
    fn finish(mut self) -> Vec<(String, LatencyProbe)> {
        let mut out = Vec::new();
        while let Some(Reverse((_, _, host, p))) = self.held.pop() {
            out.push((host, p.0));
        }
        out
    }
}

const LATENCY_COLUMNS: &[&str] = &[
    "ts",
    "host",
    "target",
    "outcome",
    "http_status",
    "message",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "first_byte_ms",
    "total_ms",
];

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_default()
}

fn latency_row(host: &str, p: &LatencyProbe) -> Vec<String> {
    vec![
        p.ts.to_string(),
        host.to_owned(),
        p.target.clone(),
        p.outcome.kind().to_owned(),
        opt(p.outcome.http_status()),
        opt(p.outcome.message()),
        ms(p.dns_ms),
        ms(p.connect_ms),
        ms(p.tls_ms),
        ms(p.first_byte_ms),
        ms(p.total_ms),
    ]
}

/// One probe as a CSV row, or as one flat JSON object with the same keys as the CSV columns (absent figures are
/// null).
fn write_probe<W: Write>(
    out: &mut W,
    format: Format,
    host: &str,
    p: &LatencyProbe,
) -> io::Result<()> {
    if format == Format::Csv {
        return write_row(out, &latency_row(host, p));
    }
    let row = serde_json::json!({
        "ts": p.ts.to_string(),
        "host": host,
        "target": p.target,
        "outcome": p.outcome.kind(),
        "http_status": p.outcome.http_status(),
        "message": p.outcome.message(),
        "dns_ms": p.dns_ms,
        "connect_ms": p.connect_ms,
        "tls_ms": p.tls_ms,
        "first_byte_ms": p.first_byte_ms,
        "total_ms": p.total_ms,
    });
    serde_json::to_writer(&mut *out, &row).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use stabmon_core::Timestamp;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
    }

    #[test]
    fn rows_match_headers() {
        let mut s = Sample::new(Timestamp::from_unix_secs(1_795_576_320), "nas");
        let mut p = ProcessEntry::new(4123, "ffmpeg");
        p.cmdline = Some("ffmpeg -i \"a,b.mkv\"".to_owned());
        p.cpu_rank = Some(1);
        p.cpu_pct = 187.0;
        s.top.processes.push(p);
        assert_eq!(sample_row(&s).len(), SAMPLE_COLUMNS.len());
        assert_eq!(
            process_row(&s, &s.top.processes[0]).len(),
            PROCESS_COLUMNS.len()
        );

        let mut out = Vec::new();
        write_row(&mut out, &header(PROCESS_COLUMNS)).unwrap_or_default();
        write_processes_csv(&mut out, &s).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(PROCESS_COLUMNS.join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some(
                "2026-11-25T03:12:00Z,nas,4123,,ffmpeg,,187.00,,0,0,1970-01-01T00:00:00Z,1,,\
                 \"ffmpeg -i \"\"a,b.mkv\"\"\""
            )
        );
        assert_eq!(lines.next(), None);

        let mut out = Vec::new();
        write_row(&mut out, &header(SAMPLE_COLUMNS)).unwrap_or_default();
        write_row(&mut out, &sample_row(&s)).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with("2026-11-25T03:12:00Z,nas,"), "{row}");
        assert!(row.contains(",ffmpeg,4123,187.00,"), "{row}");
    }

    #[test]
    fn latency_rows_in_start_order_with_honest_blanks() {
        use stabmon_core::ProbeOutcome;
        let mut s1 = Sample::new(Timestamp::from_unix_secs(10), "h");
        let mut slow =
            LatencyProbe::new("web", Timestamp::from_unix_secs(9), ProbeOutcome::Timeout);
        slow.connect_ms = Some(0.25);
        let mut s0 = Sample::new(Timestamp::from_unix_secs(5), "h");
        s0.latency
            .push(LatencyProbe::ok("gw", Timestamp::from_unix_secs(4), 1.5));
        // A slow probe started before the fast one but arrived with a later sample.
        s1.latency.push(slow);
        s1.latency.push(LatencyProbe::new(
            "web",
            Timestamp::from_unix_secs(3),
            ProbeOutcome::HttpStatus(500),
        ));
        let mut order = ProbeOrder::default();
        let mut probes = order.push(&s0);
        probes.extend(order.push(&s1));
        probes.extend(order.finish());
        assert_eq!(
            latency_row(&probes[0].0, &probes[0].1).len(),
            LATENCY_COLUMNS.len()
        );

        let mut out = Vec::new();
        write_row(&mut out, &header(LATENCY_COLUMNS)).unwrap_or_default();
        for (host, p) in &probes {
            write_probe(&mut out, Format::Csv, host, p).unwrap_or_default();
        }
        let text = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], LATENCY_COLUMNS.join(","));
        assert_eq!(lines[1], "1970-01-01T00:00:03Z,h,web,http_status,500,,,,,,");
        assert_eq!(lines[2], "1970-01-01T00:00:04Z,h,gw,ok,,,,,,,1.500");
        assert_eq!(lines[3], "1970-01-01T00:00:09Z,h,web,timeout,,,,0.250,,,");
        assert_eq!(lines.len(), 4);

        let mut out = Vec::new();
        for (host, p) in &probes {
            write_probe(&mut out, Format::Json, host, p).unwrap_or_default();
        }
        let text = String::from_utf8(out).unwrap_or_default();
        let last: serde_json::Value =
            serde_json::from_str(text.lines().nth(2).unwrap_or_default()).unwrap_or_default();
        assert_eq!(last["outcome"], "timeout");
        assert_eq!(last["connect_ms"], 0.25);
        assert!(last["total_ms"].is_null());
    }

    #[test]
    fn process_json_has_sample_keys() {
        let mut s = Sample::new(Timestamp::from_unix_secs(0), "h");
        s.top.processes.push(ProcessEntry::new(7, "x"));
        let mut out = Vec::new();
        assert!(write_processes_json(&mut out, &s).is_ok());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null);
        assert_eq!(v["ts"], "1970-01-01T00:00:00Z");
        assert_eq!(v["host"], "h");
        assert_eq!(v["pid"], 7);
        assert_eq!(v["name"], "x");
    }
}
