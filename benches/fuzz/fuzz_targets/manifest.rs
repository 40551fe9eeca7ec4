//! A `manifest.json` from the data directory: parsed, queried, written back and parsed again.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stabmon_store::fuzzing::manifest(data));
