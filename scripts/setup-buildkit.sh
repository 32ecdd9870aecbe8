#!/usr/bin/env bash
# setup-buildkit.sh: the BuildKit engine bentokit develops and tests against.
# Gets buildkitd + buildctl (BuildKit v0.13) running on a fresh Debian 12 (bookworm)
# x86_64 machine, as root, with no container registry reachable, using only Debian's
# apt mirror:
#
#   * buildkitd/buildctl are compiled from the BuildKit v0.13 source that Debian 13
#     (trixie) ships in golang-github-docker-docker-dev (docker.io 26.1.5), plus the
#     golang-*-dev source packages that buildkitd imports. The Go 1.24 toolchain also
#     comes from trixie. Everything from trixie is `apt-get download`ed through a
#     private apt config and unpacked with `dpkg -x` under $BK_WORK. The system's
#     apt sources and dpkg database are not changed.
#   * runc (and optionally docker-registry, qemu-user-static) come from bookworm via apt.
#   * buildkitd is started in the background with the OCI (runc) worker and overlayfs.
#   * rootlesskit + uidmap (ROOTLESS=1) for rootless buildkitd, openssl for the tests'
#     TLS certificates, apache2-utils (htpasswd) for their basic-auth registry.
#   * Optionally a local plain-HTTP registry (Debian's docker-registry) is started and
#     a busybox base image is pushed to it as localhost:PORT/base:latest.
#
# Idempotent: it skips the build when $BK_BIN_DIR/buildkitd already carries this
# script's version tag (FORCE_BUILD=1 rebuilds), and skips starting daemons that
# already answer.
#
# Measured on a 2-core bookworm VM (warm Debian mirror): about 2.5 min in all; the
# Go build takes about 90 s of that.
set -euo pipefail

: "${BK_WORK:=/opt/buildkit-build}"             # apt lists, .debs, Go toolchain, GOPATH, build cache
: "${BK_BIN_DIR:=/usr/local/bin}"
: "${BK_ADDR:=unix:///run/buildkit/buildkitd.sock}"
: "${BK_ROOT:=/var/lib/buildkit}"
: "${BK_CONFIG:=/etc/buildkit/buildkitd.toml}"
: "${BK_LOG:=/var/log/buildkitd.log}"
: "${BK_PIDFILE:=/run/buildkit/buildkitd.pid}"
: "${REGISTRY:=1}"                              # 1: install and start Debian's docker-registry
: "${REGISTRY_PORT:=5000}"                      # it listens on 127.0.0.1:$REGISTRY_PORT
: "${REGISTRY_DIR:=/var/lib/bk-registry}"
: "${REGISTRY_LOG:=/var/log/bk-registry.log}"
: "${REGISTRY_PIDFILE:=/run/bk-registry.pid}"
: "${BASE_IMAGE:=1}"                            # 1: push a busybox image as localhost:$REGISTRY_PORT/base:latest
: "${QEMU:=0}"                                  # 1: qemu-user-static + binfmt_misc, for RUN on foreign platforms
: "${ROOTLESS:=1}"                              # 1: rootlesskit + uidmap, for rootless buildkitd
: "${STANDIN_IMAGES:=1}"                        # 1: push stand-in python images (scripts/standin-images.sh)
: "${APT_UPDATE:=1}"                            # 0: skip the bookworm `apt-get update`
: "${FORCE_BUILD:=0}"
# The Debian mirror this machine's apt already uses (the first deb822 URIs: or deb line).
: "${TRIXIE_MIRROR:=$( { grep -hoE '^URIs:[[:space:]]*[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
                        grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+/debian/?[[:space:]]' /etc/apt/sources.list 2>/dev/null | awk '{print $NF}'; } | head -n1)}"
[ -n "$TRIXIE_MIRROR" ] || { echo "[setup-buildkit] no Debian mirror found in apt sources; set TRIXIE_MIRROR" >&2; exit 1; }

BK_TAG="v0.13-debian-docker.io-26.1.5"          # goes into `buildkitd --version`
export DEBIAN_FRONTEND=noninteractive

T_START=$(date +%s%3N)
T_STEP=$T_START
log() { printf '[setup-buildkit] %s\n' "$*" >&2; }
step_done() {
  local now; now=$(date +%s%3N)
  printf '[setup-buildkit] %-40s %4d.%ds  (total %4d.%ds)\n' "$1" \
    $(( (now - T_STEP) / 1000 )) $(( (now - T_STEP) % 1000 / 100 )) \
    $(( (now - T_START) / 1000 )) $(( (now - T_START) % 1000 / 100 )) >&2
  T_STEP=$now
}
die() { log "ERROR: $*"; exit 1; }

# The golang-*-dev packages (all arch:all source packages, from trixie) that
# github.com/moby/buildkit/cmd/{buildkitd,buildctl} import; found with
# `go list -deps` over Debian's apt-resolved closure of golang-github-docker-docker-dev.
GO_DEV_PKGS="
  golang-github-agext-levenshtein-dev golang-github-anchore-go-struct-converter-dev
  golang-github-appc-cni-dev golang-github-armon-circbuf-dev golang-github-aws-aws-sdk-go-v2-dev
  golang-github-aws-smithy-go-dev golang-github-beorn7-perks-dev
  golang-github-cenkalti-backoff-dev golang-github-cespare-xxhash-dev
  golang-github-containerd-console-dev golang-github-containerd-containerd-dev
  golang-github-containerd-continuity-dev golang-github-containerd-errdefs-dev
  golang-github-containerd-fifo-dev golang-github-containerd-go-cni-dev
  golang-github-containerd-go-runc-dev golang-github-containerd-log-dev
  golang-github-containerd-nydus-snapshotter-dev golang-github-containerd-platforms-dev
  golang-github-containerd-stargz-snapshotter-dev golang-github-containerd-ttrpc-dev
  golang-github-containerd-typeurl-dev golang-github-containernetworking-plugins-dev
  golang-github-coreos-bbolt-dev golang-github-coreos-go-systemd-dev
  golang-github-cpuguy83-go-md2man-v2-dev golang-github-distribution-reference-dev
  golang-github-docker-docker-credential-helpers-dev golang-github-docker-docker-dev
  golang-github-docker-go-connections-dev golang-github-docker-go-events-dev
  golang-github-docker-go-metrics-dev golang-github-docker-go-units-dev
  golang-github-felixge-httpsnoop-dev golang-github-go-logr-logr-dev golang-github-go-logr-stdr-dev
  golang-github-gofrs-flock-dev golang-github-gogo-googleapis-dev golang-github-gogo-protobuf-dev
  golang-github-golang-groupcache-dev golang-github-golang-protobuf-1-5-dev
  golang-github-google-go-cmp-dev golang-github-google-shlex-dev golang-github-google-uuid-dev
  golang-github-grpc-ecosystem-grpc-gateway-dev golang-github-hanwen-go-fuse-dev
  golang-github-hashicorp-errwrap-dev golang-github-hashicorp-go-cleanhttp-dev
  golang-github-hashicorp-go-immutable-radix-dev golang-github-hashicorp-go-multierror-dev
  golang-github-hashicorp-go-retryablehttp-dev golang-github-hashicorp-golang-lru-dev
  golang-github-in-toto-in-toto-golang-dev golang-github-klauspost-compress-dev
  golang-github-mitchellh-hashstructure-dev golang-github-moby-docker-image-spec-dev
  golang-github-moby-locker-dev golang-github-moby-patternmatcher-dev
  golang-github-moby-sys-dev golang-github-morikuni-aec-dev golang-github-munnerz-goautoneg-dev
  golang-github-opencontainers-go-digest-dev golang-github-opencontainers-image-spec-dev
  golang-github-opencontainers-selinux-dev golang-github-opencontainers-specs-dev
  golang-github-pelletier-go-toml-dev golang-github-pkg-errors-dev golang-github-pkg-profile-dev
  golang-github-prometheus-client-golang-dev golang-github-prometheus-client-model-dev
  golang-github-prometheus-common-dev golang-github-prometheus-procfs-dev
  golang-github-russross-blackfriday-v2-dev golang-github-secure-systems-lab-go-securesystemslib-dev
  golang-github-shibumi-go-pathspec-dev golang-github-sirupsen-logrus-dev
  golang-github-spdx-tools-golang-dev golang-github-tonistiigi-fsutil-dev
  golang-github-tonistiigi-units-dev golang-github-tonistiigi-vt100-dev golang-github-urfave-cli-dev
  golang-github-vbatts-tar-split-dev golang-github-vishvananda-netlink-dev
  golang-github-vishvananda-netns-dev golang-golang-x-crypto-dev golang-golang-x-net-dev
  golang-golang-x-sync-dev golang-golang-x-sys-dev golang-golang-x-text-dev golang-golang-x-time-dev
  golang-google-genproto-dev golang-google-grpc-dev golang-google-protobuf-dev
  golang-opentelemetry-contrib-dev golang-opentelemetry-otel-dev golang-opentelemetry-proto-dev
"
GO_TOOLCHAIN_PKGS="golang-1.24-go golang-1.24-src"

[ "$(id -u)" = 0 ] || die "run as root"

# ---------------------------------------------------------------- 1. bookworm packages
pkgs="runc busybox-static curl ca-certificates openssl"
# openssh-client: ssh-keygen/ssh-agent/ssh-add for the --ssh tests (required under CI=true).
pkgs="$pkgs openssh-client"
[ "$ROOTLESS" = 1 ] && pkgs="$pkgs rootlesskit uidmap"
[ "$STANDIN_IMAGES" = 1 ] && pkgs="$pkgs debootstrap"
# apache2-utils: htpasswd, for the tests' registry with basic auth.
[ "$REGISTRY" = 1 ] && pkgs="$pkgs docker-registry apache2-utils"
if [ "$QEMU" = 1 ]; then
  pkgs="$pkgs qemu-user-static binfmt-support"
  # binfmt_misc must be mounted before qemu-user-static's postinst registers handlers.
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  [ "$APT_UPDATE" = 1 ] && apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ "$QEMU" = 1 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable >/dev/null 2>&1 || true
fi
step_done "apt (bookworm):${missing:- nothing to install}"

# ---------------------------------------------------------------- 2-6. build buildkitd/buildctl
if [ "$FORCE_BUILD" != 1 ] && [ -x "$BK_BIN_DIR/buildkitd" ] && [ -x "$BK_BIN_DIR/buildctl" ] \
   && "$BK_BIN_DIR/buildkitd" --version 2>/dev/null | grep -qF "$BK_TAG"; then
  log "buildkitd $BK_TAG already in $BK_BIN_DIR; skipping the build (FORCE_BUILD=1 rebuilds)"
else
  APTDIR=$BK_WORK/apt-trixie
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$BK_WORK/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $TRIXIE_MIRROR trixie main" > "$APTDIR/sources.list"
  O=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
     -o APT::Sandbox::User=root -qq)
  apt-get "${O[@]}" update
  step_done "apt-get update (private trixie lists)"

  rm -f "$BK_WORK"/debs/*.deb
  (cd "$BK_WORK/debs" && apt-get "${O[@]}" download $GO_TOOLCHAIN_PKGS $GO_DEV_PKGS)
  step_done "download $(ls "$BK_WORK"/debs/*.deb | wc -l) debs ($(du -sm "$BK_WORK/debs" | cut -f1) MB)"

  rm -rf "$BK_WORK/go" "$BK_WORK/gopath" "$BK_WORK/shim"
  mkdir -p "$BK_WORK/go" "$BK_WORK/gopath"
  for d in "$BK_WORK"/debs/golang-1.24-*.deb; do dpkg -x "$d" "$BK_WORK/go"; done
  for d in "$BK_WORK"/debs/*.deb; do
    case "$d" in */golang-1.24-*) ;; *) dpkg -x "$d" "$BK_WORK/gopath" ;; esac
  done
  step_done "dpkg -x toolchain + sources"

  GOSRC=$BK_WORK/gopath/usr/share/gocode/src
  BK=$GOSRC/github.com/moby/buildkit
  [ -f "$BK/cmd/buildkitd/main.go" ] || die "BuildKit source not found in golang-github-docker-docker-dev"
  # (a) Debian's BuildKit tree has no go.mod. GOPATH mode resolves ".../v2"-style imports
  #     (hashstructure/v2, go-systemd/v22) only from code that has a go.mod ("minimal
  #     module compatibility"), so give it one.
  printf 'module github.com/moby/buildkit\n\ngo 1.21\n' > "$BK/go.mod"
  # (b) Azure-blob and GitHub-Actions cache backends need modules Debian doesn't package: drop them.
  sed -i '/remotecache\/azblob"/d; /remotecache\/gha"/d; /"gha": *gha\./d; /"azblob": *azblob\./d' \
    "$BK/cmd/buildkitd/main.go"
  ! grep -qE 'azblob|gha\.' "$BK/cmd/buildkitd/main.go" || die "azblob/gha patch did not apply"
  # (c) Tiny stand-ins for three modules Debian doesn't package.
  S=$BK_WORK/shim/src/github.com
  mkdir -p "$S/tonistiigi/go-archvariant" "$S/containerd/fuse-overlayfs-snapshotter" "$S/package-url/packageurl-go"
  cat > "$S/tonistiigi/go-archvariant/archvariant.go" <<'EOF'
// Package archvariant stands in for github.com/tonistiigi/go-archvariant (not in Debian).
package archvariant

import "golang.org/x/sys/cpu"

// AMD64Variant reports the x86-64 micro-architecture level (v1..v4).
func AMD64Variant() string {
	x := cpu.X86
	if !(x.HasSSE3 && x.HasSSSE3 && x.HasSSE41 && x.HasSSE42 && x.HasPOPCNT) {
		return "v1"
	}
	if !(x.HasAVX && x.HasAVX2 && x.HasBMI1 && x.HasBMI2 && x.HasFMA && x.HasOSXSAVE) {
		return "v2"
	}
	if !(x.HasAVX512F && x.HasAVX512BW && x.HasAVX512CD && x.HasAVX512DQ && x.HasAVX512VL) {
		return "v3"
	}
	return "v4"
}
EOF
  cat > "$S/containerd/fuse-overlayfs-snapshotter/fuseoverlayfs.go" <<'EOF'
// Package fuseoverlayfs stands in for github.com/containerd/fuse-overlayfs-snapshotter
// (not in Debian): the fuse-overlayfs snapshotter is reported as unsupported.
package fuseoverlayfs

import (
	"errors"

	"github.com/containerd/containerd/snapshots"
)

var errUnsupported = errors.New("fuse-overlayfs snapshotter is not compiled into this buildkitd")

func Supported(root string) error { return errUnsupported }

func NewSnapshotter(root string, opts ...interface{}) (snapshots.Snapshotter, error) {
	return nil, errUnsupported
}
EOF
  cat > "$S/package-url/packageurl-go/packageurl.go" <<'EOF'
// Package packageurl stands in for github.com/package-url/packageurl-go (not in Debian),
// covering what BuildKit uses: building and parsing purls.
package packageurl

import (
	"errors"
	"net/url"
	"sort"
	"strings"
)

const (
	TypeDocker = "docker"
	TypeOCI    = "oci"
)

type Qualifier struct {
	Key   string
	Value string
}

type Qualifiers []Qualifier

func (qq Qualifiers) Map() map[string]string {
	m := make(map[string]string, len(qq))
	for _, q := range qq {
		m[q.Key] = q.Value
	}
	return m
}

func (qq Qualifiers) String() string {
	var parts []string
	for _, q := range qq {
		if q.Value != "" {
			parts = append(parts, q.Key+"="+url.PathEscape(q.Value))
		}
	}
	return strings.Join(parts, "&")
}

type PackageURL struct {
	Type       string
	Namespace  string
	Name       string
	Version    string
	Qualifiers Qualifiers
	Subpath    string
}

func NewPackageURL(purlType, namespace, name, version string, qualifiers Qualifiers, subpath string) *PackageURL {
	return &PackageURL{Type: purlType, Namespace: namespace, Name: name, Version: version, Qualifiers: qualifiers, Subpath: subpath}
}

func escapeSegments(s string) string {
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

func (p PackageURL) ToString() string {
	var b strings.Builder
	b.WriteString("pkg:" + strings.ToLower(p.Type) + "/")
	if p.Namespace != "" {
		b.WriteString(escapeSegments(p.Namespace) + "/")
	}
	b.WriteString(url.PathEscape(p.Name))
	if p.Version != "" {
		b.WriteString("@" + url.PathEscape(p.Version))
	}
	qs := append(Qualifiers(nil), p.Qualifiers...)
	sort.SliceStable(qs, func(i, j int) bool { return qs[i].Key < qs[j].Key })
	if q := qs.String(); q != "" {
		b.WriteString("?" + q)
	}
	if p.Subpath != "" {
		b.WriteString("#" + escapeSegments(strings.Trim(p.Subpath, "/")))
	}
	return b.String()
}

func (p PackageURL) String() string { return p.ToString() }

func FromString(purl string) (PackageURL, error) {
	var p PackageURL
	rest, ok := strings.CutPrefix(strings.TrimSpace(purl), "pkg:")
	if !ok {
		return p, errors.New("purl scheme is not \"pkg\"")
	}
	rest = strings.TrimLeft(rest, "/")
	if i := strings.LastIndex(rest, "#"); i >= 0 {
		sp, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return p, err
		}
		p.Subpath = strings.Trim(sp, "/")
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "?"); i >= 0 {
		for _, kv := range strings.Split(rest[i+1:], "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			uv, err := url.PathUnescape(v)
			if err != nil {
				return p, err
			}
			p.Qualifiers = append(p.Qualifiers, Qualifier{Key: strings.ToLower(k), Value: uv})
		}
		rest = rest[:i]
	}
	t, rest, ok := strings.Cut(rest, "/")
	if !ok || t == "" {
		return p, errors.New("purl is missing type or name")
	}
	p.Type = strings.ToLower(t)
	rest = strings.Trim(rest, "/")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		v, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return p, err
		}
		p.Version = v
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		ns, err := url.PathUnescape(rest[:i])
		if err != nil {
			return p, err
		}
		p.Namespace = ns
		rest = rest[i+1:]
	}
	n, err := url.PathUnescape(rest)
	if err != nil {
		return p, err
	}
	if n == "" {
		return p, errors.New("purl is missing name")
	}
	p.Name = n
	return p, nil
}
EOF
  step_done "patch + shims"

  DOCKER_DEB_VER=$(dpkg-deb -f "$(ls "$BK_WORK"/debs/golang-github-docker-docker-dev_*.deb)" Version)
  mkdir -p "$BK_WORK/bin"
  (
    export PATH=$BK_WORK/go/usr/lib/go-1.24/bin:$PATH
    export GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0
    export GOPATH=$BK_WORK/shim:$BK_WORK/gopath/usr/share/gocode GOCACHE=$BK_WORK/gocache
    go build -trimpath \
      -ldflags "-s -w -X github.com/moby/buildkit/version.Version=$BK_TAG -X github.com/moby/buildkit/version.Revision=debian-$DOCKER_DEB_VER" \
      -o "$BK_WORK/bin/" github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
  )
  install -m 0755 "$BK_WORK/bin/buildkitd" "$BK_WORK/bin/buildctl" "$BK_BIN_DIR/"
  step_done "go build buildkitd + buildctl"
fi
"$BK_BIN_DIR/buildkitd" --version 2>/dev/null

# ---------------------------------------------------------------- 7. config
mkdir -p "$(dirname "$BK_CONFIG")" "$BK_ROOT" /run/buildkit
if [ "${BK_KEEP_CONFIG:-0}" != 1 ] || [ ! -f "$BK_CONFIG" ]; then
  cat > "$BK_CONFIG" <<EOF
# buildkitd config for tests/CI on a Debian VM without container-registry access.
root = "$BK_ROOT"

[grpc]
  address = ["$BK_ADDR"]

[worker.oci]
  enabled = true
  # "auto" = overlayfs when the kernel allows it, else native.
  snapshotter = "auto"
  gc = true

[worker.containerd]
  enabled = false

# Local plain-HTTP registry (Debian's docker-registry) used by the tests.
[registry."localhost:$REGISTRY_PORT"]
  http = true
  insecure = true

[registry."127.0.0.1:$REGISTRY_PORT"]
  http = true
  insecure = true

# docker.io is mirrored to the local registry, so FROM python:3.11-slim and friends
# resolve to stand-in images pushed there as localhost:$REGISTRY_PORT/library/NAME:TAG.
[registry."docker.io"]
  mirrors = ["localhost:$REGISTRY_PORT"]
EOF
fi

# Image names like localhost:5000/base need "localhost" in /etc/hosts (Go's resolver
# otherwise asks DNS, which fails on a bare chroot/minimal image).
grep -qE '^[[:space:]]*127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts 2>/dev/null \
  || echo '127.0.0.1 localhost' >> /etc/hosts

# ---------------------------------------------------------------- 8. start buildkitd
bk_ready() { "$BK_BIN_DIR/buildctl" --addr "$BK_ADDR" debug workers >/dev/null 2>&1; }
if bk_ready; then
  log "buildkitd already answers on $BK_ADDR"
else
  setsid nohup "$BK_BIN_DIR/buildkitd" --config "$BK_CONFIG" >>"$BK_LOG" 2>&1 < /dev/null &
  echo $! > "$BK_PIDFILE"
  for _ in $(seq 1 300); do
    bk_ready && break
    kill -0 "$(cat "$BK_PIDFILE")" 2>/dev/null || { tail -n 30 "$BK_LOG" >&2; die "buildkitd exited"; }
    sleep 0.1
  done
  bk_ready || { tail -n 30 "$BK_LOG" >&2; die "buildkitd did not answer within 30 s"; }
  log "buildkitd pid $(cat "$BK_PIDFILE"), socket $BK_ADDR, log $BK_LOG"
fi
"$BK_BIN_DIR/buildctl" --addr "$BK_ADDR" debug workers >&2
step_done "start buildkitd + wait ready"

# ---------------------------------------------------------------- 9. local registry
if [ "$REGISTRY" = 1 ]; then
  reg_ready() { curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; }
  if reg_ready; then
    log "registry already answers on 127.0.0.1:$REGISTRY_PORT"
  else
    mkdir -p "$REGISTRY_DIR/data"
    cat > "$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
    setsid nohup docker-registry serve "$REGISTRY_DIR/config.yml" >>"$REGISTRY_LOG" 2>&1 < /dev/null &
    echo $! > "$REGISTRY_PIDFILE"
    for _ in $(seq 1 100); do reg_ready && break; sleep 0.1; done
    reg_ready || { tail -n 20 "$REGISTRY_LOG" >&2; die "registry did not answer"; }
    log "registry pid $(cat "$REGISTRY_PIDFILE"), http://127.0.0.1:$REGISTRY_PORT, log $REGISTRY_LOG"
  fi
  step_done "start docker-registry + wait ready"

  # -------------------------------------------------------------- 10. busybox base image
  if [ "$BASE_IMAGE" = 1 ]; then
    ctx=$(mktemp -d)
    mkdir -p "$ctx/r/bin" "$ctx/r/etc" "$ctx/r/tmp" "$ctx/r/root" "$ctx/r/usr"
    cp /bin/busybox "$ctx/r/bin/busybox"
    for a in $("$ctx/r/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$ctx/r/bin/$a"; done
    ln -s bin "$ctx/r/sbin"; ln -s ../bin "$ctx/r/usr/bin"; chmod 1777 "$ctx/r/tmp"
    echo 'root:x:0:0:root:/root:/bin/sh' > "$ctx/r/etc/passwd"; echo 'root:x:0:' > "$ctx/r/etc/group"
    tar -C "$ctx/r" -cf "$ctx/rootfs.tar" . && rm -rf "$ctx/r"
    printf 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nCMD ["/bin/sh"]\n' > "$ctx/Dockerfile"
    "$BK_BIN_DIR/buildctl" --addr "$BK_ADDR" build --progress quiet --frontend dockerfile.v0 \
      --local context="$ctx" --local dockerfile="$ctx" \
      --output "type=image,name=localhost:$REGISTRY_PORT/base:latest,push=true,registry.insecure=true"
    rm -rf "$ctx"
    log "pushed localhost:$REGISTRY_PORT/base:latest (busybox, linux/amd64)"
    step_done "push busybox base image"
  fi
fi

# ---------------------------------------------------------------- 11. stand-in Docker Hub images
if [ "$REGISTRY" = 1 ] && [ "$STANDIN_IMAGES" = 1 ]; then
  BK_ADDR=$BK_ADDR REGISTRY_PORT=$REGISTRY_PORT "$(dirname "$0")/standin-images.sh"
  step_done "stand-in images"
fi
log "ready: BUILDKIT_HOST=$BK_ADDR"
