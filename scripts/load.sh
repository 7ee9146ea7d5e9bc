#!/usr/bin/env bash
# `make load`: a fixed-rate ladder against a local stack of its own (moto serialized + cargo
# lambda watch, debug builds, ports apart from make run's and make test's), then the table and
# the checks of bench/load/report.py, recorded into BENCHMARKS.md when they pass.
#   LOAD_RATES      offered request rates, requests/s (default "5 10 20": this machine saturates near 10)
#   LOAD_STEP_SECS  how long each rate is held (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
export MOTO_PORT="${LOAD_MOTO_PORT:-4555}" WATCH_PORT="${LOAD_WATCH_PORT:-9055}" TABLE_NAME=payments-load LOG_FORMAT=text
export MOTO_PORT_VARIABLE=LOAD_MOTO_PORT WATCH_PORT_VARIABLE=LOAD_WATCH_PORT
export WATCH_FLAGS=--ignore-changes
# The load's merchant and phones are many: the SMS caps are not what is measured here.
export SMS_MERCHANT_HOURLY_CAP=100000000
source scripts/local-env.sh
export MOTO_ENDPOINT="http://127.0.0.1:${MOTO_PORT}" WATCH_ENDPOINT="http://127.0.0.1:${WATCH_PORT}"
export LOAD_RATES="${LOAD_RATES:-5 10 20}" LOAD_STEP_SECS="${LOAD_STEP_SECS:-30}" LOAD_OUT=target/load
cleanup() {
  trap - EXIT INT TERM
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
mkdir -p target/load
cargo build -q --workspace --bins
start_moto > target/load/moto.log 2>&1
cargo run -q -p dev-tools --bin create-table
start_watch > target/load/watch.log 2>&1
# One request to each function first: cargo lambda watch starts a function on its first call.
for fn in first-payment repeat-payment verify-code payment-status checkout-page; do
  curl -s -o /dev/null "$WATCH_ENDPOINT/lambda-url/$fn/" -H 'x-local-merchant-id: shop-1' || true
done
# --stop-timeout: at the end every user finishes the request it is in, so none is cut off
# (a cut-off request's payment would look lost to the checks).
.venv-load/bin/locust -f bench/load/locustfile.py --headless --host "$WATCH_ENDPOINT" --only-summary --loglevel WARNING \
  --stop-timeout 120 \
  > target/load/locust.log 2>&1 || true
python bench/load/report.py --record BENCHMARKS.md
