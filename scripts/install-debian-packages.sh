#!/usr/bin/env bash
# Installs the Debian packages listed in a file (one per line, '#' starts a comment) that are not installed
# yet. Used by `make sysdeps`, so that a fresh machine gets every system dependency from the project's files.
set -euo pipefail
list=${1:?usage: install-debian-packages.sh FILE}
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' || true)
missing=()
for p in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "Debian packages: all ${#wanted[@]} from $list are installed"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "ERROR: these Debian packages are missing: ${missing[*]}." >&2
    echo "Install them as root (apt-get install ${missing[*]}) or run make as a user with sudo." >&2
    exit 1
fi
echo "Debian packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
