//! The fuzz targets' committed corpus (`fuzz/seeds/<target>/`: the starting inputs, the
//! fuzzer's minimised corpus and every input that once failed) replayed through the same
//! oracles libFuzzer runs (`fuzz/oracles/`), as ordinary tests on stable Rust. A fuzzing
//! finding becomes a regression test by copying its artifact into the target's seeds.

use std::path::PathBuf;

#[path = "../fuzz/oracles/callback_url.rs"]
mod callback_url;
#[path = "../fuzz/oracles/cookies.rs"]
mod cookies;
#[path = "../fuzz/oracles/http_pipeline.rs"]
mod http_pipeline;
#[path = "../fuzz/oracles/json_body.rs"]
mod json_body;

/// Every input of `target`'s corpus through `check`; how many there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: the input {} fails its oracle",
            file.display()
        );
    }
    files.len()
}

#[test]
fn http_pipeline_corpus_replays_clean() {
    let n = replay("http_pipeline", http_pipeline::check);
    assert!(n >= 7, "{n} inputs");
}

#[test]
fn cookies_corpus_replays_clean() {
    let n = replay("cookies", cookies::check);
    assert!(n >= 2, "{n} inputs");
}

#[test]
fn json_body_corpus_replays_clean() {
    let n = replay("json_body", json_body::check);
    assert!(n >= 2, "{n} inputs");
}

#[test]
fn callback_url_corpus_replays_clean() {
    let n = replay("callback_url", callback_url::check);
    assert!(n >= 3, "{n} inputs");
}
