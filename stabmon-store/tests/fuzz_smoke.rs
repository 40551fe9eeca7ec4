//! A bounded random-input run of the fuzz targets' entry points (`benches/fuzz`), as an ordinary test: the seeds
//! (the committed journal, manifest and segment fixtures) mutated at random (bit flips, byte changes, cuts,
//! insertions) for a few seconds a target. `FUZZ_SMOKE_SECS` sets the seconds per target (default 2);
//! `benches/fuzz.sh` runs the coverage-guided targets for longer.
#![cfg(feature = "fuzzing")]
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use stabmon_store::fuzzing;

/// SplitMix64: deterministic from a seed, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(b.len());
        match rng.below(5) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.below(8),
            1 if !b.is_empty() => b[at] = rng.next() as u8,
            2 => b.truncate(at),
            3 => b
                .splice(at..at, (0..rng.below(16)).map(|_| rng.next() as u8))
                .for_each(drop),
            _ if !b.is_empty() => b[at] = [0, 0xFF, 0x7F, 0x80][rng.below(4)],
            _ => {}
        }
    }
    b
}

fn secs() -> Duration {
    Duration::from_secs(
        std::env::var("FUZZ_SMOKE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2),
    )
}

/// Runs `target` on mutations of `seeds` for the time given; prints executions and executions a second.
fn run(name: &str, seeds: &[Vec<u8>], mut target: impl FnMut(&[u8])) {
    let mut rng = Rng(0x5EED ^ name.len() as u64);
    let (start, budget) = (Instant::now(), secs());
    let mut n = 0u64;
    for s in seeds {
        target(s);
    }
    while start.elapsed() < budget {
        let input = mutate(&seeds[rng.below(seeds.len())], &mut rng);
        target(&input);
        n += 1;
    }
    println!(
        "{name}: {n} executions in {:.1} s ({:.0}/s), no panic escaped",
        start.elapsed().as_secs_f64(),
        n as f64 / start.elapsed().as_secs_f64()
    );
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

fn seed_manifests() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/fuzz/seeds/manifest");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn journal_decoder() {
    let seeds = [
        fixture("journal-v1/00000000000000000042.journal"),
        fixture("journal-v2/00000000000000000042.journal"),
        fixture("journal-v3/00000000000000000042.journal"),
        fixture("journal-v4/00000000000000000042.journal"),
        fixture("journal-v5/00000000000000000042.journal"),
        fixture("journal-v6/00000000000000000042.journal"),
    ];
    run("journal", &seeds, fuzzing::journal);
}

#[test]
fn manifest_parser() {
    run("manifest", &seed_manifests(), fuzzing::manifest);
}

#[test]
fn remote_manifest() {
    run("remote_manifest", &seed_manifests(), |b| {
        fuzzing::remote_manifest("http://127.0.0.1:9/data", b)
    });
}

/// The store-v6 segment's three table files, and the seeds: each with the first byte that picks its table.
fn segment_seeds() -> ([Vec<u8>; 3], Vec<Vec<u8>>) {
    let part = "host=nas/date=2026-11-25/20261125T031200Z.parquet";
    let tables =
        ["samples", "processes", "names"].map(|t| fixture(&format!("store-v6/{t}/{part}")));
    let seeds = tables
        .iter()
        .enumerate()
        .map(|(i, t)| [vec![i as u8], t.clone()].concat())
        .collect();
    (tables, seeds)
}

/// Reads one input as the fuzz target does: the first byte picks the table whose file is the rest, the other
/// tables are the fixture's. Gives the reader's warnings.
fn read_segment(dir: &Path, tables: &[Vec<u8>; 3], data: &[u8]) -> Vec<String> {
    let Some((&which, file)) = data.split_first() else {
        return Vec::new();
    };
    let mut files: [&[u8]; 4] = [&tables[0], &tables[1], &tables[2], &[]];
    files[usize::from(which % 4)] = file;
    fuzzing::segment(&dir.join("d"), files)
}

#[test]
fn segment_reader() {
    let (tables, seeds) = segment_seeds();
    let dir = tempfile::tempdir().unwrap();
    run("segment", &seeds, |data| {
        let _ = read_segment(dir.path(), &tables, data);
    });
}

/// Found by the run above: a `BYTE_STREAM_SPLIT` page whose values run past its data makes the parquet crate
/// index out of bounds (`byte_stream_split_decoder.rs`). The mutations are deterministic, so the same inputs
/// come again: the first that makes the parquet crate panic must give a warning naming the file, and the reads
/// go on.
#[test]
fn a_segment_that_panics_the_parquet_reader_is_skipped_with_a_warning() {
    let (tables, seeds) = segment_seeds();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5EED ^ "segment".len() as u64);
    for _ in 0..3000 {
        let input = mutate(&seeds[rng.below(seeds.len())], &mut rng);
        let warnings = read_segment(dir.path(), &tables, &input);
        if let Some(w) = warnings.iter().find(|w| w.contains("panicked")) {
            assert!(
                w.contains("skipped") && w.contains("20261125T031200Z.parquet"),
                "{w}"
            );
            println!("{w}");
            return;
        }
    }
    println!(
        "skipped: none of the first 3000 mutations made the parquet crate panic in this build"
    );
}

/// Found by the coverage-guided run (`benches/fuzz/regressions/segment-slow-read`): a `names` file whose page
/// header sends its data page header v2 as a list, after which the parquet crate reads on into a list declaring
/// 126,680,298 UUIDs and, at the end of the file, skipped each one as if its bytes were there: 84 s of reads
/// that returned nothing. The header is refused before the crate parses it, and the read goes on with a warning
/// naming the file. A watchdog fails the test if the read does not finish in a minute (it takes milliseconds).
#[test]
fn a_page_header_that_would_read_for_minutes_is_refused_with_a_warning() {
    for w in read_regression("segment-slow-read") {
        assert!(
            w.contains("names/host=f/date=2026-11-25/20261125T031200Z.parquet")
                && w.contains("the page header at offset 182 is damaged"),
            "{w}"
        );
    }
}

/// Found by the coverage-guided run: `samples` files whose footer holds a map of 46 million booleans to
/// booleans, which the parquet crate skips one at a time without reading a byte (the fuzz target's reads took
/// 7.6 s and 12 s in its instrumented build, 2.5 s in a debug build; every read of the footer pays it again, and
/// a few such maps in one footer multiply it). The footer is refused before the crate parses it.
#[test]
fn a_footer_with_a_map_of_millions_of_booleans_is_refused_with_a_warning() {
    for name in ["segment-footer-bools", "segment-footer-bools-2"] {
        for w in read_regression(name) {
            assert!(
                w.contains("samples/host=f/date=2026-11-25/20261125T031200Z.parquet")
                    && w.contains("its footer")
                    && w.contains("booleans"),
                "{name}: {w}"
            );
        }
    }
}

/// Reads the committed input `benches/fuzz/regressions/NAME` as the fuzz target does, under a watchdog that
/// fails the test if the read does not finish in a minute (it takes milliseconds); gives its warnings, at least
/// one.
fn read_regression(name: &str) -> Vec<String> {
    let input = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../benches/fuzz/regressions")
            .join(name),
    )
    .unwrap();
    let (tables, _) = segment_seeds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let warnings = read_segment(&path, &tables, &input);
        let _ = done.send(warnings);
    });
    // A hang guard, not a speed target: the read before the checks ran for minutes (or for ever in a debug
    // build), a checked one takes milliseconds.
    let Ok(warnings) = finished.recv_timeout(Duration::from_secs(60)) else {
        panic!("reading {name} hangs: not finished after 60 s");
    };
    assert!(!warnings.is_empty(), "{name}: no warning");
    for w in &warnings {
        println!("{name}: {w}");
    }
    warnings
}
