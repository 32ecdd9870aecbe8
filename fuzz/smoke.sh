#!/usr/bin/env bash
# Short fuzz run for CI: each target for FUZZ_SECONDS (default 30) with one job.
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use -Z flags.
# New inputs go to corpus-work/ (ignored); the committed seeds in corpus/ are read only.
# A crash leaves its input under artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-30}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in parse expand; do
    mkdir -p "corpus-work/$target"
    echo "fuzzing $target for ${secs}s"
    cargo fuzz run "$target" "corpus-work/$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=10 -max_len=8192 -print_final_stats=1
done
