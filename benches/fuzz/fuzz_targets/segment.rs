//! A segment's Parquet files from a hostile directory: the first byte picks the table whose file is the rest of
//! the input (samples, processes, names, latency) and which valid segment gives the other tables (the store-v6
//! fixture, or store-v4-probes, of schema 4, whose values derive from other rows). Every read path a command takes
//! must end in data, an error or a warning naming the file, never a panic.
#![no_main]

use std::sync::OnceLock;

const FIXTURES: [[&[u8]; 4]; 2] = [
    [
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v6/samples/host=nas/date=2026-11-25/20261125T031200Z.parquet"
        ),
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v6/processes/host=nas/date=2026-11-25/20261125T031200Z.parquet"
        ),
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v6/names/host=nas/date=2026-11-25/20261125T031200Z.parquet"
        ),
        &[],
    ],
    [
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v4-probes/samples/host=probes-1/date=2026-11-02/20261102T003500Z.parquet"
        ),
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v4-probes/processes/host=probes-1/date=2026-11-02/20261102T003500Z.parquet"
        ),
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v4-probes/names/host=probes-1/date=2026-11-02/20261102T003500Z.parquet"
        ),
        include_bytes!(
            "../../../stabmon-store/tests/fixtures/store-v4-probes/latency/host=probes-1/date=2026-11-02/20261102T003500Z.parquet"
        ),
    ],
];

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("no temporary directory: {e}"),
    })
}

/// The store turns a panic inside the parquet crate into a skipped segment; libFuzzer's hook would abort on it
/// as on any panic. This hook reports each contained panic's place once instead; a panic the store does not
/// contain still ends the run (libfuzzer-sys aborts when one unwinds out of the target).
fn report_contained_panics() {
    static SEEN: OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> = OnceLock::new();
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let seen = SEEN.get_or_init(Default::default);
        if seen.lock().is_ok_and(|mut s| s.insert(place.clone())) {
            eprintln!("contained panic at {place}: {info}");
        }
    }));
}

libfuzzer_sys::fuzz_target!(init: report_contained_panics(), |data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let mut files = FIXTURES[usize::from(which / 4 % 2)];
    files[usize::from(which % 4)] = file;
    let _ = stabmon_store::fuzzing::segment(&scratch().path().join("d"), files);
});
