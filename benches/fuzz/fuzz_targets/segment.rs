//! A segment's Parquet files from a hostile directory: the first byte picks the table whose file is the rest of
//! the input (samples, processes, names, latency); the other tables are a valid segment's (the store-v6 fixture).
//! Every read path a command takes must end in data, an error or a warning naming the file, never a panic.
#![no_main]

use std::sync::OnceLock;

const FIXTURE: [&[u8]; 3] = [
    include_bytes!(
        "../../../stabmon-store/tests/fixtures/store-v6/samples/host=nas/date=2026-11-25/20261125T031200Z.parquet"
    ),
    include_bytes!(
        "../../../stabmon-store/tests/fixtures/store-v6/processes/host=nas/date=2026-11-25/20261125T031200Z.parquet"
    ),
    include_bytes!(
        "../../../stabmon-store/tests/fixtures/store-v6/names/host=nas/date=2026-11-25/20261125T031200Z.parquet"
    ),
];

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("no temporary directory: {e}"),
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let mut files: [&[u8]; 4] = [FIXTURE[0], FIXTURE[1], FIXTURE[2], &[]];
    files[usize::from(which % 4)] = file;
    stabmon_store::fuzzing::segment(&scratch().path().join("d"), files);
});
