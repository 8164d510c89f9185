#!/usr/bin/env bash
# Run the whole suite (unit, integration, notebooks) against the embedded cluster.
# Starts the cluster and the ksqlDB engine if they are not running, and stops afterwards only what it started.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
started=none
cleanup() {
    case "$started" in
        all) "$BIN/labkit" down ;;
        engine) "$BIN/labkit" down --engine-only ;;
    esac
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# `labkit status` exits 0 when Kafka and the ksqlDB engine are healthy, 4 when only the engine is not.
"$BIN/labkit" status --quiet
code=$?
if [ "$code" != 0 ]; then
    "$BIN/labkit" up || exit 1
    if [ "$code" = 4 ]; then started=engine; else started=all; fi
fi
"$BIN/python" -m pytest tests notebooks \
    --nbval --nbval-sanitize-with tests/notebooks/sanitize.cfg --nbval-cell-timeout=180 \
    -p no:cacheprovider "$@"
