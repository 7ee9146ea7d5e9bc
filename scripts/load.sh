#!/usr/bin/env bash
# `make load`: a fixed-rate ladder against a local stack of its own (moto serialized + cargo
# lambda watch, debug builds, ports apart from make run's and make test's), then the table and
# the checks of bench/load/report.py, recorded into BENCHMARKS.md when they pass.
#   LOAD_RATES      offered request rates, requests/s (default "5 10 20": this machine saturates near 10)
#   LOAD_STEP_SECS  how long each rate is held (default 30)
#   LOAD_GET_RATES  query rates of the GET-only ladders (oha -q), requests/s (default "25 50 100 200")
#   LOAD_GET_SECS   how long each of those is held (default 10)
#   OHA             the oha binary (make load installs the pinned one)
set -euo pipefail
cd "$(dirname "$0")/.."
export MOTO_PORT="${LOAD_MOTO_PORT:-4555}" WATCH_PORT="${LOAD_WATCH_PORT:-9055}" TABLE_NAME=payments-load LOG_FORMAT=text
export MOTO_PORT_VARIABLE=LOAD_MOTO_PORT WATCH_PORT_VARIABLE=LOAD_WATCH_PORT
export WATCH_FLAGS=--ignore-changes
# The load's merchant and phones are many: the SMS caps are not what is measured here.
export SMS_MERCHANT_HOURLY_CAP=100000000
source scripts/local-env.sh
lift_attempt_limits
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
# GET-only ladders at a fixed query rate (oha -q), on the stack the mix left behind: the checkout
# page (the ~15 KB answer that once drew stray 500s) and one payment's status. A count (-n =
# rate × seconds) rather than a duration, so no request is cut off unanswered at the end.
export LOAD_GET_RATES="${LOAD_GET_RATES:-25 50 100 200}" LOAD_GET_SECS="${LOAD_GET_SECS:-10}"
payment_id=$(python -c 'import json; print(json.loads(open("target/load/payments.jsonl").readline())["payment_id"])')
for rate in $LOAD_GET_RATES; do
  "$OHA" --no-tui --output-format json -q "$rate" -n $((rate * LOAD_GET_SECS)) -c 64 \
    "$WATCH_ENDPOINT/lambda-url/checkout-page/checkout/cs_0123456789abcdef0123456789" > "target/load/oha-checkout-page-$rate.json"
  "$OHA" --no-tui --output-format json -q "$rate" -n $((rate * LOAD_GET_SECS)) -c 64 -H 'x-local-merchant-id: shop-1' \
    "$WATCH_ENDPOINT/lambda-url/payment-status/payments/$payment_id" > "target/load/oha-payment-status-$rate.json"
done
python bench/load/report.py --record BENCHMARKS.md
