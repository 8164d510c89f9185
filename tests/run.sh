#!/usr/bin/env bash
# Run the whole suite (unit, integration, notebooks) against the embedded cluster.
# Starts the cluster if it is not running, and stops it afterwards only if this script started it.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
started=0
cleanup() {
    if [ "$started" = 1 ]; then "$BIN/labkit" down; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! "$BIN/labkit" status --quiet; then
    "$BIN/labkit" up || exit 1
    started=1
fi
"$BIN/python" -m pytest tests notebooks \
    --nbval --nbval-sanitize-with tests/notebooks/sanitize.cfg --nbval-cell-timeout=180 \
    -p no:cacheprovider "$@"
