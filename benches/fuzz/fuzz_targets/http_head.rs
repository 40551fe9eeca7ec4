//! `stabmon serve`'s request head parser, compiled from the binary crate's own file: any bytes give a request or
//! a refusal, never a panic, and an incomplete head is waited for only within the size cap.
#![no_main]

#[path = "../../../stabmon-cli/src/serve/head.rs"]
#[allow(dead_code)]
mod head;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Every prefix, as the bytes arrive in pieces over the socket.
    for end in [data.len() / 3, data.len() / 2, data.len()] {
        match head::parse_head(&data[..end]) {
            Ok(Some(req)) => assert!(!req.method.is_empty() && !req.target.is_empty()),
            Ok(None) => assert!(end <= head::MAX_HEAD_BYTES),
            Err(_) => {}
        }
    }
});
