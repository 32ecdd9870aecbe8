#!/usr/bin/env bash
# Times `bentokit dockerfile` end to end (process start to exit) with the release binary.
# Uses hyperfine when installed (apt-get install hyperfine), else a plain loop.
# Usage: scripts/bench-dockerfile.sh [BENTO_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
bento="${1:-examples/hello-bento}"
runs="${2:-200}"
cargo build --release --quiet --bin bentokit
bin=target/release/bentokit
"$bin" dockerfile "$bento" > /dev/null
if command -v hyperfine > /dev/null; then
    # `--version` is the floor: process start + exit of the same binary.
    hyperfine --warmup 10 --runs "$runs" -N "$bin --version" "$bin dockerfile $bento"
    hyperfine --warmup 10 --runs "$runs" -N "$bin dockerfile tests/fixtures/bentos/seed_conda_cuda"
else
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$bin" dockerfile "$bento" > /dev/null; done
    end=$(date +%s%N)
    echo "mean over $runs runs: $(( (end - start) / runs / 1000 )) µs per run"
fi
