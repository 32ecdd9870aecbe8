#!/usr/bin/env bash
# test.sh: the full test suite against a real buildkitd and the local registry, both
# started by scripts/setup-buildkit.sh when they are not running yet: every cargo test,
# then a short fuzz run of the Dockerfile parser and expander (fuzz/smoke.sh, FUZZ_SECONDS
# each, 0 skips it). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
run_as_root scripts/setup-buildkit.sh
# Nothing here reads standard input; cargo's rustc probes must not see whatever is on it.
exec </dev/null
cargo test --locked "$@"
# After the tests: in two runs here, cargo's rustc probe failed right after a fuzz build.
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} fuzz/smoke.sh
fi
