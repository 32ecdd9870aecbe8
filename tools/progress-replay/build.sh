#!/usr/bin/env bash
# build.sh: compile progress-replay against the BuildKit sources on this machine (GOPATH mode,
# same environment as /work/shared/engine/setup-buildkit.sh) with the runtime's faketime clock.
set -euo pipefail
BK_WORK=${BK_WORK:-/opt/buildkit-build}
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/progress-replay}
export PATH=$BK_WORK/go/usr/lib/go-1.24/bin:$PATH
export GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0
export GOPATH=$BK_WORK/shim:$BK_WORK/gopath/usr/share/gocode GOCACHE=${GOCACHE:-/tmp/progress-replay-gocache}
go build -tags faketime -o "$out" "$here/main.go"
