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

# import_busybox NAME:TAG : a tiny base image made offline from Debian's busybox-static.
import_busybox() {
  local ref="$1"
  if docker image inspect "$ref" >/dev/null 2>&1; then return 0; fi
  ensure_packages busybox-static
  log "importing $ref from busybox-static"
  local rootfs
  rootfs="$(mktemp -d)"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  for app in sh ls cat echo mkdir cp mv rm chmod touch sed grep wc true false env sleep test printf; do
    ln -s busybox "$rootfs/bin/$app"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  tar --numeric-owner --owner=0 --group=0 --mtime='2000-01-01' -C "$rootfs" -c . | docker import - "$ref" >/dev/null
  rm -rf "$rootfs"
}
