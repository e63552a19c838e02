//! libFuzzer entry for `oracles/json_body.rs`: the oracle lives there, shared with the replay of
//! the committed corpus (`seeds/json_body/`) by `tests/fuzz_replay.rs` on stable Rust.
#![no_main]

#[path = "../oracles/json_body.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
