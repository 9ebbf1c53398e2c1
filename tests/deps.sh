#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages mtslurm builds and tests with, if missing.
# Runs apt-get only when something is missing, so a warm machine pays nothing.
set -euo pipefail

pkgs=(build-essential pkg-config libuv1-dev libcjson-dev libsqlite3-dev libssl-dev
      libcmocka-dev libcurl4-openssl-dev libgit2-dev libmicrohttpd-dev
      libopenmpi-dev openmpi-bin libslurm-dev sqlite3 groff-base python3 chromium
      json-schema-test-suite curl iproute2 git
      bubblewrap charliecloud-runtime podman runc busybox-static
      slurm-wlm-torque)
# A target that needs more names it: `bash tests/deps.sh clang` (make fuzz).
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "mtslurm: missing packages: ${missing[*]}" >&2
	echo "mtslurm: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "mtslurm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
