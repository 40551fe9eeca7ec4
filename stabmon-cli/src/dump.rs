//! `stabmon dump`: print recorded samples as CSV or JSON Lines.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use stabmon_core::{ProcessEntry, Sample};
use stabmon_store::StoreReader;

use crate::{DumpArgs, Format, datadir};

pub fn run(args: &DumpArgs) -> anyhow::Result<ExitCode> {
    let path = datadir::resolve(args.data.as_deref())?;
    if !path.exists() {
        bail!(
            "no data at {}: it does not exist (record some with 'stabmon record --data {}')",
            path.display(),
            path.display()
        );
    }
    let reader = StoreReader::open(&path)
        .with_context(|| format!("cannot read stabmon data at {}", path.display()))?;
    let samples = reader
        .samples(None, None)
        .with_context(|| format!("cannot read stabmon data at {}", path.display()))?;
    if samples.is_empty() {
        bail!(
            "no samples found at {} (record some with 'stabmon record --data {}')",
            path.display(),
            path.display()
        );
    }

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match (args.format, args.processes) {
        (Format::Csv, false) => write_samples_csv(&mut out, &samples)?,
        (Format::Csv, true) => write_processes_csv(&mut out, &samples)?,
        (Format::Json, false) => write_samples_json(&mut out, &samples)?,
        (Format::Json, true) => write_processes_json(&mut out, &samples)?,
    }
    out.flush()?;
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

fn write_samples_csv<W: Write>(out: &mut W, samples: &[Sample]) -> io::Result<()> {
    write_row(out, &header(SAMPLE_COLUMNS))?;
    for s in samples {
        write_row(out, &sample_row(s))?;
    }
    Ok(())
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

fn write_processes_csv<W: Write>(out: &mut W, samples: &[Sample]) -> io::Result<()> {
    write_row(out, &header(PROCESS_COLUMNS))?;
    for s in samples {
        for p in &s.top.processes {
            write_row(out, &process_row(s, p))?;
        }
    }
    Ok(())
}

// JSON errors are turned back into `io::Error` so that a broken pipe is still recognized as one.
fn write_samples_json<W: Write>(out: &mut W, samples: &[Sample]) -> io::Result<()> {
    for s in samples {
        serde_json::to_writer(&mut *out, s).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_processes_json<W: Write>(out: &mut W, samples: &[Sample]) -> io::Result<()> {
    for s in samples {
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
        write_processes_csv(&mut out, std::slice::from_ref(&s)).unwrap_or_default();
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
        write_samples_csv(&mut out, std::slice::from_ref(&s)).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with("2026-11-25T03:12:00Z,nas,"), "{row}");
        assert!(row.contains(",ffmpeg,4123,187.00,"), "{row}");
    }

    #[test]
    fn process_json_has_sample_keys() {
        let mut s = Sample::new(Timestamp::from_unix_secs(0), "h");
        s.top.processes.push(ProcessEntry::new(7, "x"));
        let mut out = Vec::new();
        assert!(write_processes_json(&mut out, &[s]).is_ok());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null);
        assert_eq!(v["ts"], "1970-01-01T00:00:00Z");
        assert_eq!(v["host"], "h");
        assert_eq!(v["pid"], 7);
        assert_eq!(v["name"], "x");
    }
}
