//! libFuzzer entry for `oracles/callback_url.rs`: the oracle lives there, shared with the replay of
//! the committed corpus (`seeds/callback_url/`) by `tests/fuzz_replay.rs` on stable Rust.
#![no_main]

#[path = "../oracles/callback_url.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
