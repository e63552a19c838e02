//! libFuzzer entry for `oracles/cookies.rs`: the oracle lives there, shared with the replay of
//! the committed corpus (`seeds/cookies/`) by `tests/fuzz_replay.rs` on stable Rust.
#![no_main]

#[path = "../oracles/cookies.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
