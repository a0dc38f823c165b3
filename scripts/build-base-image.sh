#!/usr/bin/env bash
# Builds a stand-in for the Dockerfile's base image, python:3.11-slim-bookworm, from Debian bookworm with
# debootstrap, and imports it into podman as IMAGE (default localhost/ace3d-base:3.11-slim-bookworm). For
# machines that reach Debian's archive but no image registry (this project's test machines): the real base
# is Docker Hub's image; this one has the same Debian release and the same Python minor version (Debian's
# python3.11, with venv/ensurepip), `python`/`python3` on /usr/local/bin as in the real image, ca-certificates,
# and apt pointed at the host's own Debian sources. Built once: an existing IMAGE is kept (FORCE=1 rebuilds).
#
# The Debian mirror is read from the host's apt configuration (`apt-get indextargets`: whatever
# sources.list/deb822 files and proxies it names), never written into the project. Needs root (debootstrap).
# Usage: scripts/build-base-image.sh [IMAGE]        (podman settings: CONTAINERS_CONF, as for the test)
set -euo pipefail
image=${1:-localhost/ace3d-base:3.11-slim-bookworm}
suite=bookworm

if [ "${FORCE:-0}" != 1 ] && podman image exists "$image"; then
    echo "base image $image: present, reused"
    exit 0
fi

# The host's deb sources for bookworm, bookworm-updates and bookworm-security (main), as "URI SUITE" lines.
mapfile -t sources < <(apt-get indextargets --format '$(TARGET_OF) $(IDENTIFIER) $(REPO_URI) $(RELEASE) $(COMPONENT)' \
    | awk -v s="$suite" '$1 == "deb" && $2 == "Packages" && $5 == "main" && ($4 == s || $4 ~ "^" s "-") {print $3, $4}' \
    | sort -u)
mirror=$(printf '%s\n' "${sources[@]}" | awk -v s="$suite" '$2 == s {print $1; exit}')
if [ -z "$mirror" ]; then
    echo "ERROR: the host's apt configuration has no '$suite main' source to build the base image from" >&2
    exit 1
fi

rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/ace3d-base.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
echo "base image $image: debootstrap $suite from $mirror (the host's apt source)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$suite" "$rootfs" "$mirror" \
    > "$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# apt inside the image uses the same sources the host uses (one-line format, as in the real image's release)
for line in "${sources[@]}"; do
    read -r uri release <<< "$line"
    echo "deb $uri $release main"
done > "$rootfs/etc/apt/sources.list"
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

tar --numeric-owner -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "stand-in for python:3.11-slim-bookworm: debootstrap $suite + Debian python3.11" \
    - "$image" > /dev/null
echo "base image $image: built ($(podman image inspect --format '{{.Size}}' "$image") bytes)"
