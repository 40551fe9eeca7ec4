//! `stabmon report`: one standalone HTML page of a time range, with culprit-labelled spikes (stabmon-report).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use stabmon_report::ReportBuilder;

use crate::select;
use crate::{ReportArgs, UsageError};

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let Some(read) = select::read_one_host(&args.data)? else {
        return Ok(ExitCode::FAILURE);
    };
    let select::OneHost {
        src,
        series,
        host,
        from,
        to,
    } = &read;
    let (reader, path, host) = (&src.reader, &src.shown, host.as_str());

    let mut builder = ReportBuilder::new()
        .range(*from, *to)
        .detect_options(reader.detect_options(host));
    if let Some(title) = &args.title {
        builder = builder.title(title.clone());
    }
    let spin = select::progress::spinner("rendering the report");
    // The columns of the range, and whole samples only for what the page shows (hover moments, culprits, gaps).
    let rendered = builder.build().render_from(series, &reader.windows(host));
    spin.finish_and_clear();
    select::print_warnings(src);
    let (html, summary) = rendered.with_context(|| format!("cannot make the report of {path}"))?;
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
