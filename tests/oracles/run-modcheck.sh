#!/usr/bin/env bash
# Build and run the independent GR006/GR007/GR009 oracle (modcheck.go) on ROOT.
# Needs the go command, Debian's golang-1.19-src (for cmd/go's ShouldBuild) and
# golang-golang-x-mod-dev (golang.org/x/mod in /usr/share/gocode).
set -euo pipefail
root=${1:?usage: run-modcheck.sh ROOT [path=ring ...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/modcheck"
cp "$here/modcheck.go" "$work/src/modcheck/main.go"
sed -e 's/^package imports$/package main/' -e '/"cmd\/go\/internal\/cfg"/d' \
    -e 's/unixOS\[cfg.BuildContext.GOOS\]/false/' \
    /usr/share/go-1.19/src/cmd/go/internal/imports/build.go > "$work/src/modcheck/build.go"
export GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS=
go build -o "$work/modcheck" modcheck
"$work/modcheck" "$root" "$@"
