# shellcheck shell=bash
# Shared by scripts/try, scripts/test and the benchmarks: install what is missing and start
# a Docker engine that works on a bare Debian machine (no iptables, no bridge, vfs storage).

set -euo pipefail

WHARF_STATE="${WHARF_STATE:-/tmp/wharf-state}"
mkdir -p "$WHARF_STATE"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# disk_report WHERE: one line of free space on the filesystems the build and the engine use.
# A CI run once died of a full disk mid-compile; this line says how close each run comes.
disk_report() {
  local t="${CARGO_TARGET_DIR:-target}"
  mkdir -p "$t"
  log "disk ($1): target $(du -sh "$t" 2>/dev/null | cut -f1), state $(du -sh "$WHARF_STATE" 2>/dev/null | cut -f1), free $(df -h --output=avail "$t" | tail -1 | tr -d ' ')"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG... : installs the Debian packages that are missing.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      log "installing the Rust toolchain (Debian's cargo)"
      ensure_packages cargo
    fi
  fi
}

# moto's server (ECR for the ecr driver's tests, S3 for the static root's) in a virtualenv of its own.
ensure_moto() {
  local venv="${WHARF_MOTO_VENV:-/tmp/wharf-moto}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto[server] into $venv"
    ensure_packages python3-venv
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'moto[server]==5.2.5'
  fi
  export WHARF_TEST_MOTO_SERVER="$venv/bin/moto_server"
}

docker_ok() { docker version >/dev/null 2>&1; }

# start_dockerd: uses DOCKER_HOST or the default socket when an engine answers there, else
# starts one of our own under $WHARF_STATE and exports DOCKER_HOST.
start_dockerd() {
  ensure_packages docker.io
  if docker_ok; then return 0; fi
  local root="$WHARF_STATE/dockerd"
  mkdir -p "$root"
  export DOCKER_HOST="unix://$root/docker.sock"
  if docker_ok; then return 0; fi
  log "starting dockerd (data in $root)"
  if [ -f "$root/dockerd.pid" ]; then
    kill "$(cat "$root/dockerd.pid")" 2>/dev/null || true
    rm -f "$root/dockerd.pid"
  fi
  rm -f "$root/docker.sock"
  as_root dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/dockerd.pid" \
    --host "$DOCKER_HOST" >"$root/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    if docker_ok; then return 0; fi
    sleep 0.5
  done
  echo "dockerd did not start; its log:" >&2
  tail -n 40 "$root/dockerd.log" >&2
  return 1
}

# import_busybox NAME:TAG [ARCH BUSYBOX] : a tiny base image made offline from Debian's
# busybox-static (the machine's own, or the binary BUSYBOX built for linux/ARCH). The image
# is loaded as a `docker save` archive whose config names its architecture (`docker import
# --platform` leaves the engine's own architecture on engine 20.10).
import_busybox() {
  local ref="$1" arch="${2:-}" binary="${3:-/bin/busybox}"
  if docker image inspect "$ref" >/dev/null 2>&1; then return 0; fi
  [ -n "$arch" ] || ensure_packages busybox-static
  log "importing $ref from busybox-static${arch:+ ($arch)}"
  local work rootfs
  work="$(mktemp -d)"
  rootfs="$work/rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp "$binary" "$rootfs/bin/busybox"
  for app in sh ls cat echo mkdir cp mv rm chmod touch sed grep wc true false env sleep test printf uname; do
    ln -s busybox "$rootfs/bin/$app"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  if [ -z "$arch" ]; then
    tar --numeric-owner --owner=0 --group=0 --mtime='2000-01-01' -C "$rootfs" -c . | docker import - "$ref" >/dev/null
  else
    mkdir -p "$work/archive"
    tar --numeric-owner --owner=0 --group=0 --mtime='2000-01-01' -C "$rootfs" -cf "$work/archive/layer.tar" .
    local diff config
    diff="sha256:$(sha256sum "$work/archive/layer.tar" | cut -d' ' -f1)"
    printf '{"architecture":"%s","os":"linux","created":"2000-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
      "$arch" "$diff" >"$work/archive/config.json"
    config="$(sha256sum "$work/archive/config.json" | cut -d' ' -f1)"
    mv "$work/archive/config.json" "$work/archive/$config.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$config" "$ref" >"$work/archive/manifest.json"
    tar -C "$work/archive" -c . | docker load >/dev/null
  fi
  rm -rf "$work"
}

# ensure_emulation: arm64 binaries run here through qemu-user-static and binfmt_misc (the
# multi-platform builds' RUN steps, `docker run --platform linux/arm64`). The handler is
# registered with the F flag (Debian's binfmt.d file), so it works inside containers too.
ensure_emulation() {
  ensure_packages qemu-user-static
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    log "registering qemu-aarch64 with binfmt_misc"
    grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf | as_root tee /proc/sys/fs/binfmt_misc/register >/dev/null
  fi
}

# import_busybox_arm64 NAME:TAG : the arm64 busybox-static from Debian's archive, as an
# arm64 image.
import_busybox_arm64() {
  local ref="$1"
  if docker image inspect "$ref" >/dev/null 2>&1; then return 0; fi
  local dir
  dir="$(mktemp -d)"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    as_root dpkg --add-architecture arm64
    as_root apt-get update -qq
  fi
  (cd "$dir" && apt-get download -qq busybox-static:arm64 2>/dev/null) || {
    as_root apt-get update -qq
    (cd "$dir" && apt-get download -qq busybox-static:arm64)
  }
  dpkg-deb -x "$dir"/busybox-static_*_arm64.deb "$dir/root"
  import_busybox "$ref" arm64 "$dir/root/bin/busybox"
  rm -rf "$dir"
}
