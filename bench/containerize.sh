#!/usr/bin/env bash
# containerize.sh: bentokit containerize against buildctl, side by side, on a private
# buildkitd (its own root, so pruning it disturbs nobody). Prints each ratio.
#
#   1. Fully cached rebuild of examples/hello-bento: `bentokit containerize` vs
#      `buildctl build --frontend dockerfile.v0` on the same rendered Dockerfile and the
#      Bento directory as context. Target: <= 0.9x.
#   2. A Bento with a 1 GiB model in the store, cold (daemon cache pruned before each run):
#      bentokit (context streamed from the Bento and the model store) vs what
#      `bentoml containerize` does — copy the Bento and its models to a temp dir, write the
#      Dockerfile there, then `buildctl build`. Target: <= 0.6x wall time, no extra disk.
#      Three rows: each tool's default output, then the same image exporter on both sides
#      with gzip and with uncompressed layers.
#
# Needs root, buildkitd/buildctl (scripts/setup-buildkit.sh) and a release build.
# RUNS=N sets the rounds of the cached rebuild (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --locked -q
BK=$PWD/target/release/bentokit
W=$(mktemp -d /var/tmp/bentokit-bench.XXXXXX)
trap 'kill $DPID 2>/dev/null; sleep 1; umount -R "$W/root" 2>/dev/null || true; rm -rf "$W"' EXIT

# A private daemon: same registry mirror as the shared one.
cat > "$W/buildkitd.toml" <<TOML
root = "$W/root"
[worker.oci]
  enabled = true
[worker.containerd]
  enabled = false
[registry."localhost:5000"]
  http = true
  insecure = true
[registry."docker.io"]
  mirrors = ["localhost:5000"]
TOML
ADDR=unix://$W/bk.sock
buildkitd --config "$W/buildkitd.toml" --addr "$ADDR" >"$W/buildkitd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do buildctl --addr "$ADDR" debug workers >/dev/null 2>&1 && break; sleep 0.1; done
export BUILDKIT_HOST=$ADDR

now() { date +%s.%N; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
median() { python3 -c "import sys,statistics; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$t0" "$(now)"; }

# ---- 1. cached rebuild
BENTO=examples/hello-bento
"$BK" dockerfile "$BENTO" > "$W/Dockerfile.hello"
"$BK" containerize "$BENTO" --progress quiet --output type=image,name=bench/hello:bk >/dev/null
buildctl build --progress quiet --frontend dockerfile.v0 --local context="$BENTO" --local dockerfile="$W" \
  --opt filename=Dockerfile.hello --output type=image,name=bench/hello:ctl >/dev/null
bk=(); ctl=()
for _ in $(seq "$RUNS"); do
  bk+=("$(timed "$BK" containerize "$BENTO" --progress quiet --output type=image,name=bench/hello:bk)")
  ctl+=("$(timed buildctl build --progress quiet --frontend dockerfile.v0 --local context="$BENTO" --local dockerfile="$W" \
    --opt filename=Dockerfile.hello --output type=image,name=bench/hello:ctl)")
done
b=$(median "${bk[@]}"); c=$(median "${ctl[@]}")
echo "cached rebuild of $BENTO: bentokit ${b}s, buildctl ${c}s (median of $RUNS): ratio $(ratio "$b" "$c") (target <= 0.9)"

# ---- 2. 1 GiB model, cold
HOME_STORE=$W/store
mkdir -p "$HOME_STORE/models/big/v1" "$W/bigbento"
head -c 1073741824 /dev/urandom > "$HOME_STORE/models/big/v1/weights.bin"
printf 'name: big\nversion: v1\nmodule: bentoml.picklable_model\n' > "$HOME_STORE/models/big/v1/model.yaml"
cp -a "$BENTO/." "$W/bigbento/"
sed -i "s/^models: \[\]/models:\n- tag: big:v1\n  module: bentoml.picklable_model\n  creation_time: '2026-11-29T10:00:00+00:00'/" "$W/bigbento/bento.yaml"
# Measure the context, not apt: a template on the busybox base that copies the Bento.
sed -i "s|^  dockerfile_template: null|  dockerfile_template: env/docker/Dockerfile.template|" "$W/bigbento/bento.yaml"
cat > "$W/bigbento/env/docker/Dockerfile.template" <<'TPL'
{% extends bento_base_template %}
{% block SETUP_BENTO_BASE_IMAGE %}FROM localhost:5000/base:latest AS base-container{% endblock %}
{% block SETUP_BENTO_USER %}{% endblock %}
{% block SETUP_BENTO_ENVARS %}WORKDIR {{ bento__path }}{% endblock %}
{% block SETUP_BENTO_COMPONENTS %}COPY . ./{% endblock %}
{% block SETUP_BENTO_ENTRYPOINT %}ENTRYPOINT ["{{ bento__entrypoint }}"]{% endblock %}
TPL
"$BK" dockerfile "$W/bigbento" > "$W/Dockerfile.big"
sync
disk_writes() { sync; awk '{print $7}' /sys/block/vda/stat 2>/dev/null || echo 0; }  # sectors written (after a sync)

# cold_round LABEL BENTOKIT_OUTPUT_ARGS BUILDCTL_OUTPUT_ARGS
cold_round() {
  local label=$1 bk_out=$2 ctl_out=$3
  buildctl prune --all >/dev/null
  local w0 w1 w2 w3 b c t0 extra
  w0=$(disk_writes)
  # shellcheck disable=SC2086
  b=$(BENTOML_HOME=$HOME_STORE timed "$BK" containerize "$W/bigbento" --progress quiet $bk_out)
  w1=$(disk_writes)
  buildctl prune --all >/dev/null
  w2=$(disk_writes)
  t0=$(now)
  TMPCTX=$W/bentoml-tmp-context
  rm -rf "$TMPCTX"; cp -a "$W/bigbento" "$TMPCTX"; mkdir -p "$TMPCTX/models"; cp -a "$HOME_STORE/models/big" "$TMPCTX/models/"
  cp "$W/Dockerfile.big" "$TMPCTX/Dockerfile"
  # shellcheck disable=SC2086
  buildctl build --progress quiet --frontend dockerfile.v0 --local context="$TMPCTX" --local dockerfile="$TMPCTX" \
    $ctl_out >/dev/null 2>&1
  c=$(python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$t0" "$(now)")
  w3=$(disk_writes)
  extra=$(du -sb "$TMPCTX" | cut -f1)
  rm -rf "$TMPCTX"
  echo "1 GiB model, cold, $label: bentokit ${b}s, copy-to-temp + buildctl ${c}s: ratio $(ratio "$b" "$c") (target <= 0.6)"
  echo "  temp copy written by the bentoml way: $((extra / 1048576)) MiB; bentokit: 0 MiB (context streamed from the Bento and the store)"
  echo "  disk sectors written (daemon included): bentokit $((w1 - w0)), copy-to-temp + buildctl $((w3 - w2))"
}
# What each tool does by default: bentokit keeps the image in BuildKit's store with
# uncompressed layers (as docker's store does for the default `bentoml containerize`);
# BentoML's buildctl backend without an output leaves the result in the build cache.
cold_round "default outputs (bentokit: image in the daemon's store; buildctl: cache only)" "" ""
# The same exporter on both sides: an image in the daemon's store with gzip layers
# (compressing 1 GiB of random data in the daemon dominates both sides) ...
cold_round "image export with gzip layers on both sides" "--output type=image,name=bench/big:bk" "--output type=image,name=bench/big:ctl"
# ... and with uncompressed layers: what is left is the context's cost.
cold_round "image export with uncompressed layers on both sides" \
  "--output type=image,name=bench/big:bk,compression=uncompressed" "--output type=image,name=bench/big:ctl,compression=uncompressed"
