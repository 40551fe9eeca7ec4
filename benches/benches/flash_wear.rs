//! Flash wear at the block layer: the recorder writes its journal in real time (1 s interval, top 10, ~1,000
//! synthetic processes) into a data directory on a loop device, and the device's sectors written
//! (`/sys/block/<dev>/stat`) over the run are compared with the floor of one 4 KiB page per sync.
//!
//! `FLASH_BARE=append`, `overwrite` or `idle` runs a bare writer instead of the recorder, for the floor the
//! file system allows: each sync period it writes 200 B per second of the period after what it wrote and calls
//! `fdatasync` once; `append` extends the file, `overwrite` writes into a file whose blocks (4 MiB) were written
//! with zeros and synced before the window, so that no sync changes the file's size or extents; `idle` writes
//! nothing (what the file system writes by itself).
//!
//! `FLASH_ROTATE=SECONDS` rotates the journal that often (the samples' times start on the hour, so rotations fall
//! on multiples of it) and `FLASH_WARM=SECONDS` (default 10) lets that long pass before the window: with a warm-up
//! over two rotations the window sees journals written into recycled files, each rotation's compaction included.
//!
//! `FLASH_ONE_ROTATION=1` measures one hourly rotation instead: three hours of samples recorded as fast as they
//! go (each fsynced), then the first sample of the fourth hour, whose journal takes the spare while the third is
//! compacted; the device's bytes from just before it until 10 s after the compaction (ext4 commits every 5 s),
//! next to what the device writes idle in 10 s, and the ext4 journal's commits in each (from
//! `/proc/fs/jbd2/<dev>-8/info`).
//!
//! Run by `benches/flash_wear.sh` (root), which makes the loop device and mounts it in a mount namespace; alone:
//! `FLASH_DIR=<dir on the device> FLASH_DEV=loop0 FLASH_SYNC=1s FLASH_SECS=300 cargo bench --profile dev -p stabmon-benches
//! --bench flash_wear`.
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions, Retention};

/// Sectors (512 B) written to `dev` since boot: field 7 of its `stat`.
fn sectors_written(dev: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/sys/block/{dev}/stat")).expect("device stat");
    stat.split_whitespace()
        .nth(6)
        .and_then(|f| f.parse().ok())
        .expect("sectors written")
}

/// The ext4 journal's (jbd2's) commits on `dev` since its mount: the first number of
/// `/proc/fs/jbd2/<dev>-8/info` (0 where there is none).
fn jbd2_commits(dev: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/fs/jbd2/{dev}-8/info"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn parse_secs(s: &str) -> Duration {
    let n: u64 = s
        .trim_end_matches('s')
        .parse()
        .expect("a whole number of seconds, such as 5s");
    Duration::from_secs(n)
}

fn main() {
    let (Ok(dir), Ok(dev)) = (std::env::var("FLASH_DIR"), std::env::var("FLASH_DEV")) else {
        println!(
            "skipped: FLASH_DIR and FLASH_DEV are not set (run benches/flash_wear.sh as root)"
        );
        return;
    };
    let sync = parse_secs(&std::env::var("FLASH_SYNC").unwrap_or_else(|_| "1s".into()));
    let secs: u64 = std::env::var("FLASH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    if let Some(how) = std::env::var("FLASH_BARE").ok().filter(|h| !h.is_empty()) {
        bare_writer(&how, &dir, &dev, sync, secs);
        return;
    }
    if std::env::var("FLASH_ONE_ROTATION").is_ok_and(|v| !v.is_empty()) {
        one_rotation(&dir, &dev, sync);
        return;
    }
    // A warm-up before the window, so that the journal's creation is not counted; the samples' times start on
    // the hour, so no rotation falls in the run unless asked for.
    let warm: u64 = std::env::var("FLASH_WARM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rotate = std::env::var("FLASH_ROTATE").ok().map(|s| parse_secs(&s));
    let t0 = Timestamp::from_unix_secs(1_795_575_600); // 2026-11-25T03:00:00Z
    let samples = Synth::new(t0, Duration::from_secs(1))
        .count(warm + secs + 1)
        .processes(1000)
        .top_n(10)
        .generate();
    let mut opts = RecorderOptions::new()
        .sync(sync)
        .retention(Retention::new().max_age(None));
    if let Some(r) = rotate {
        opts = opts.rotate(r);
    }
    let (mut rec, _) = FlightRecorder::open(&dir, opts).expect("open the data directory");
    let start = Instant::now();
    let mut before = None;
    for (i, s) in samples.iter().enumerate() {
        if i as u64 == warm {
            before = Some((sectors_written(&dev), journal_len(&dir)));
        }
        let due = start + Duration::from_secs(i as u64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for notice in rec.record(s) {
            eprintln!("recorder: {notice}");
        }
    }
    let after = sectors_written(&dev);
    let journal_after = journal_len(&dir);
    let (sectors, journal_before) = before.expect("a window");
    let device = (after - sectors) * 512;
    let syncs = (secs as f64 / sync.as_secs_f64()).max(1.0);
    let floor = syncs * 4096.0;
    let per_day = |b: f64| b / secs as f64 * 86_400.0 / 1e6;
    let rotation = rotate.map_or(String::new(), |r| {
        format!(
            ", rotating every {} s ({} rotations in the window, {:.0} B each)",
            r.as_secs(),
            secs / r.as_secs().max(1),
            device as f64 / (secs / r.as_secs().max(1)).max(1) as f64
        )
    });
    // One journal in the window (no rotation): what its records grew by.
    let journal = if rotate.is_none() {
        let grew = journal_after.saturating_sub(journal_before);
        format!(
            "; journal {:.0} B a sample (records grew {grew} B)",
            grew as f64 / secs as f64
        )
    } else {
        String::new()
    };
    println!(
        "sync {}s{rotation}: {secs} s, {:.0} syncs: device {device} B ({:.0} B a sync, {:.2}x the floor of 4 KiB a \
         sync), {:.0} MB a day (floor {:.0} MB){journal}",
        sync.as_secs(),
        syncs,
        device as f64 / syncs,
        device as f64 / floor,
        per_day(device as f64),
        per_day(floor),
    );
    rec.stop(samples[samples.len() - 1].ts).expect("stop");
    if rotate.is_some() {
        // The files left: the spare (a recycled journal's file) and its length.
        for e in std::fs::read_dir(std::path::Path::new(&dir).join("_journal"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            println!("  {}: {len} B", e.path().display());
        }
    }
}

/// One hourly rotation in steady state (see the crate docs).
fn one_rotation(dir: &str, dev: &str, sync: Duration) {
    let hours = 3;
    let t0 = Timestamp::from_unix_secs(1_795_575_600); // 2026-11-25T03:00:00Z
    let samples = Synth::new(t0, Duration::from_secs(1))
        .count(hours * 3600 + 1)
        .processes(1000)
        .top_n(10)
        .generate();
    let opts = RecorderOptions::new()
        .sync(sync)
        .retention(Retention::new().max_age(None));
    let (mut rec, _) = FlightRecorder::open(dir, opts).expect("open the data directory");
    let (hours_of, next) = samples.split_at(samples.len() - 1);
    for s in hours_of {
        for notice in rec.record(s) {
            eprintln!("recorder: {notice}");
        }
    }
    for notice in rec.wait_for_compaction() {
        eprintln!("recorder: {notice}");
    }
    // Past the kernel's writeback of what the three hours left dirty (30 s), then 10 s idle for comparison.
    std::thread::sleep(Duration::from_secs(35));
    let settle = Duration::from_secs(10);
    let idle_from = sectors_written(dev);
    let idle_commits = jbd2_commits(dev);
    std::thread::sleep(settle);
    let before = sectors_written(dev);
    let commits = jbd2_commits(dev);
    let spare = std::path::Path::new(dir).join("_journal/spare");
    let spare_len = std::fs::metadata(&spare).map_or(0, |m| m.len());
    let rotation = Instant::now();
    for notice in rec.record(&next[0]) {
        eprintln!("recorder: {notice}");
    }
    for notice in rec.wait_for_compaction() {
        eprintln!("recorder: {notice}");
    }
    let compacted = sectors_written(dev);
    let compacted_commits = jbd2_commits(dev);
    std::thread::sleep(settle);
    let after = sectors_written(dev);
    println!(
        "one rotation after {hours} h at 1 s (a spare of {spare_len} B before it): device {} B from the rotation to \
         10 s after its compaction ({:.1} s; {} B and {} ext4 journal commits until the compaction's end, {} \
         commits in all); {} B and {} commits idle in 10 s",
        (after - before) * 512,
        rotation.elapsed().as_secs_f64(),
        (compacted - before) * 512,
        compacted_commits - commits,
        jbd2_commits(dev) - commits,
        (before - idle_from) * 512,
        commits - idle_commits,
    );
    rec.stop(next[0].ts).expect("stop");
}

/// The floor the file system allows: 200 B a second written at the file's logical end, one `fdatasync` per sync
/// period, into a file that grows (`append`) or into blocks written and synced before the window (`overwrite`).
fn bare_writer(how: &str, dir: &str, dev: &str, sync: Duration, secs: u64) {
    use std::io::{Seek, SeekFrom, Write};
    std::fs::create_dir_all(dir).expect("create the directory");
    let path = std::path::Path::new(dir).join("bare.journal");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .expect("create the file");
    if how == "overwrite" {
        file.write_all(&vec![0u8; 4 << 20]).expect("write zeros");
        file.sync_all().expect("sync");
    }
    let record = [0x5au8; 200];
    let every = sync.as_secs().max(1);
    // Settle: the file's creation and zeros are committed before the window.
    std::thread::sleep(Duration::from_secs(6));
    let before = sectors_written(dev);
    let start = Instant::now();
    let mut at = 0u64;
    for i in 1..=secs {
        if how == "idle" {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        file.seek(SeekFrom::Start(at)).expect("seek");
        file.write_all(&record).expect("write");
        at += record.len() as u64;
        if i % every == 0 {
            file.sync_data().expect("fdatasync");
        }
        let due = start + Duration::from_secs(i);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let device = (sectors_written(dev) - before) * 512;
    let syncs = (secs / every).max(1) as f64;
    println!(
        "bare writer ({how}), sync {every}s: {secs} s, {syncs:.0} syncs: device {device} B ({:.0} B a sync, {:.2}x the \
         floor of 4 KiB a sync)",
        device as f64 / syncs,
        device as f64 / (syncs * 4096.0),
    );
}

/// The bytes of the journal's records: its length without any zero tail (one journal in a new file: no rotation).
fn journal_len(dir: &str) -> u64 {
    let bytes = std::fs::read(journal(dir)).unwrap_or_default();
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

/// The journal the recorder writes (the only one: no rotation in the run).
fn journal(dir: &str) -> std::path::PathBuf {
    let host = std::path::Path::new(dir).join("_journal");
    std::fs::read_dir(&host)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|h| std::fs::read_dir(h.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "journal"))
        .unwrap_or_default()
}
