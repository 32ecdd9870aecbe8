#!/usr/bin/env bash
# Container entrypoint: with no arguments (or only flags) serve the Bento; with
# `serve`/`serve-http`/`serve-grpc`/`start-*` run that bentoml command on the Bento;
# anything else runs as a command (bash, python, ...).
set -Eeuo pipefail

if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then
    set -- serve "$@"
fi
# Heroku-style PORT overrides BentoML's port.
if [ -n "${PORT:-}" ]; then
    export BENTOML_PORT="$PORT"
fi
case "$1" in
    serve | serve-http | serve-grpc | start-http-server | start-grpc-server | start-runner-server)
        exec bentoml "$@" "$BENTO_PATH"
        ;;
    *)
        exec "$@"
        ;;
esac
