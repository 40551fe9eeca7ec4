//! Example programs that embed the stabmon libraries live in `examples/examples/`:
//!
//! - `spike_watch`: the collector embedded in another tool, reacting when CPU crosses a threshold;
//! - `top_process`: reads a data directory and prints the process that used the most CPU in a range;
//! - `report_from_code`: renders an HTML report from samples made in code.
//!
//! Each runs without network: `cargo run -p stabmon-examples --example NAME`.
#![deny(missing_docs)]
