#!/usr/bin/env bash
# `make run`: moto (serialized) on 127.0.0.1:4566, the table, and `cargo lambda watch` on
# 127.0.0.1:9000. Stays in the foreground; Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local-env.sh
trap 'trap - EXIT INT TERM; kill $(jobs -p) 2>/dev/null; wait' EXIT INT TERM

start_moto
cargo run -q -p dev-tools --bin create-table
cargo build -q --workspace --bins
start_watch
cat <<MSG

Local stack is up:
  moto (DynamoDB + SNS)  http://127.0.0.1:${MOTO_PORT}
  functions              http://127.0.0.1:${WATCH_PORT}/lambda-url/<function>/<route>
  checkout page          http://127.0.0.1:${WATCH_PORT}/lambda-url/checkout-page/checkout?merchant_id=shop-1&order_id=o-1&amount=1999&currency=CNY&user_id=u-42
  latest code for a phone: make code PHONE=+8613800138000
Ctrl-C stops everything.
MSG
wait
