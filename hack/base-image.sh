#!/usr/bin/env bash
# Builds the local base images from Debian packages (this machine reaches the Debian mirror
# but no container registry):
#   hybridstream/bookworm:<key>  minimal bookworm (debootstrap --variant=minbase)
#   hybridstream/python:<key>    bookworm + Debian's python3 (3.11, as we target) + venv
# plus the variants kind-node-image.sh needs (iptables for kube-proxy, kind-node).
# Each rootfs is cached as a tarball in $CACHE_DIR keyed by suite and package list, so a warm
# run only `docker import`s a missing image. `images` prints BOOKWORM_IMAGE=/PYTHON_IMAGE=;
# `image VARIANT` prints one image reference; `rootfs VARIANT` prints the tarball path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bookworm
# The mirror apt already uses here (deb.debian.org, or a snapshot/proxy on other machines).
MIRROR="${HYBRIDSTREAM_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(\S*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
# Rootfs variants: Debian packages added on top of the debootstrap minbase.
declare -A VARIANT_PKGS=(
  [bookworm]=""
  [python]="python3 python3-venv ca-certificates tzdata"
  # kube-proxy's image: upstream ships it on distroless-iptables (iptables, conntrack, ipset).
  [iptables]="iptables conntrack ipset kmod"
  # The kind node: the package list of kind's images/base/Dockerfile, minus what kind builds
  # from source there (containerd, runc, CNI plugins), which come from Debian here.
  [kind-node]="systemd conntrack iptables nftables iproute2 ethtool kmod libseccomp2 pigz ca-certificates curl jq procps containerd runc containernetworking-plugins"
)

variant_key() { printf '%s\n' "$SUITE" "${VARIANT_PKGS[$1]}" | sha256sum | cut -c1-10; }

# Runs a command in a chroot with /proc, /sys and /dev mounted (postinst scripts need
# them) and unmounts on every exit path.
in_chroot() {
  local dir="$1"; shift
  mount -t proc proc "$dir/proc"
  mount --rbind /sys "$dir/sys" && mount --make-rslave "$dir/sys"
  mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  local rc=0
  chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@" || rc=$?
  umount -R "$dir/dev" "$dir/sys" "$dir/proc"
  : >"$dir/etc/resolv.conf"
  return $rc
}

# Installs Debian packages into a rootfs and trims caches and docs.
chroot_apt_install() {
  local dir="$1"; shift
  in_chroot "$dir" sh -ec "apt-get update -qq && apt-get install -y -qq --no-install-recommends $* >/dev/null && apt-get clean"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
}

# mktemp makes 0700 directories; a rootfs's / must be 0755 (non-root users, apt's _apt).
new_rootfs_dir() {
  local dir; dir=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  chmod 0755 "$dir"
  echo "$dir"
}

tar_rootfs() {
  local dir="$1" out="$2"
  tar --numeric-owner --xattrs -C "$dir" -cf "$out.tmp" . && mv "$out.tmp" "$out"
}

build_bookworm_rootfs() {
  local out="$CACHE_DIR/rootfs-bookworm-$(variant_key bookworm).tar"
  [[ -f "$out" ]] && { echo "$out"; return; }
  apt_install debootstrap
  local dir; dir=$(new_rootfs_dir)
  with_progress "debootstrap $SUITE from $MIRROR" \
    debootstrap --variant=minbase --components=main "$SUITE" "$dir" "$MIRROR" >/dev/null
  # Security and point-release updates, as a registry image would have them.
  cat >"$dir/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
SRC
  with_progress "apt upgrade (rootfs)" in_chroot "$dir" sh -ec 'apt-get update -qq && apt-get upgrade -y -qq >/dev/null && apt-get clean'
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
  tar_rootfs "$dir" "$out"
  rm -rf "$dir"
  echo "$out"
}

# Prints the cached rootfs tarball of a variant, building it first when missing.
build_rootfs() {
  local variant="$1"
  [[ -v "VARIANT_PKGS[$variant]" ]] || die "unknown rootfs variant: $variant"
  [[ "$variant" == bookworm ]] && { build_bookworm_rootfs; return; }
  local out="$CACHE_DIR/rootfs-$variant-$(variant_key "$variant").tar"
  [[ -f "$out" ]] && { echo "$out"; return; }
  local base; base=$(build_bookworm_rootfs)
  local dir; dir=$(new_rootfs_dir)
  tar -C "$dir" -xf "$base"
  with_progress "rootfs $variant: apt-get install ${VARIANT_PKGS[$variant]}" \
    chroot_apt_install "$dir" "${VARIANT_PKGS[$variant]}"
  tar_rootfs "$dir" "$out"
  rm -rf "$dir"
  echo "$out"
}

# docker import with the config a registry base image carries (PATH, a shell CMD).
import_image() {
  local tarball="$1" ref="$2"
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    log "docker import $ref"
    docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' "$tarball" "$ref" >/dev/null
  fi
}

# Imports a variant as hybridstream/<variant>:<key> (if missing) and prints the reference.
variant_image() {
  local variant="$1" ref="hybridstream/$1:$(variant_key "$1")"
  import_image "$(build_rootfs "$variant")" "$ref"
  echo "$ref"
}

main() {
  case "${1:-images}" in
    images)
      bash "$HACK_DIR/docker.sh" up
      echo "BOOKWORM_IMAGE=$(variant_image bookworm)"
      echo "PYTHON_IMAGE=$(variant_image python)"
      ;;
    image) variant_image "${2:?usage: base-image.sh image VARIANT}" ;;
    rootfs) build_rootfs "${2:?usage: base-image.sh rootfs VARIANT}" ;;
    *) die "usage: base-image.sh [images|image VARIANT|rootfs VARIANT]" ;;
  esac
}
# kind-node-image.sh sources this file for in_chroot/chroot_apt_install/tar_rootfs.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
