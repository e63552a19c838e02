# Sesame's everyday commands. `make check` is what CI runs besides the test suite.
.PHONY: run test lint fmt fmt-check check bench bench-overload bench-cache bench-workers bench-instructions mutants soak

run:
	cargo run --release

test:
	cargo test --all-targets
	tests/js/run.sh

lint:
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

check: fmt-check lint test

# Side-by-side benchmark against the reference Better Auth server (see BENCHMARKS.md).
bench:
	python3 bench/bench.py

# The session cache's numbers alone (also part of `make bench`; see BENCHMARKS.md).
bench-cache:
	python3 bench/cache.py

# Throughput against SESAME_WORKERS on memory and PostgreSQL (see BENCHMARKS.md, Workers).
bench-workers:
	cargo build --release --quiet --bin sesame
	python3 bench/workers.py

# The overload scenario alone (also part of `make bench`; see BENCHMARKS.md).
bench-overload:
	cargo build --release --quiet --bin sesame --example hash_time
	python3 bench/overload.py

# The long run under a mixed load with faults, on SQLite then PostgreSQL (RELIABILITY.md); not
# part of `make test`. SOAK_MINUTES (default 30) sets each run's length; SOAK_ARGS=--smoke runs
# three minutes each; needs python3 with matplotlib (pip install matplotlib).
soak:
	cargo build --release --bin sesame
	python3 bench/soak.py $(SOAK_ARGS)

# Instructions per request under callgrind, for comparing two builds on a busy machine
# (BENCHMARKS.md, "Instructions per request"). BINARIES defaults to this tree's release build.
BINARIES ?= target/release/sesame
bench-instructions:
	cargo build --release --bin sesame
	python3 bench/instructions.py $(BINARIES)

# Mutation testing of the security-critical modules with cargo-mutants (cargo install
# cargo-mutants). Each mutant is a rebuild and a test run: hours on a small machine, so not
# part of `make test`. TESTING.md has the scores and narrower commands for one module.
MUTANT_FILES = src/http/origin.rs src/http/cookies.rs src/auth/verification_token.rs \
	src/auth/password.rs src/ratelimit/mod.rs src/endpoint/social/state.rs
mutants:
	cargo mutants --no-shuffle $(foreach f,$(MUTANT_FILES),--file $(f))
