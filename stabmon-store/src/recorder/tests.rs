//! Tests of the flight recorder: recovery, power cuts and full disks through the fault-injecting layer,
//! rotation, retention, the lock.

use std::time::Duration;

use stabmon_core::{ProcessEntry, Sample, Timestamp};

use super::*;
use crate::fsio::FaultFs;
use crate::{StoreReader, StoreWriter};

const T0: i64 = 1_795_576_320; // 2026-11-25T03:12:00Z

fn sample(i: u64) -> Sample {
    let mut s = Sample::new(
        Timestamp::from_unix_secs(T0).saturating_add(Duration::from_secs(i)),
        "nas",
    );
    s.interval = Duration::from_secs(1);
    s.top.n = 10;
    let mut p = ProcessEntry::new(100 + (i % 3) as u32, "worker");
    p.cpu_pct = i as f32;
    p.cpu_rank = Some(1);
    s.top.processes = vec![p];
    s
}

fn times(samples: &[Sample]) -> Vec<i64> {
    samples.iter().map(|s| s.ts.as_unix_secs() - T0).collect()
}

fn read_all(dir: &Path) -> Vec<Sample> {
    let r = StoreReader::open(dir).unwrap();
    let v = r.samples(None, None).unwrap();
    assert_eq!(r.warnings(), Vec::<String>::new());
    v
}

#[test]
fn journal_is_readable_at_once_and_a_stop_compacts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.journals, 0);
    for i in 0..5 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    assert_eq!(times(&read_all(tmp.path())), [0, 1, 2, 3, 4]);
    let summary = rec.stop(Timestamp::from_unix_secs(T0 + 5)).unwrap();
    assert_eq!(summary.samples, 5);
    assert!(!summary.files.is_empty());
    let back = read_all(tmp.path());
    assert_eq!(back, (0..5).map(sample).collect::<Vec<_>>());
    let reader = StoreReader::open(tmp.path()).unwrap();
    assert_eq!(
        reader.clean_stops(Some("nas")),
        [Timestamp::from_unix_secs(T0 + 5)]
    );
    // No journal left, and the manifest lists the three tables' files.
    assert!(journal_files(&RealFs, tmp.path()).unwrap().is_empty());
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    assert_eq!(m.segments.len(), 3);
    assert!(m.journals.is_empty());
    let samples_seg = m.segments.iter().find(|s| s.table == "samples").unwrap();
    assert_eq!(samples_seg.rows, 5);
    assert_eq!(samples_seg.from, Some(Timestamp::from_unix_secs(T0)));
    assert_eq!(samples_seg.to, Some(Timestamp::from_unix_secs(T0 + 4)));
}

#[test]
fn a_crash_is_recovered_at_the_next_start_without_a_clean_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rec, _) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    for i in 0..7 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    // A crash: nothing is finished; the kernel releases the lock (here: closing the lock file).
    drop(rec);
    let (rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.samples, 7);
    assert_eq!(
        recovery.last_sample,
        Some(Timestamp::from_unix_secs(T0 + 6))
    );
    assert_eq!(recovery.clean_stops, 0);
    assert_eq!(times(&read_all(tmp.path())), (0..7).collect::<Vec<_>>());
    assert!(
        StoreReader::open(tmp.path())
            .unwrap()
            .clean_stops(None)
            .is_empty()
    );
    drop(rec);
}

/// Samples with exits in a journal left by a crash come back whole through the compaction into the store; a
/// sample without exits comes back without.
#[test]
fn exits_in_a_journal_are_recovered_whole_through_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rec, _) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    let samples: Vec<Sample> = (0..9)
        .map(|i| {
            let mut s = sample(i);
            s.exits = match i % 3 {
                0 => Some(crate::codec::tests::storm_exits(i as u32)),
                1 => Some(stabmon_core::Exits::default()),
                _ => None,
            };
            s
        })
        .collect();
    for s in &samples {
        assert!(rec.record(s).is_empty());
    }
    drop(rec);
    let (rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.samples, 9);
    assert!(recovery.set_aside.is_empty(), "{:?}", recovery.warnings);
    assert!(journal_files(&RealFs, tmp.path()).unwrap().is_empty());
    assert_eq!(read_all(tmp.path()), samples);
    drop(rec);
}

#[test]
fn a_journal_cut_mid_frame_gives_back_every_complete_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rec, _) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    for i in 0..4 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    let path = rec.journal.as_ref().unwrap().path().to_path_buf();
    // The records' bytes (the file is longer: zeros written ahead).
    let len = rec.journal.as_ref().unwrap().len();
    drop(rec.journal.take());
    drop(rec);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    let (_rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.samples, 3);
    assert!(recovery.torn_bytes > 0);
    assert!(
        recovery
            .warnings
            .iter()
            .any(|w| w.contains("cut by the crash")),
        "{:?}",
        recovery.warnings
    );
    assert_eq!(times(&read_all(tmp.path())), [0, 1, 2]);
}

#[test]
fn a_power_cut_keeps_every_synced_sample_and_never_half_a_sample() {
    // Appended as is, and with zeros ahead of the records (by small steps, crossed every few records, and by
    // 256 KiB): a zero tail is the end of the journal, not damage.
    for step in [0, 100, 256 << 10] {
        power_cut_with_zeros_ahead(step);
    }
}

fn power_cut_with_zeros_ahead(step: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    fs.set_preallocate(step);
    let root = tmp.path().to_path_buf();
    // The default: sync every 1 s at a 1 s interval: each sample is fsynced as it is written.
    let (mut rec, _) = FlightRecorder::open_with(
        root.clone(),
        RecorderOptions::new(),
        Arc::new(fs.clone()),
        None,
    )
    .unwrap();
    let before = fs.fsyncs();
    for i in 0..6 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    assert!(fs.fsyncs() >= before + 6, "one fsync per sample at least");
    drop(rec.journal.take());
    drop(rec);
    fs.power_cut();
    let (_rec, recovery) = FlightRecorder::open_with(
        root.clone(),
        RecorderOptions::new(),
        Arc::new(fs.clone()),
        None,
    )
    .unwrap();
    assert_eq!(recovery.samples, 6);
    assert_eq!(recovery.torn_bytes, 0);

    // A long sync period: what was not synced is lost at a power cut, and what survives is whole.
    let tmp = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    fs.set_preallocate(step);
    let root = tmp.path().to_path_buf();
    let opts = RecorderOptions::new().sync(Duration::from_secs(3600));
    let (mut rec, _) =
        FlightRecorder::open_with(root.clone(), opts.clone(), Arc::new(fs.clone()), None).unwrap();
    for i in 0..6 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    rec.journal.as_mut().unwrap().sync().unwrap();
    for i in 6..9 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    drop(rec.journal.take());
    drop(rec);
    fs.power_cut();
    let (_rec, recovery) =
        FlightRecorder::open_with(root.clone(), opts, Arc::new(fs.clone()), None).unwrap();
    assert_eq!(
        recovery.samples, 6,
        "the 3 unsynced samples are gone, the synced ones all there"
    );
    assert_eq!(times(&read_all(&root)), (0..6).collect::<Vec<_>>());
}

#[test]
fn a_full_disk_buffers_logs_once_drops_the_overflow_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let root = tmp.path().to_path_buf();
    let opts = RecorderOptions::new().buffer_samples(5);
    let (mut rec, _) =
        FlightRecorder::open_with(root.clone(), opts.clone(), Arc::new(fs.clone()), None).unwrap();
    for i in 0..3 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    // The manifest listing the journal is written (by the compaction thread) before the disk fills.
    assert!(rec.wait_for_compaction().is_empty());
    let journal = rec.journal.as_ref().unwrap().path().to_path_buf();
    let used = fs.read(&journal).unwrap().len() as u64
        + fs.read(&root.join("manifest.json")).unwrap().len() as u64;
    fs.set_capacity(Some(used + 10));
    let mut notices = Vec::new();
    for i in 3..11 {
        notices.extend(rec.record(&sample(i)));
    }
    // One failure notice, one dropping notice: not one per sample.
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        matches!(&notices[0], Notice::WriteFailed { path, .. } if *path == journal),
        "{notices:?}"
    );
    assert!(
        notices[0]
            .to_string()
            .contains(&journal.display().to_string())
    );
    assert!(matches!(notices[1], Notice::Dropping { capacity: 5 }));
    assert_eq!(rec.pending(), 5);
    assert_eq!(rec.dropped(), 3);
    fs.set_capacity(None);
    let notices = rec.record(&sample(11));
    assert_eq!(
        notices,
        [Notice::Resumed {
            path: journal.clone(),
            written: 6,
            dropped: 3
        }]
    );
    assert_eq!(rec.pending(), 0);
    rec.stop(Timestamp::from_unix_secs(T0 + 12)).unwrap();
    // The three oldest waiting samples (3, 4, 5) were dropped; everything else is there, in order.
    assert_eq!(times(&read_all(&root)), [0, 1, 2, 6, 7, 8, 9, 10, 11]);
}

#[test]
fn rotation_compacts_each_period_into_its_own_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = RecorderOptions::new().rotate(Duration::from_secs(10));
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    // T0 is 03:12:00, a multiple of 10 s: windows [0,10), [10,20), [20,25). Compaction keeps up here (the
    // test waits for it after each sample), so nothing is worth a notice.
    for i in 0..25 {
        assert!(rec.record(&sample(i)).is_empty());
        assert!(rec.wait_for_compaction().is_empty());
    }
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    let names: Vec<&str> = m
        .segments
        .iter()
        .filter(|s| s.table == "samples")
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["20261125T031200Z", "20261125T031210Z"]);
    assert_eq!(m.journals.len(), 1, "the live journal is listed");
    assert_eq!(times(&read_all(tmp.path())), (0..25).collect::<Vec<_>>());
    rec.stop(Timestamp::from_unix_secs(T0 + 25)).unwrap();
    assert_eq!(times(&read_all(tmp.path())), (0..25).collect::<Vec<_>>());
}

/// A recorder rotating every 10 s in a fresh directory, its files behind a `FaultFs` the test can fail or cut.
fn rotating_on_fault_fs() -> (tempfile::TempDir, FaultFs, FlightRecorder) {
    let tmp = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let opts = RecorderOptions::new().rotate(Duration::from_secs(10));
    let (rec, _) =
        FlightRecorder::open_with(tmp.path().to_path_buf(), opts, Arc::new(fs.clone()), None)
            .unwrap();
    (tmp, fs, rec)
}

/// A rotation writes the manifest once: the compaction's update (segments listed, the journal compacted) before the
/// journal is retired; retention, finding nothing to delete, does not write the same again.
#[test]
fn a_rotation_writes_the_manifest_once() {
    let (tmp, fs, mut rec) = rotating_on_fault_fs();
    let root = tmp.path().to_path_buf();
    for i in 0..10 {
        assert!(rec.record(&sample(i)).is_empty());
        assert!(rec.wait_for_compaction().is_empty());
    }
    let tmp_manifest = root.join(format!(".{}.tmp", crate::manifest::MANIFEST_FILE));
    let before = fs.synced_writes(&tmp_manifest);
    assert!(before > 0);
    // Sample 10 opens the next window: the first journal is compacted.
    assert!(rec.record(&sample(10)).is_empty());
    assert!(rec.wait_for_compaction().is_empty());
    assert_eq!(fs.synced_writes(&tmp_manifest), before + 1);
    let m = Manifest::load(&fs, &root).unwrap().unwrap();
    assert_eq!(
        m.segments.iter().filter(|s| s.table == "samples").count(),
        1
    );
    assert_eq!(m.journals.len(), 1, "the live journal is listed");
    assert_eq!(m.journals[0].seq, m.compacted_journal_seq + 1);
    rec.stop(Timestamp::from_unix_secs(T0 + 11)).unwrap();
}

/// From the third rotation on, each journal is written into the file of one compacted before (the spare): no zeros
/// laid, and neither the readers nor a recovery after a crash take the older journal's records left in it.
#[test]
fn rotation_recycles_compacted_journal_files_and_their_old_records_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let spare = spare_path(tmp.path());
    let opts = RecorderOptions::new().rotate(Duration::from_secs(10));
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts.clone()).unwrap();
    let mut lens = Vec::new();
    for i in 0..35 {
        assert!(rec.record(&sample(i)).is_empty());
        assert!(rec.wait_for_compaction().is_empty());
        let j = rec.journal.as_ref().unwrap();
        if i % 10 == 0 {
            // The first two journals are new files; then each takes the spare the compaction before left.
            assert_eq!(j.recycled(), i >= 20, "journal of sample {i}");
            lens.push(std::fs::metadata(j.path()).unwrap().len());
        }
        // The spare is there from the first compaction on, except between taking it and the next compaction.
        assert_eq!(spare.is_file(), i >= 10, "sample {i}");
    }
    assert!(
        lens.iter().all(|&l| l == crate::fsio::PREALLOCATE_BYTES),
        "{lens:?}"
    );
    assert_eq!(journal_files(&RealFs, tmp.path()).unwrap().len(), 1);
    assert_eq!(times(&read_all(tmp.path())), (0..35).collect::<Vec<_>>());
    // A crash: the recycled journal's 5 samples are recovered, and only they.
    drop(rec);
    let (rec, recovery) = FlightRecorder::open(tmp.path(), opts.clone()).unwrap();
    assert_eq!((recovery.journals, recovery.samples), (1, 5));
    assert_eq!(recovery.torn_bytes, 0);
    assert_eq!(times(&read_all(tmp.path())), (0..35).collect::<Vec<_>>());
    // The next journal takes the spare the recovery left.
    assert!(spare.is_file());
    let mut rec = rec;
    assert!(rec.record(&sample(40)).is_empty());
    assert!(rec.journal.as_ref().unwrap().recycled());
    rec.stop(Timestamp::from_unix_secs(T0 + 41)).unwrap();
    let mut want: Vec<i64> = (0..35).collect();
    want.push(40);
    assert_eq!(times(&read_all(tmp.path())), want);
}

/// A directory opened without its manifest may number journals from 1 again, whose salts the older records left in
/// the spare could then match: the spare is deleted, not taken.
#[test]
fn without_the_manifest_the_spare_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let spare = spare_path(tmp.path());
    let opts = RecorderOptions::new().rotate(Duration::from_secs(10));
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts.clone()).unwrap();
    for i in 0..15 {
        assert!(rec.record(&sample(i)).is_empty());
        assert!(rec.wait_for_compaction().is_empty());
    }
    rec.stop(Timestamp::from_unix_secs(T0 + 15)).unwrap();
    assert!(spare.is_file());
    // With the manifest, the spare stays for the next journal.
    drop(FlightRecorder::open(tmp.path(), opts.clone()).unwrap());
    assert!(spare.is_file());
    std::fs::remove_file(tmp.path().join("manifest.json")).unwrap();
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    assert!(!spare.is_file(), "deleted at open");
    assert!(rec.record(&sample(20)).is_empty());
    assert!(!rec.journal.as_ref().unwrap().recycled());
    rec.stop(Timestamp::from_unix_secs(T0 + 21)).unwrap();
}

/// A full disk gives the spare's blocks to the live journal: the spare is deleted at the first failed write.
#[test]
fn a_full_disk_deletes_the_spare() {
    let (tmp, fs, mut rec) = rotating_on_fault_fs();
    let root = tmp.path().to_path_buf();
    for i in 0..12 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    assert!(rec.wait_for_compaction().is_empty());
    let spare = spare_path(&root);
    assert!(
        fs.contents(&spare).is_some(),
        "the first journal is the spare"
    );
    fs.set_capacity(Some(0));
    let notices = rec.record(&sample(12));
    assert!(
        matches!(notices[..], [Notice::WriteFailed { .. }]),
        "{notices:?}"
    );
    assert!(fs.contents(&spare).is_none());
    fs.set_capacity(None);
    assert_eq!(rec.record(&sample(13)).len(), 1, "resumed");
    rec.stop(Timestamp::from_unix_secs(T0 + 14)).unwrap();
    assert_eq!(times(&read_all(&root)), (0..14).collect::<Vec<_>>());
}

#[test]
fn recovery_does_not_write_twice_what_a_crash_had_already_compacted() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rec, _) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    for i in 0..4 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    drop(rec.journal.take());
    drop(rec);
    // The crash came after the segment was renamed into place, before the manifest was updated.
    let mut w = StoreWriter::create(tmp.path()).unwrap();
    for i in 0..4 {
        w.write(&sample(i)).unwrap();
    }
    w.finish().unwrap();
    let (_rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.samples, 0);
    assert_eq!(times(&read_all(tmp.path())), [0, 1, 2, 3]);
}

#[test]
fn retention_by_age_and_by_size_deletes_the_oldest_segments_first() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Timestamp::now().as_unix_secs();
    // Five daily segments, 10 samples each, the newest 1 day old.
    for day in (1..=5u64).rev() {
        let mut w = StoreWriter::create(tmp.path()).unwrap();
        for i in 0..10 {
            let mut s = sample(i);
            s.ts = Timestamp::from_unix_secs(now - (day as i64) * 86_400 + i as i64);
            w.write(&s).unwrap();
        }
        w.finish().unwrap();
    }
    let days = |dir: &Path| {
        let mut v: Vec<i64> = read_all(dir)
            .iter()
            .map(|s| (now - s.ts.as_unix_secs() + 86_399) / 86_400)
            .collect();
        v.dedup();
        v
    };
    assert_eq!(days(tmp.path()), [5, 4, 3, 2, 1]);
    // By age: keep 3.5 days.
    let opts = RecorderOptions::new()
        .retention(Retention::new().max_age(Some(Duration::from_secs(84 * 3600))));
    let (rec, recovery) = FlightRecorder::open(tmp.path(), opts).unwrap();
    assert!(
        recovery
            .warnings
            .iter()
            .any(|w| w.contains("deleted 2 old segments")),
        "{:?}",
        recovery.warnings
    );
    assert_eq!(days(tmp.path()), [3, 2, 1]);
    drop(rec);
    // By size: room for about two segments.
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    let per_segment: u64 = m
        .segments
        .iter()
        .filter(|s| s.name == m.segments[0].name)
        .map(|s| s.bytes)
        .sum();
    let opts = RecorderOptions::new()
        .retention(Retention::new().max_bytes(Some(per_segment * 2 + per_segment / 2)));
    let (rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    assert_eq!(days(tmp.path()), [2, 1]);
    // Emptied partitions are removed too.
    let dates = std::fs::read_dir(tmp.path().join("samples/host=nas"))
        .unwrap()
        .count();
    assert_eq!(dates, 2);
    drop(rec);
}

#[test]
fn a_copy_of_other_data_inside_the_directory_is_neither_listed_nor_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    let mut w = StoreWriter::create(&old).unwrap();
    for i in 0..10 {
        w.write(&sample(i)).unwrap();
    }
    let copied = w.finish().unwrap().files;
    assert_eq!(copied.len(), 3);
    // Every segment older than a day is due: the copy's are years old.
    let opts = RecorderOptions::new()
        .retention(Retention::new().max_age(Some(Duration::from_secs(86_400))));
    let (mut rec, recovery) = FlightRecorder::open(tmp.path(), opts).unwrap();
    assert!(recovery.warnings.is_empty(), "{:?}", recovery.warnings);
    assert!(rec.record(&sample(20)).is_empty());
    drop(rec);
    for f in &copied {
        assert!(f.exists(), "{} was deleted", f.display());
    }
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    assert!(
        m.segments.iter().all(|s| !s.path.starts_with("old/")),
        "{:?}",
        m.segments
    );
    assert_eq!(times(&read_all(&old)), (0..10).collect::<Vec<_>>());
}

#[test]
fn a_copy_inside_the_samples_directory_does_not_hide_the_recorders_own_samples() {
    let tmp = tempfile::tempdir().unwrap();
    // A copy of the same samples kept below `samples/`: its times must not count as already compacted.
    let mut w = StoreWriter::create(tmp.path().join("samples/old")).unwrap();
    for i in 0..10 {
        w.write(&sample(i)).unwrap();
    }
    w.finish().unwrap();
    let opts = RecorderOptions::new().retention(Retention::new().max_age(None));
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    for i in 0..10 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    rec.stop(Timestamp::from_unix_secs(T0 + 10)).unwrap();
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    let rows: Vec<u64> = m
        .segments
        .iter()
        .filter(|s| s.table == "samples")
        .map(|s| s.rows)
        .collect();
    assert_eq!(rows, [10], "{:?}", m.segments);
}

#[test]
fn the_live_journal_is_never_deleted_by_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = RecorderOptions::new()
        .rotate(Duration::from_secs(10))
        .retention(Retention::new().max_age(None).max_bytes(Some(1)));
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    let mut notices = Vec::new();
    for i in 0..15 {
        notices.extend(rec.record(&sample(i)));
    }
    notices.extend(rec.wait_for_compaction());
    assert!(
        notices.iter().any(|n| matches!(n, Notice::Retained { .. })),
        "{notices:?}"
    );
    // The finished segment [0, 10) went; the live journal [10, 15) stays readable.
    assert_eq!(times(&read_all(tmp.path())), (10..15).collect::<Vec<_>>());
}

#[test]
fn a_second_recorder_on_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (rec, _) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    let err = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    drop(rec);
    FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
}

#[test]
fn an_unreadable_journal_is_set_aside_not_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let p = journal_path(tmp.path(), "nas", 3);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, b"this is not a journal at all").unwrap();
    let (_rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.set_aside.len(), 1);
    assert!(recovery.set_aside[0].exists());
    assert!(
        recovery.warnings[0].contains("not a readable journal"),
        "{:?}",
        recovery.warnings
    );
}

/// Copies the committed format-1 journal (left by a crashed recorder of that format) into `root`.
fn plant_v1_journal(root: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/journal-v1/00000000000000000042.journal");
    let p = journal_path(root, "nas-01", 42);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::copy(fixture, &p).unwrap();
    p
}

#[test]
fn a_journal_of_format_1_left_by_a_crash_is_recovered_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plant_v1_journal(tmp.path());
    let mut want = crate::codec::read_journal(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!((want.version, want.undecodable), (1, 0));
    want.samples.sort_by_key(|s| s.ts);
    let (rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.samples, want.samples.len() as u64);
    assert_eq!(recovery.clean_stops, 1);
    assert!(recovery.set_aside.is_empty(), "{:?}", recovery.warnings);
    assert!(!p.exists(), "compacted and removed");
    let got = read_all(tmp.path());
    assert_eq!(got.len(), want.samples.len());
    for (g, w) in got.iter().zip(&want.samples) {
        assert_eq!(
            (g.ts, &g.host, g.top.processes.len()),
            (w.ts, &w.host, w.top.processes.len())
        );
    }
    assert_eq!(
        StoreReader::open(tmp.path()).unwrap().clean_stops(None),
        [want.stops[0].ts]
    );
    // The next journal is written in the current format, after the old one's sequence number.
    drop(rec);
}

#[test]
fn records_that_do_not_decode_set_the_journal_aside_and_the_rest_is_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plant_v1_journal(tmp.path());
    // Replace the 5th record by one of the same kind whose bytes are not a sample, with a valid CRC.
    let mut bytes = std::fs::read(&p).unwrap();
    let mut at = crate::journal::HEADER_LEN;
    for _ in 0..4 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 9 + len;
    }
    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let mut frame = Vec::new();
    crate::journal::encode_frame(
        crate::journal::Kind::Sample,
        &vec![0xff; len],
        0,
        &mut frame,
    );
    bytes.splice(at..at + 9 + len, frame);
    std::fs::write(&p, &bytes).unwrap();
    let total = crate::codec::read_journal(&bytes).unwrap();
    assert_eq!(total.undecodable, 1);

    let (_rec, recovery) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert_eq!(recovery.samples, total.samples.len() as u64);
    let aside = p.with_extension("journal.undecodable");
    assert_eq!(recovery.set_aside, std::slice::from_ref(&aside));
    assert_eq!(std::fs::read(&aside).unwrap(), bytes, "kept as it was");
    let line = recovery
        .warnings
        .iter()
        .find(|w| w.contains("did not decode"))
        .unwrap();
    assert!(
        line.contains(&aside.display().to_string()) && line.starts_with("1 records"),
        "{line}"
    );
    // What decoded is readable.
    assert_eq!(read_all(tmp.path()).len(), total.samples.len());
}

#[test]
fn an_undecodable_record_in_the_open_journal_is_reported_when_it_is_compacted() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rec, _) = FlightRecorder::open(tmp.path(), RecorderOptions::new()).unwrap();
    assert!(rec.record(&sample(0)).is_empty());
    // Something else wrote a record this recorder cannot decode (same kind, bytes that are no sample).
    let path = rec.journal.as_ref().unwrap().path().to_path_buf();
    rec.journal
        .as_mut()
        .unwrap()
        .append(crate::journal::Kind::Key, b"garbage", Duration::ZERO)
        .unwrap();
    rec.encoder.reset();
    assert!(rec.record(&sample(1)).is_empty());
    let summary = rec.stop(Timestamp::from_unix_secs(T0 + 2)).unwrap();
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    assert!(summary.warnings[0].starts_with("1 records of the journal"));
    assert!(path.with_extension("journal.undecodable").exists());
    assert_eq!(times(&read_all(tmp.path())), [0, 1]);
}

#[test]
fn sampling_never_waits_for_compaction_and_a_backlog_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = RecorderOptions::new().rotate(Duration::from_secs(10));
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    // The compaction thread is stuck (as in a long compaction under a CPU storm) until the gate opens.
    let gate = Arc::new(std::sync::Mutex::new(()));
    let held = gate.lock().unwrap();
    rec.worker.pause(Arc::clone(&gate));
    let mut notices = Vec::new();
    // Three windows closed: every record call returns although nothing can be compacted.
    for i in 0..35 {
        notices.extend(rec.record(&sample(i)));
    }
    assert_eq!(rec.samples(), 35);
    assert_eq!(rec.compaction_backlog(), 3);
    assert_eq!(notices, [Notice::CompactionBehind { journals: 2 }]);
    // Everything is readable meanwhile, from the journals.
    assert_eq!(times(&read_all(tmp.path())), (0..35).collect::<Vec<_>>());
    drop(held);
    assert!(rec.wait_for_compaction().is_empty());
    assert_eq!(rec.compaction_backlog(), 0);
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    assert_eq!(
        m.segments.iter().filter(|s| s.table == "samples").count(),
        3
    );
    assert_eq!(times(&read_all(tmp.path())), (0..35).collect::<Vec<_>>());
    rec.stop(Timestamp::from_unix_secs(T0 + 35)).unwrap();
    assert_eq!(times(&read_all(tmp.path())), (0..35).collect::<Vec<_>>());
}

/// With compaction inline, the rotating `record()` call has compacted the closed journal when it returns.
#[test]
fn inline_compaction_is_done_when_the_rotating_call_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = RecorderOptions::new()
        .rotate(Duration::from_secs(10))
        .compact_inline(true);
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts).unwrap();
    for i in 0..11 {
        assert!(rec.record(&sample(i)).is_empty());
    }
    assert_eq!(rec.compaction_backlog(), 0);
    let m = Manifest::load(&RealFs, tmp.path()).unwrap().unwrap();
    assert_eq!(
        m.segments.iter().filter(|s| s.table == "samples").count(),
        1
    );
    assert_eq!(journal_files(&RealFs, tmp.path()).unwrap().len(), 1);
    rec.stop(Timestamp::from_unix_secs(T0 + 11)).unwrap();
    assert_eq!(times(&read_all(tmp.path())), (0..11).collect::<Vec<_>>());
}

/// `sample(i)` with its process's cgroup and, every fourth sample, an OOM kill the kernel log named.
fn annexed_sample(i: u64) -> Sample {
    let mut s = sample(i);
    for p in &mut s.top.processes {
        p.cgroup = Some(format!("/system.slice/worker-{}.service", p.pid));
    }
    if i % 4 == 3 {
        let mut k = stabmon_core::OomKill::new(
            s.ts.saturating_sub(Duration::from_millis(300)),
            900 + i as u32,
            "hog",
        );
        k.anon_rss_bytes = Some((i + 1) << 20);
        k.constraint = Some("CONSTRAINT_MEMCG".into());
        k.memcg = true;
        k.cgroup = Some("/system.slice/batch.service".into());
        s.oom_kills.push(k);
    }
    s
}

/// The cgroups (named once per process per journal) and the OOM kills (annexes of their sample) are recovered
/// whole from a crashed recorder's journal through compaction, across a rotation that starts a journal naming
/// them again.
#[test]
fn cgroups_and_oom_kills_are_recovered_whole_through_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = RecorderOptions::new();
    opts.rotate = Duration::from_secs(5);
    let (mut rec, _) = FlightRecorder::open(tmp.path(), opts.clone()).unwrap();
    let want: Vec<Sample> = (0..12).map(annexed_sample).collect();
    for s in &want {
        // Rotating every 5 s outruns the compaction thread: that is no trouble here.
        let notices = rec.record(s);
        assert!(
            notices
                .iter()
                .all(|n| matches!(n, Notice::CompactionBehind { .. })),
            "{notices:?}"
        );
    }
    drop(rec);
    let (rec, recovery) = FlightRecorder::open(tmp.path(), opts).unwrap();
    // At least the live journal's two samples (closed journals may have been compacted before the crash).
    assert!((2..=12).contains(&recovery.samples), "{recovery:?}");
    assert!(recovery.set_aside.is_empty(), "{:?}", recovery.warnings);
    let got = read_all(tmp.path());
    assert_eq!(got, want);
    assert_eq!(got.iter().map(|s| s.oom_kills.len()).sum::<usize>(), 3);
    drop(rec);
}
