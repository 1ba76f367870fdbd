#!/usr/bin/env bash
# Builds Prometheus Alertmanager from the Go module proxy into build/alertmanager-$VERSION/,
# for the intake tests (internal/alertmanagertest), once: a binary already there is kept.
#
# The module zip lacks ui/app/dist, which ui/web.go embeds: the module is copied to a scratch
# directory, given a two-file stub of it, and built there with its own go.mod and go.sum.
# About 1-2 minutes on 2 cores with a cold cache; bounded by TIMEOUT (seconds, default 900).
set -euo pipefail
VERSION=v0.35.0
cd "$(dirname "$0")/../.."
out=build/alertmanager-$VERSION
if [ -x "$out/alertmanager" ]; then
	exit 0
fi
echo "Building Prometheus Alertmanager $VERSION into $out (once; 1-2 minutes)" >&2
src=$(go mod download -json "github.com/prometheus/alertmanager@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$src" ] || [ ! -d "$src" ]; then
	echo "alertmanager.sh: go mod download gave no module directory" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"
for ui in elm mantine; do
	mkdir -p "$work/src/ui/app/dist/$ui"
	echo '<!doctype html><title>Alertmanager</title>' >"$work/src/ui/app/dist/$ui/index.html"
done
mkdir -p "$out"
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod timeout "${TIMEOUT:-900}" go build -trimpath -o "$work/alertmanager" ./cmd/alertmanager)
mv "$work/alertmanager" "$out/alertmanager"
"$out/alertmanager" --version 2>&1 | head -1 >&2
