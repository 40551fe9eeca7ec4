//! `stabmon report`: one standalone HTML page of a time range, with culprit-labelled spikes (stabmon-report).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use stabmon_report::ReportBuilder;
use stabmon_store::SeriesRead;

use crate::select;
use crate::{ReportArgs, UsageError};

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    if args.all_hosts {
        return crate::fleet::report(args);
    }
    // The page's builder is made once the range is known, before the series is read: the hover moments it will
    // show are built as the series is read where the files are decoded whole anyway.
    let mut made = None;
    let read =
        select::read_one_host_with(&args.data, SeriesRead::All, |reader, host, from, to| {
            let mut builder = ReportBuilder::new()
                .range(from, to)
                .detect_options(reader.detect_options(host));
            if let Some(title) = &args.title {
                builder = builder.title(title.clone());
            }
            let report = made.insert(builder.build());
            // Only the page has hover moments.
            report
                .moment_columns()
                .filter(|_| args.output.is_some() || args.png.is_none())
        })?;
    let (Some(mut read), Some(builder)) = (read, made) else {
        return Ok(ExitCode::FAILURE);
    };
    let (given, parts) = std::mem::take(&mut read.moments);
    let select::OneHost {
        src, series, host, ..
    } = &read;
    let (path, host) = (&src.shown, host.as_str());
    let windows = src.reader.windows(host).with_samples(given, parts);
    let output = match (&args.output, &args.png) {
        (Some(o), _) => Some(o.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(PathBuf::from("report.html")),
    };
    if let Some(output) = &output {
        let spin = select::progress::spinner("rendering the report");
        // The columns of the range, and whole samples only for what the page shows (hover moments, culprits, gaps).
        let rendered = builder.render_from_naming(series, &windows, &|| src.reader.warnings());
        spin.finish_and_clear();
        select::print_warnings(src);
        let (html, summary) =
            rendered.with_context(|| format!("cannot make the report of {path}"))?;
        write_atomically(output, html.as_bytes())?;
        say_written(&output.display().to_string(), summary.bytes, &summary, host);
        if args.open {
            open_in_browser(output);
        }
    }
    if let Some(dir) = &args.png {
        let spin = select::progress::spinner("drawing the charts");
        let rendered = builder.render_png_from(series, &windows);
        spin.finish_and_clear();
        if output.is_none() {
            select::print_warnings(src);
        }
        let (charts, summary) =
            rendered.with_context(|| format!("cannot draw the charts of {path}"))?;
        std::fs::create_dir_all(dir).map_err(|e| {
            UsageError(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
        let mut names = Vec::new();
        for c in &charts {
            let file = dir.join(format!("{}.png", c.name));
            write_atomically(&file, &c.png)?;
            names.push(format!("{}.png", c.name));
        }
        say_written(
            &format!("{} in {}", names.join(", "), dir.display()),
            summary.bytes,
            &summary,
            host,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr what was written.
fn say_written(what: &str, bytes: usize, summary: &stabmon_report::Summary, host: &str) {
    let n = summary.incidents.len();
    let _ = writeln!(
        io::stderr(),
        "stabmon: wrote {what} ({} KB): {} samples of {host} from {} to {}, {n} incident{}",
        bytes / 1000,
        summary.samples,
        summary.from,
        summary.to,
        if n == 1 { "" } else { "s" }
    );
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: never a half-written report.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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
        return Err(UsageError(format!("cannot write {}: {e}", path.display())).into());
    }
    Ok(())
}

/// Opens the report with the desktop's browser; a failure is a warning, the report is written.
pub(crate) fn open_in_browser(path: &Path) {
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
