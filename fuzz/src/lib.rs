//! The fuzz harness of broker-rules. The functions live in `harness.rs`, which the core's
//! `rules/tests/fuzz_corpus.rs` includes too, so `cargo test` replays the committed corpus
//! through exactly the code libFuzzer runs.
pub mod harness;
