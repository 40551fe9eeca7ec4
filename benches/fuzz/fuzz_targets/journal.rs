//! A journal file's bytes through the frame reader and the record decoder, as recovery reads them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stabmon_store::fuzzing::journal(data));
