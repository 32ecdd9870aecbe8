#!/usr/bin/env bash
# test.sh: the full test suite against a real buildkitd and the local registry, both
# started by scripts/setup-buildkit.sh when they are not running yet. Extra arguments go
# to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
run_as_root scripts/setup-buildkit.sh
cargo test --locked "$@"
