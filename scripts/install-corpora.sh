#!/usr/bin/env bash
# Installs the real Go code used for false-positive hunting and benchmarks:
# Debian's golang-1.19-src (the standard library, /usr/share/go-1.19/src) and the
# golang-*-dev source packages (/usr/share/gocode/src).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends golang-1.19-src >/dev/null
if [ "${1:-}" != "--stdlib-only" ]; then
  mapfile -t pkgs < <(apt-cache pkgnames golang- | grep -E -- '-dev$' | sort)
  # Install in chunks so that one broken package does not stop the rest.
  printf '%s\n' "${pkgs[@]}" | xargs -n 200 $SUDO apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef >/dev/null 2>&1 || true
fi
echo "stdlib: $(find /usr/share/go-1.19/src -name '*.go' | wc -l) files"
[ -d /usr/share/gocode/src ] && echo "gocode: $(find -L /usr/share/gocode/src -name '*.go' 2>/dev/null | wc -l) files" || true
