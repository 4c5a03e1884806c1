#!/usr/bin/env bash
# Build the container image (Dockerfile) with docker, podman or buildah, whichever is installed.
#
#   packaging/build-image.sh [--tag NAME] [--debootstrap] [BUILDER ARGS...]
#
#   --tag NAME      image name (default: swarmd)
#   --debootstrap   no registry reachable: make the base image localhost/swarmd-base:bookworm
#                   from Debian's packages with debootstrap (once; needs root) and build on it
#   BUILDER ARGS    passed to the builder, e.g. --build-arg WITH_TRAINER=0, or
#                   --build-arg TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
#
# BUILDER=podman or BUILDER=buildah skips the others. podman and buildah run with
# --isolation chroot, which needs neither an OCI runtime nor cgroups (VMs with hybrid
# cgroups refuse crun), and --format docker (the OCI format drops HEALTHCHECK).
# See docs/deployment.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TAG=swarmd
DEBOOTSTRAP=0
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=localhost/swarmd-base:bookworm
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=${2:?--tag needs a name}; shift 2 ;;
    --debootstrap) DEBOOTSTRAP=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

# A docker client without a reachable daemon does not count.
if [ "${BUILDER:-}" != podman ] && [ "${BUILDER:-}" != buildah ] && command -v docker >/dev/null \
    && docker info >/dev/null 2>&1; then
  builder=(docker build)
  exists() { docker image inspect "$1" >/dev/null 2>&1; }
  import_rootfs() { tar -C "$1" -c . | docker import - "$BASE" >/dev/null; }
elif [ "${BUILDER:-}" != buildah ] && command -v podman >/dev/null; then
  builder=(podman build --format docker --isolation chroot --network host)
  exists() { podman image exists "$1"; }
  import_rootfs() { tar -C "$1" -c . | podman import - "$BASE" >/dev/null; }
elif command -v buildah >/dev/null; then
  builder=(buildah bud --format docker --isolation chroot --network host --layers)
  exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }
  import_rootfs() {
    local ctr
    ctr=$(buildah from scratch)
    tar -C "$1" -cf "$1.tar" .
    buildah add "$ctr" "$1.tar" / >/dev/null
    buildah commit --quiet "$ctr" "$BASE" >/dev/null
    buildah rm "$ctr" >/dev/null
  }
else
  echo "build-image: no image builder (docker, podman or buildah) is installed" >&2
  exit 2
fi

if [ "$DEBOOTSTRAP" -eq 1 ]; then
  if ! exists "$BASE"; then
    command -v debootstrap >/dev/null || { echo "build-image: debootstrap is not installed" >&2; exit 2; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "==> base image $BASE: debootstrap bookworm from $MIRROR"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR"
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    import_rootfs "$work/rootfs"
  fi
  args=(--build-arg "BASE_IMAGE=$BASE" "${args[@]}")
fi

echo "==> ${builder[*]} -t $TAG ${args[*]} ."
"${builder[@]}" -t "$TAG" "${args[@]}" .
