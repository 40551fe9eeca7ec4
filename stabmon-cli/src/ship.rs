//! `stabmon ship`: upload a data directory's finished segments to object storage once, and the URL check that
//! `record --ship` shares.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::datadir;

/// `stabmon ship` flags.
#[derive(Debug, Args)]
#[command(after_help = SHIP_HELP)]
pub struct ShipArgs {
    /// The data directory whose finished segments are uploaded. [default: $STABMON_DATA, else the recorder's
    /// default directory]
    #[arg(long, value_name = "DIR", env = "STABMON_DATA")]
    data: Option<PathBuf>,

    /// Where to: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///PATH.
    #[arg(value_name = "URL", value_parser = parse_ship_url)]
    url: String,
}

/// Shown after `stabmon ship --help` and `stabmon record --help`.
pub const SHIP_HELP: &str = "Shipping: each finished segment goes to the same path under the URL \
    (samples/host=H/date=D/SEGMENT.parquet, ...), so many hosts can ship into one prefix and DuckDB, Spark, \
    Trino, pyarrow or `stabmon incidents --data URL --all-hosts` read it as one dataset. A file already there with \
    the same size is not sent again. Credentials and endpoint come from the cloud's environment: for S3 \
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL (and AWS_ALLOW_HTTP=true for a plain \
    http:// endpoint); GOOGLE_SERVICE_ACCOUNT for gs://; AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY \
    for az://.";

/// Checks a shipping URL's scheme (bad input, exit 2, when it is not object storage).
pub fn parse_ship_url(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    let ok = [
        "s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://", "file:///",
    ]
    .iter()
    .any(|p| lower.starts_with(p) && lower.len() > p.len());
    if ok {
        Ok(s.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "{s:?} is not an object storage URL: use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, \
             az://CONTAINER/PREFIX or file:///PATH"
        ))
    }
}

pub fn run(args: &ShipArgs) -> anyhow::Result<ExitCode> {
    let dir = datadir::resolve(args.data.as_deref())?;
    if !dir.is_dir() {
        return Err(crate::UsageError(format!(
            "no data at {}: it is not a directory (give the recorder's --data DIR)",
            dir.display()
        ))
        .into());
    }
    let summary = stabmon_store::ship_dir(&dir, &args.url, &[])
        .with_context(|| format!("cannot ship {} to {}", dir.display(), args.url))?;
    eprintln!(
        "stabmon: shipped {} to {}: {} file(s) uploaded ({} bytes), {} already there",
        dir.display(),
        args.url,
        summary.uploaded,
        summary.uploaded_bytes,
        summary.already_there
    );
    Ok(ExitCode::SUCCESS)
}

/// `record --ship`: the shipper thread, nudged when a compaction finishes.
pub struct RecordShipper {
    shipper: stabmon_store::Shipper,
    backlog: usize,
}

/// Starts shipping `dir` to `url` beside the recorder: every minute (at most every `rotate`), and when a
/// compaction finishes; `shipped` is the set the recorder's retention keeps unshipped segments by.
pub fn start_shipper(
    dir: &std::path::Path,
    url: &str,
    rotate: std::time::Duration,
    shipped: stabmon_store::ShippedFiles,
) -> Result<RecordShipper, String> {
    let every = rotate.min(std::time::Duration::from_secs(60));
    let shipper = stabmon_store::Shipper::start(dir, url, &[], every, shipped)
        .map_err(|e| format!("--ship {url}: {e}"))?;
    eprintln!("stabmon: shipping finished segments to {url}");
    Ok(RecordShipper {
        shipper,
        backlog: 0,
    })
}

/// How long the recorder's stop waits for the last shipping round: the segments compacted at stop go up with it.
/// Well under the 90 s a service manager gives a stop by default.
pub const SHIP_AT_STOP: std::time::Duration = std::time::Duration::from_secs(20);

impl RecordShipper {
    /// The last round, after the recorder stopped: its compacted segments shipped, waiting at most
    /// [`SHIP_AT_STOP`]. The line to log.
    pub fn finish(self) -> String {
        let before = self.shipper.uploaded();
        match self.shipper.finish(SHIP_AT_STOP) {
            (true, n) => format!(
                "shipped the last segments at stop ({} file(s) uploaded)",
                n.saturating_sub(before)
            ),
            (false, _) => format!(
                "shipping at stop did not finish within {} s; the segments left wait in the data directory for the \
                 next start (or 'stabmon ship')",
                SHIP_AT_STOP.as_secs()
            ),
        }
    }

    /// The lines to log, given the recorder's compaction backlog now (its fall to zero is a segment written).
    pub fn notices(&mut self, backlog: usize) -> Vec<String> {
        if backlog < self.backlog {
            self.shipper.nudge();
        }
        self.backlog = backlog;
        self.shipper.notices()
    }
}
