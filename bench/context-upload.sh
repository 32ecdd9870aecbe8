#!/usr/bin/env bash
# Context upload benchmark: bentokit vs `buildctl build` on the same (private, cold) daemon.
# Data sets: one 1 GiB file; 10,000 files of 10 KB. Build: FROM scratch + COPY . / (no export).
# Each run gets a fresh buildkitd --root, so every transfer is cold. Prints, per data set,
# wall time, client CPU (user+sys) and client peak RSS, and the bentokit/buildctl ratios;
# then the same build again on the warm daemon (a no-change rebuild: only metadata moves).
# Usage: bench/context-upload.sh [RUNS]   (needs buildkitd, buildctl, /usr/bin/time; run as root)
set -euo pipefail
RUNS="${1:-3}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${BENCH_DIR:-/var/tmp/bentokit-bench}"
mkdir -p "$WORK"

if [ ! -f "$WORK/big/blob.bin" ]; then
  mkdir -p "$WORK/big" && head -c 1G /dev/urandom > "$WORK/big/blob.bin"
fi
if [ ! -f "$WORK/many/d99/f9999" ]; then
  python3 - "$WORK/many" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
    os.makedirs(f"{root}/d{d}", exist_ok=True)
    for i in range(d * 100, d * 100 + 100):
        with open(f"{root}/d{d}/f{i}", "wb") as f:
            f.write(os.urandom(10240))
PY
fi
mkdir -p "$WORK/df" && printf 'FROM scratch\nCOPY . /\n' > "$WORK/df/Dockerfile"

# PROFILE=debug measures a debug build (only to try the script; report release numbers).
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  (cd "$HERE" && cargo build --release --example context_upload >&2)
else
  (cd "$HERE" && cargo build --example context_upload >&2)
fi
CLIENT="$HERE/target/$PROFILE/examples/context_upload"

start_daemon() {
  D="$(mktemp -d "$WORK/bkd-XXXX")"
  cat > "$D/c.toml" <<TOML
root = "$D/root"
[grpc]
  address = ["unix://$D/s.sock"]
[worker.oci]
  enabled = true
  snapshotter = "native"
[worker.containerd]
  enabled = false
TOML
  buildkitd --config "$D/c.toml" > "$D/log" 2>&1 &
  BKD_PID=$!
  for _ in $(seq 100); do buildctl --addr "unix://$D/s.sock" debug workers >/dev/null 2>&1 && return; sleep 0.1; done
  echo "buildkitd did not start" >&2; cat "$D/log" >&2; exit 1
}
stop_daemon() { kill "$BKD_PID"; wait "$BKD_PID" 2>/dev/null || true; rm -rf "$D"; }

# run_tool TOOL DATASET TIMEFILE
run_tool() {
  if [ "$1" = bentokit ]; then
    /usr/bin/time -f "%e %U %S %M" -o "$3" "$CLIENT" --addr "unix://$D/s.sock" "$WORK/$2" >/dev/null
  else
    /usr/bin/time -f "%e %U %S %M" -o "$3" buildctl --addr "unix://$D/s.sock" build --progress=quiet \
      --frontend dockerfile.v0 --local context="$WORK/$2" --local dockerfile="$WORK/df" >/dev/null
  fi
}

# measure TOOL DATASET -> "wall cpu rss_kb rebuild_wall" (median of RUNS by cold wall time)
measure() {
  local tool="$1" data="$2" out=()
  for _ in $(seq "$RUNS"); do
    start_daemon
    run_tool "$tool" "$data" "$D/time"
    run_tool "$tool" "$data" "$D/again"
    out+=("$(awk 'FNR == NR { cold = sprintf("%s %.2f %s", $1, $2 + $3, $4); next } { print cold, $1 }' "$D/time" "$D/again")")
    stop_daemon
  done
  printf '%s\n' "${out[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'
}

printf '%-6s %-9s %8s %8s %10s %10s\n' data tool wall_s cpu_s rss_kb rebuild_s
for data in ${DATASETS:-big many}; do
  read -r bw bc br bre < <(measure bentokit "$data")
  read -r cw cc cr cre < <(measure buildctl "$data")
  printf '%-6s %-9s %8s %8s %10s %10s\n' "$data" bentokit "$bw" "$bc" "$br" "$bre" "$data" buildctl "$cw" "$cc" "$cr" "$cre"
  awk -v bw="$bw" -v cw="$cw" -v bc="$bc" -v cc="$cc" -v br="$br" -v cr="$cr" -v bre="$bre" -v cre="$cre" -v d="$data" \
    'BEGIN { printf "%-6s ratio     wall %.2fx (target <=0.7)  cpu %.2fx (<=0.25)  rss %.2fx (<=0.5)  no-change rebuild %.2fx (<=1)\n", d, bw/cw, (cc>0?bc/cc:0), br/cr, (cre>0?bre/cre:0) }'
done
