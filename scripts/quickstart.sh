#!/usr/bin/env bash
# quickstart.sh: the main job end to end on a fresh Debian 12 machine with Rust:
# start the BuildKit engine (building it the first time, ~2.5 min), build bentokit, and
# talk to the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
run_as_root scripts/setup-buildkit.sh
cargo build --release --locked
./target/release/bentokit debug info
./target/release/bentokit debug workers
