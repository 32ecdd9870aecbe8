#!/usr/bin/env bash
# goldens.sh: regenerate tests/fixtures/progress/*/{plain,rawjson}.golden by replaying each
# recorded status.json through BuildKit's own progressui (see main.go).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${REPLAY_BIN:-/tmp/progress-replay}
[ -x "$bin" ] || "$here/build.sh" "$bin"
for dir in "$here"/../../tests/fixtures/progress/*/; do
  [ -f "$dir/status.json" ] || continue
  "$bin" plain "$dir/status.json" "$dir/plain.golden"
  "$bin" rawjson "$dir/status.json" "$dir/rawjson.golden"
done
