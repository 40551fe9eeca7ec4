//! Retention: delete the oldest finished segments by age (`--retain`) and by total size (`--max-disk`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use stabmon_core::Timestamp;

use crate::error::{Error, io};
use crate::manifest::{Manifest, abs_path};

/// The default age limit: 30 days.
///
/// Why 30 days: "since when has this been happening?" is usually answered within weeks, a month covers
/// weekly and month-end jobs, and at the measured density (a few MB a day at 1 s with top 10) a month is well
/// under 1 GB, small enough to leave on any server.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(30 * 86_400);

/// What to keep. Build with [`Retention::new`] and the setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Delete segments whose last sample is older than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest segments while the data directory holds more than this many bytes.
    pub max_bytes: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Some(DEFAULT_RETAIN),
            max_bytes: None,
        }
    }
}

impl Retention {
    /// The default: [`DEFAULT_RETAIN`] and no size limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps segments for at most this long (`None`: forever). By default, this is set to [`DEFAULT_RETAIN`].
    pub fn max_age(mut self, age: Option<Duration>) -> Self {
        self.max_age = age;
        self
    }

    /// Keeps at most this many bytes of segments and journal (`None`: no limit). By default, there is no limit.
    pub fn max_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_bytes = bytes;
        self
    }
}

/// Parses a size: a number with an optional unit, `B`, decimal `kB`/`KB`, `MB`, `GB`, `TB` (powers of 1000) or
/// binary `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), case-insensitive; `1.5GB` is allowed.
pub fn parse_size(input: &str) -> Result<u64, String> {
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {input:?}: unknown unit {unit:?} (use B, kB, MB, GB, TB = powers of 1000 or KiB, MiB, GiB, TiB = powers of 1024)"
            ));
        }
    };
    let value: f64 = num.parse().map_err(|_| {
        format!("invalid size {input:?}: expected a number and a unit, like 1GB or 500MiB")
    })?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!(
            "invalid size {input:?}: it must be at least 1 byte"
        ));
    }
    Ok(bytes.round() as u64)
}

/// What retention deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Segments deleted (each with all its tables' files).
    pub segments_deleted: u64,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Of the segments deleted, those not yet shipped (deleted only when the size limit forced them out).
    pub unshipped_deleted: u64,
}

/// A segment with all its tables.
struct Group {
    end: Timestamp,
    bytes: u64,
    paths: Vec<String>,
}

/// Deletes segments as `policy` asks, oldest first, and updates `manifest.segments` (not the file: the caller
/// stores it). `other_bytes` (the live journal) counts towards the size limit but is never deleted. With
/// `shipped`, a segment with a file not in it is kept past the age limit, and counted when the size limit deletes
/// it.
pub(crate) fn apply(
    root: &Path,
    manifest: &mut Manifest,
    policy: Retention,
    shipped: Option<&crate::ShippedFiles>,
    now: Timestamp,
    other_bytes: u64,
) -> Result<RetentionReport, Error> {
    let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
    for s in &manifest.segments {
        let g = groups
            .entry((s.host.clone(), s.date.clone(), s.name.clone()))
            .or_insert(Group {
                end: Timestamp::UNIX_EPOCH,
                bytes: 0,
                paths: Vec::new(),
            });
        g.end = g.end.max(s.to.or(s.from).unwrap_or(Timestamp::UNIX_EPOCH));
        g.bytes += s.bytes;
        g.paths.push(s.path.clone());
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by_key(|g| g.end);
    let mut total: u64 = groups.iter().map(|g| g.bytes).sum::<u64>() + other_bytes;
    let cutoff = policy.max_age.map(|a| now.saturating_sub(a));
    let mut report = RetentionReport::default();
    let mut deleted = std::collections::HashSet::new();
    for g in &groups {
        let too_old = cutoff.is_some_and(|c| g.end < c);
        let too_big = policy.max_bytes.is_some_and(|m| total > m);
        if !too_old && !too_big {
            break; // sorted oldest first: the rest is newer and, once under the limit, stays under it
        }
        let unshipped = shipped.is_some_and(|s| g.paths.iter().any(|p| !s.contains(p)));
        if unshipped && !too_big {
            continue; // old, but not in the bucket yet
        }
        report.unshipped_deleted += u64::from(unshipped);
        for p in &g.paths {
            let path = abs_path(root, p);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
            deleted.insert(p.clone());
            if let Some(dir) = path.parent() {
                // The date partition, then the host partition, when they became empty.
                if std::fs::remove_dir(dir).is_ok()
                    && let Some(host_dir) = dir.parent()
                {
                    let _ = std::fs::remove_dir(host_dir);
                }
            }
        }
        total = total.saturating_sub(g.bytes);
        report.segments_deleted += 1;
        report.bytes_freed += g.bytes;
    }
    manifest.segments.retain(|s| !deleted.contains(&s.path));
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1.5gb"), Ok(1_500_000_000));
        assert_eq!(parse_size("500MiB"), Ok(500 << 20));
        assert_eq!(parse_size("256k"), Ok(256_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2TB"), Ok(2_000_000_000_000));
        for bad in ["", "GB", "0", "1XB", "-1GB", "1..2GB", "0.1B"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
