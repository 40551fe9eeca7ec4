//! The `manifest.json` a server sends for a data directory behind a URL: every file a read would download must
//! come from under the URL and land inside the download directory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    stabmon_store::fuzzing::remote_manifest("http://127.0.0.1:9/data", data)
});
