#!/bin/sh
# Used inside an image build: unpacks the named Debian trixie packages at the given version into
# /tmp/trixie (the Go binaries the upstream images ship are only in trixie at the pinned versions,
# and run on bookworm's glibc). The mirror is the one the base image's apt already uses.
# Usage: trixie-binaries.sh VERSION PACKAGE...
set -eu
version="$1"; shift
mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)"
echo "deb $mirror trixie main" > /etc/apt/sources.list.d/trixie.list
apt-get update -qq
mkdir -p /tmp/trixie-debs /tmp/trixie
cd /tmp/trixie-debs
for package in "$@"; do
	apt-get download -qq "$package=$version*"
done
for deb in /tmp/trixie-debs/*.deb; do dpkg -x "$deb" /tmp/trixie; done
rm -rf /etc/apt/sources.list.d/trixie.list /var/lib/apt/lists/* /tmp/trixie-debs
