#!/usr/bin/env bash
# standin-images.sh: push stand-ins for the Docker Hub images Bentos build FROM to the local
# registry (docker.io is mirrored to it), since no public registry is reachable here.
#
#   localhost:5000/library/python:3.11-slim
#       Debian 12 minbase from debootstrap with python3 (3.11), pip, bash and passwd (for
#       groupadd/useradd), `python`/`pip` on PATH like the official image, no PEP 668 marker,
#       and a minimal importable `bentoml` module so a Bento's install.sh does not reach for
#       PyPI. Its apt sources point at the mirror this machine uses.
#
# Idempotent: an image already in the registry is left alone (FORCE_STANDIN=1 rebuilds).
# Needs root, debootstrap, buildctl and a running buildkitd + registry.
set -euo pipefail
: "${BK_ADDR:=unix:///run/buildkit/buildkitd.sock}"
: "${REGISTRY_PORT:=5000}"
: "${STANDIN_WORK:=/var/cache/bentokit-standin}"
: "${FORCE_STANDIN:=0}"
: "${DEBIAN_MIRROR:=$( { grep -hoE '^URIs:[[:space:]]*[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
                        grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+/debian/?[[:space:]]' /etc/apt/sources.list 2>/dev/null | awk '{print $NF}'; } | head -n1)}"
log() { printf '[standin-images] %s\n' "$*" >&2; }

has_tag() { # repo tag
  curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/$1/tags/list" 2>/dev/null | grep -q "\"$2\""
}

push_rootfs() { # rootfs-dir image-ref dockerfile-tail
  local ctx; ctx=$(mktemp -d)
  tar -C "$1" --numeric-owner -cf "$ctx/rootfs.tar" .
  printf 'FROM scratch\nADD rootfs.tar /\n%b' "$3" > "$ctx/Dockerfile"
  buildctl --addr "$BK_ADDR" build --progress quiet --frontend dockerfile.v0 \
    --local context="$ctx" --local dockerfile="$ctx" \
    --output "type=image,name=$2,push=true,registry.insecure=true"
  rm -rf "$ctx"
}

python_slim() {
  local ref="localhost:$REGISTRY_PORT/library/python:3.11-slim"
  if [ "$FORCE_STANDIN" != 1 ] && has_tag library/python 3.11-slim; then
    log "$ref already in the registry"; return
  fi
  command -v debootstrap >/dev/null || { apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
  local root=$STANDIN_WORK/python-3.11-slim
  rm -rf "$root"; mkdir -p "$STANDIN_WORK"
  log "debootstrap bookworm (minbase + python3) from $DEBIAN_MIRROR"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,bash,passwd,ca-certificates \
    bookworm "$root" "$DEBIAN_MIRROR" >"$STANDIN_WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$STANDIN_WORK/debootstrap.log" >&2; exit 1; }
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
  mkdir -p "$root/usr/local/lib/python3.11/dist-packages/bentoml"
  cat > "$root/usr/local/lib/python3.11/dist-packages/bentoml/__init__.py" <<'PY'
"""Stand-in for BentoML in bentokit's test images: importable, reports a version, serves nothing."""
__version__ = "1.1.11"
PY
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  push_rootfs "$root" "$ref" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nENV LANG=C.UTF-8\nCMD ["python3"]\n'
  rm -rf "$root"
  log "pushed $ref"
}

python_slim
