#!/usr/bin/env bash
# quickstart.sh: the main job end to end on a fresh Debian 12 machine with Rust: start
# the BuildKit engine (building it the first time, ~2.5 min, plus the stand-in base
# images), build bentokit, and containerize the example Bento into an OCI tarball,
# printing its digest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
run_as_root scripts/setup-buildkit.sh
cargo build --release --locked
./target/release/bentokit debug workers
./target/release/bentokit containerize examples/hello-bento --progress plain \
  --output type=oci,dest=hello-bento.oci.tar
echo "wrote hello-bento.oci.tar"
