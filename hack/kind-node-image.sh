#!/usr/bin/env bash
# Assembles a kind node image with no registry: the kind-node rootfs (Debian systemd,
# containerd 1.6, runc, iptables, CNI plugins) + kind's own base-image files from the
# sigs.k8s.io/kind module + kubelet/kubeadm/kubectl/crictl built from Go modules + the
# control-plane images (built here from local binaries, under the names kubeadm expects)
# imported into the node's containerd at build time, as `kind build node-image` does.
# The result is cached as a rootfs tarball keyed by every input; a warm run only
# `docker import`s it when the image is missing. Prints NODE_IMAGE=<ref>.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=base-image.sh
source "$HACK_DIR/base-image.sh"

IMAGES_DIR="$HACK_DIR/images"
CAPFIX_IN_NODE=/usr/local/sbin/runc-capfix
POD_SUBNET=10.244.0.0/24

node_key() {
  {
    echo "$KUBE_VERSION $ETCD_VERSION $KIND_VERSION $CRICTL_VERSION"
    variant_key kind-node; variant_key iptables
    cat "${BASH_SOURCE[0]}"
    find "$IMAGES_DIR/control-plane" "$IMAGES_DIR/coredns" "$IMAGES_DIR/pause" "$IMAGES_DIR/runc-capfix" \
      -type f | sort | xargs cat
  } | sha256sum | cut -c1-12
}

# eval-able NAME=PATH lines from build-kube.sh (idempotent, cached by version).
load_tool_paths() {
  eval "$(KUBE_EXTRA_COMPONENTS="kubelet kubeadm kube-proxy" bash "$HACK_DIR/build-kube.sh" kube etcd kind)"
  KUBEADM="$KUBE_BIN/kubeadm"
}

# Go build in a wrapper module (cached per version): coredns and crictl are not
# `go install`able here (crictl: the proxy refuses the module's version list, and it requires
# k8s.io/* v0.34.0-rc.2, whose checksums the sum database mirror lacks, so those are replaced
# with the released twins of our Kubernetes version).
go_wrapper_build() {
  local name="$1" module="$2" version="$3" pkg="$4"; shift 4
  local out="$CACHE_DIR/$name-$version"
  if [[ ! -x "$out/bin/$name" ]]; then
    mkdir -p "$out/src" "$out/bin"
    {
      printf 'module hybridstream.local/%sbuild\n\ngo 1.24\n\nrequire %s %s\n\n' "$name" "$module" "$version"
      for r in "$@"; do echo "replace $r"; done
    } >"$out/src/go.mod"
    (cd "$out/src" && with_progress "go build $name $version" env GONOSUMDB="$module" CGO_ENABLED=0 \
      go build -trimpath -ldflags "-s -w" -o "$out/bin/$name.tmp" "$pkg")
    mv "$out/bin/$name.tmp" "$out/bin/$name"
  fi
  echo "$out/bin/$name"
}

build_crictl() {
  local sv="v0.${KUBE_VERSION#v1.}" replaces=()
  for m in api apimachinery client-go cri-api cri-client kubectl kubelet cli-runtime component-base; do
    replaces+=("k8s.io/$m => k8s.io/$m $sv")
  done
  go_wrapper_build crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl "${replaces[@]}"
}

# CoreDNS with cap_net_bind_service=+ep, in a tarball that keeps the xattr.
coredns_tarball() {
  local version="$1" out="$CACHE_DIR/coredns-$1/coredns.tar"
  if [[ ! -f "$out" ]]; then
    local bin; bin=$(go_wrapper_build coredns github.com/coredns/coredns "$version" github.com/coredns/coredns)
    apt_install libcap2-bin
    local dir; dir=$(mktemp -d)
    install -m 0755 "$bin" "$dir/coredns"
    setcap cap_net_bind_service=+ep "$dir/coredns"
    tar --xattrs --xattrs-include=security.capability --numeric-owner -C "$dir" -cf "$out.tmp" coredns
    mv "$out.tmp" "$out"
    rm -rf "$dir"
  fi
  echo "$out"
}

# The pause binary from k8s.io/kubernetes build/pause (same flags as its Makefile).
build_pause() {
  local version="$1" out="$CACHE_DIR/pause-$1/pause"
  if [[ ! -x "$out" ]]; then
    apt_install gcc libc6-dev
    mkdir -p "$(dirname "$out")"
    local src; src=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    gcc -Os -Wall -Werror -static -DVERSION="v$version-hybridstream" -o "$out.tmp" "$src/build/pause/linux/pause.c"
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

# docker build with a context holding only the one binary (the legacy builder sends the
# whole context directory).
build_image() {
  local ref="$1" dockerfile="$2" binary="$3"; shift 3
  # Reuse an image only if this very node build made it (same inputs, same key).
  local key; key=$(docker image inspect -f '{{index .Config.Labels "hybridstream.node-key"}}' "$ref" 2>/dev/null || true)
  [[ "$key" == "$NODE_KEY" ]] && return
  local ctx; ctx=$(mktemp -d)
  cp "$binary" "$ctx/"
  DOCKER_BUILDKIT=0 docker build -q --force-rm -f "$dockerfile" -t "$ref" --label "hybridstream.node-key=$NODE_KEY" \
    "$@" "$ctx" >/dev/null 2>"$ctx.err" \
    || { cat "$ctx.err" >&2; rm -rf "$ctx" "$ctx.err"; die "docker build $ref failed"; }
  rm -rf "$ctx" "$ctx.err"
}

# Builds every image `kubeadm config images list` names and saves them into one archive.
build_control_plane_images() {
  local archive="$1" iptables_image; iptables_image=$(variant_image iptables)
  local refs=()
  mapfile -t refs < <("$KUBEADM" config images list --kubernetes-version "$KUBE_VERSION")
  for ref in "${refs[@]}"; do
    local name="${ref##*/}"; name="${name%%:*}" tag="${ref##*:}"
    case "$name" in
      kube-apiserver|kube-controller-manager|kube-scheduler)
        build_image "$ref" "$IMAGES_DIR/control-plane/Dockerfile" "$KUBE_BIN/$name" --build-arg BIN="$name" ;;
      kube-proxy)
        build_image "$ref" "$IMAGES_DIR/control-plane/Dockerfile" "$KUBE_BIN/$name" \
          --build-arg BIN="$name" --build-arg BASE_IMAGE="$iptables_image" ;;
      etcd)
        # kubeadm names its pinned etcd (e.g. 3.6.5-0); we build ETCD_VERSION, recorded as a
        # label, since both are 3.6 patch releases and the name is what kubeadm pulls.
        build_image "$ref" "$IMAGES_DIR/control-plane/Dockerfile" "$ETCD_BIN/etcd" \
          --build-arg BIN=etcd --label "org.opencontainers.image.version=$ETCD_VERSION" ;;
      coredns)
        build_image "$ref" "$IMAGES_DIR/coredns/Dockerfile" "$(coredns_tarball "$tag")" ;;
      pause)
        build_image "$ref" "$IMAGES_DIR/pause/Dockerfile" "$(build_pause "$tag")" ;;
      *) die "kubeadm lists an image this script does not know how to build: $ref" ;;
    esac
  done
  # Images a rebuild replaced (same name, older inputs) are left untagged: drop them.
  docker image prune -f --filter label=hybridstream.node-key >/dev/null
  log "docker save ${#refs[@]} control-plane images"
  docker save -o "$archive" "${refs[@]}"
  printf '%s\n' "${refs[@]}" | grep '/pause:'  # the sandbox image, for containerd's config
}

# kind's images/base/files and the Dockerfile steps that go with them.
install_kind_files() {
  local dir="$1" kind_src; kind_src="$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION/images/base/files"
  [[ -d "$kind_src" ]] || die "kind base files not found at $kind_src"
  cp -r "$kind_src/kind" "$dir/"
  install -m 0755 "$kind_src"/usr/local/bin/* "$dir/usr/local/bin/"
  chmod 0755 "$dir/kind/bin" "$dir"/kind/bin/*
  cp -r "$kind_src"/etc/* "$dir/etc/"
  # kind's Dockerfile: trim systemd to what a node needs, keep the journal off kmsg.
  find "$dir/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$dir"/lib/systemd/system/multi-user.target.wants/* "$dir"/etc/systemd/system/*.wants/* \
    "$dir"/lib/systemd/system/local-fs.target.wants/* "$dir"/lib/systemd/system/sockets.target.wants/*udev* \
    "$dir"/lib/systemd/system/sockets.target.wants/*initctl* "$dir"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$dir/etc/systemd/journald.conf"
  ln -sf /lib/systemd/systemd "$dir/sbin/init"
  mkdir -p "$dir/etc/kubernetes/manifests" "$dir/kind/manifests"
}

# containerd from Debian instead of kind's build: paths, runc wrapper, sandbox image.
configure_containerd() {
  local dir="$1" pause_ref="$2" capfix; capfix=$(bash "$HACK_DIR/docker.sh" capfix-path)
  install -m 0755 "$capfix" "$dir$CAPFIX_IN_NODE"
  ln -sf /usr/bin/containerd "$dir/usr/local/bin/containerd"  # kind's unit runs this path
  local cfg="$dir/etc/containerd/config.toml"
  # The fuse-overlayfs proxy snapshotter is for rootless nodes; its binary is not here.
  python3 - "$cfg" "$pause_ref" "$CAPFIX_IN_NODE" <<'PY'
import re, sys
path, pause, capfix = sys.argv[1:]
text = open(path).read()
text = re.sub(r'\[proxy_plugins\]\n(#.*\n)?\[proxy_plugins\."fuse-overlayfs"\]\n(  .*\n)+', "", text)
text = re.sub(r'sandbox_image = ".*"', f'sandbox_image = "{pause}"', text)
# Privileged pods (kube-proxy) need the same capability fix as the node container itself.
text = text.replace("SystemdCgroup = true", f'SystemdCgroup = true\n    BinaryName = "{capfix}"')
open(path, "w").write(text)
PY
  grep -q "BinaryName = \"$CAPFIX_IN_NODE\"" "$cfg" || die "containerd config: runtime not set"
  in_chroot "$dir" sh -ec "ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer|length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}' | jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json"
  # A plain ptp CNI (routed veths, as kindnetd sets up) so no CNI image is needed; with one
  # node the node's pod CIDR is fixed. Debian installs the plugins in /usr/lib/cni.
  mkdir -p "$dir/opt/cni" "$dir/etc/cni/net.d"
  ln -sfn /usr/lib/cni "$dir/opt/cni/bin"
  cat >"$dir/etc/cni/net.d/10-hybridstream-ptp.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "hybridstream",
  "plugins": [
    {"type": "ptp", "ipMasq": true, "mtu": 1500,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
}

# Imports the image archive into the node's containerd (k8s.io namespace, as the CRI sees
# it) by running that containerd in the chroot just for the import, as kind's build does.
import_images() {
  local dir="$1" archive="$2"
  mkdir -p "$dir/tmp/import"
  mv "$archive" "$dir/tmp/import/images.tar"
  cat >"$dir/tmp/import/config.toml" <<'CFG'
version = 2
root = "/var/lib/containerd"
state = "/run/containerd-import"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "/run/containerd-import/containerd.sock"
CFG
  with_progress "ctr import control-plane images" in_chroot "$dir" bash -ec '
    containerd --config /tmp/import/config.toml >/tmp/import/containerd.log 2>&1 &
    pid=$!
    trap "kill $pid; wait $pid || true" EXIT
    for _ in $(seq 60); do [ -S /run/containerd-import/containerd.sock ] && break; sleep 1; done
    ctr="ctr --address /run/containerd-import/containerd.sock --namespace k8s.io"
    $ctr images import --no-unpack /tmp/import/images.tar >/dev/null
    $ctr images list -q'
  rm -rf "$dir/tmp/import" "$dir/run/containerd-import"
}

build_node_rootfs() {
  local out="$1" dir; dir=$(new_rootfs_dir)
  tar -C "$dir" -xf "$(build_rootfs kind-node)"
  install_kind_files "$dir"
  local pause_ref; pause_ref=$(build_control_plane_images "$dir/images.tar")
  configure_containerd "$dir" "$pause_ref"
  for b in kubelet kubeadm kubectl; do install -m 0755 "$KUBE_BIN/$b" "$dir/usr/bin/$b"; done
  install -m 0755 "$(build_crictl)" "$dir/usr/local/bin/crictl"
  echo "$KUBE_VERSION" >"$dir/kind/version"
  # Without a storage manifest kind falls back to this same host-path class, with a warning.
  cat >"$dir/kind/manifests/default-storage.yaml" <<'SC'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
SC
  in_chroot "$dir" sh -ec 'systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1; systemctl mask systemd-binfmt.service >/dev/null 2>&1'
  import_images "$dir" "$dir/images.tar" >&2
  tar_rootfs "$dir" "$out"
  rm -rf "$dir"
}

main() {
  bash "$HACK_DIR/docker.sh" up
  NODE_KEY=$(node_key)
  local ref="hybridstream/kind-node:$KUBE_VERSION-$NODE_KEY"
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    local tarball="$CACHE_DIR/kind-node-${ref##*:}.tar"
    if [[ ! -f "$tarball" ]]; then
      load_tool_paths
      build_node_rootfs "$tarball"
    fi
    log "docker import $ref"
    # docker import cannot set STOPSIGNAL, so the image config comes from a metadata-only
    # build on top of the imported rootfs (kind's node image config, minus build proxies).
    docker import "$tarball" "$ref-rootfs" >/dev/null
    printf '%s\n' "FROM $ref-rootfs" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
      'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
      | DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null
    docker rmi "$ref-rootfs" >/dev/null
  fi
  # Older node images are ~1 GB each (image and cached rootfs): keep only this one; docker
  # refuses to remove an image a running node still uses.
  docker images --format '{{.Repository}}:{{.Tag}}' hybridstream/kind-node | grep -vx "$ref" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
  find "$CACHE_DIR" -maxdepth 1 -name 'kind-node-*.tar' ! -name "kind-node-${ref##*:}.tar" -delete
  echo "NODE_IMAGE=$ref"
}
main "$@"
