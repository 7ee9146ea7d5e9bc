#!/usr/bin/env bash
# `make run`: moto (serialized) on 127.0.0.1:4566, the table, `cargo lambda watch` on
# 127.0.0.1:9000, and the stream poller that feeds the webhook-events function. Stays in the
# foreground; Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local-env.sh
trap 'trap - EXIT INT TERM; kill $(jobs -p) 2>/dev/null; wait' EXIT INT TERM

start_moto
cargo run -q -p dev-tools --bin create-table
cargo build -q --workspace --bins
start_watch
# The webhook events: the table's stream to the webhook-events function, as the event source
# mapping does in AWS.
python scripts/stream_poller.py "http://127.0.0.1:${MOTO_PORT}" "$TABLE_NAME" "http://127.0.0.1:${WATCH_PORT}" &
if [ "$ACQUIRER" = adyen ]; then
  require_free_port "$ADYEN_PORT" "the Adyen stand-in" ADYEN_PORT
  python scripts/adyen_standin.py "$ADYEN_PORT" &
  wait_for_port "$ADYEN_PORT" 30
fi
cat <<MSG

Local stack is up:
  moto (DynamoDB + SNS)  http://127.0.0.1:${MOTO_PORT}
  functions              http://127.0.0.1:${WATCH_PORT}/lambda-url/<function>/<route>
  a checkout, as the merchant's server starts one (open the answer's "url" in a browser):
    curl -s -X POST http://127.0.0.1:${WATCH_PORT}/lambda-url/checkout-page/checkout/sessions \\
      -H 'X-Local-Merchant-Id: shop-1' -H 'content-type: application/json' \\
      -d '{"user_id": "u-42", "order_id": "o-1", "amount": 1999, "currency": "CNY", "return_url": "http://127.0.0.1:${WATCH_PORT}/"}'
  latest code for a phone: make code PHONE=+8613800138000
  the merchant's webhook events (recorded from the table's stream):
    curl -s http://127.0.0.1:${WATCH_PORT}/lambda-url/payment-status/events -H 'X-Local-Merchant-Id: shop-1'

  acquirer: ${ACQUIRER}$([ "$ACQUIRER" = adyen ] && echo " (stand-in http://127.0.0.1:${ADYEN_PORT}/v71; it notifies the stack;
    by hand: make adyen-notify EVENT=CAPTURE_FAILED REFERENCE=<payment id> PSP=<any> ORIGINAL=<pspReference> VALUE=1999)")

Ctrl-C stops everything.
MSG
wait
