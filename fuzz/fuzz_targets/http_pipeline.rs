//! libFuzzer entry for `oracles/http_pipeline.rs`: the oracle lives there, shared with the replay of
//! the committed corpus (`seeds/http_pipeline/`) by `tests/fuzz_replay.rs` on stable Rust.
#![no_main]

#[path = "../oracles/http_pipeline.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
