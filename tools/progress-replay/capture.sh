#!/usr/bin/env bash
# capture.sh FIXTURE_DIR [extra buildctl args]: run a real build of FIXTURE_DIR/Dockerfile with
# `buildctl --progress rawjson` and keep the JSON stream as FIXTURE_DIR/status.json (buildctl's
# trailing error text (source snippet + "error: ..."), if any, goes to FIXTURE_DIR/buildctl-error.txt).
set -uo pipefail
dir=$1; shift
addr=${BUILDKIT_HOST:-unix:///run/buildkit/buildkitd.sock}
buildctl --addr "$addr" build --progress rawjson --frontend dockerfile.v0 \
  --local context="$dir" --local dockerfile="$dir" "$@" 2> "$dir/stderr.raw"
echo "buildctl exit code: $?" >&2
# rawjson is a stream of indented JSON objects; buildctl's own error text follows it.
# The JSON ends at the last line that is a lone "}".
last=$(grep -n '^}$' "$dir/stderr.raw" | tail -n1 | cut -d: -f1)
head -n "$last" "$dir/stderr.raw" > "$dir/status.json"
tail -n +"$((last + 1))" "$dir/stderr.raw" > "$dir/buildctl-error.txt"
[ -s "$dir/buildctl-error.txt" ] || rm -f "$dir/buildctl-error.txt"
rm -f "$dir/stderr.raw"
