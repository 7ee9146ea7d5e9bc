#!/usr/bin/env bash
# Development helper: cargo lambda watch on $WATCH_PORT against moto on $MOTO_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local-env.sh
cargo run -q -p dev-tools --bin create-table
start_watch
wait
