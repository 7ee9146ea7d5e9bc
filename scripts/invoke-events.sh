#!/usr/bin/env bash
# Every events/ fixture through `cargo lambda invoke --data-file` against the running
# `cargo lambda watch` (real functions, moto behind them): each must answer the status its name
# documents (`<case>.<status>.json`; the scheduled sweeper's, `.report.json`, must answer its
# report). Then the functions' stdout must hold the business metrics
# (CloudWatch EMF) those invocations recorded, and each function's cold start must have warmed
# its connections (DynamoDB for all, SNS for those that send codes).
#   $1  the watch log to look for EMF lines in
set -euo pipefail
cd "$(dirname "$0")/.."
watch_log=$1
failed=0
for file in events/*.json; do
  name=$(basename "$file" .json)
  expected=${name##*.}
  case "$name" in
    first-payment* | session-payment*) function=first-payment ;;
    checkout-*) function=checkout-page ;;
    repeat-payment*) function=repeat-payment ;;
    verify-code* | resend-code*) function=verify-code ;;
    payment-status* | payment-history* | payment-methods-list*) function=payment-status ;;
    payment-methods-delete* | refund-create*) function=payment-operations ;;
    refund-get* | refunds-list*) function=payment-status ;;
    payment-sweeper*) function=payment-sweeper ;;
    *) echo "$file: no function for this fixture" >&2; failed=1; continue ;;
  esac
  answer=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" --data-file "$file" "$function")
  # An HTTP function answers a status code; the sweeper answers what it did.
  status=$(python3 -c 'import json,sys; a=json.loads(sys.argv[1]); print(a["statusCode"] if "statusCode" in a else "report" if "examined" in a else "?")' "$answer")
  if [ "$status" = "$expected" ]; then
    echo "ok   $file → $status"
  else
    echo "FAIL $file → $status, expected $expected: $answer" >&2
    failed=1
  fi
done
# The first-payment fixture opened a payment and sent its code: both are counted.
for metric in PaymentsCreated CodesSent; do
  if ! grep -q "\"CloudWatchMetrics\".*\"Name\":\"$metric\"" "$watch_log"; then
    echo "FAIL no EMF line for $metric in $watch_log" >&2
    failed=1
  fi
done
# Log lines may carry colour codes; strip them before matching.
plain_log=$(sed 's/\x1b\[[0-9;]*m//g' "$watch_log")
warm_count() { grep -c "cold start: services ready.*$1=true" <<<"$plain_log" || true; }
if [ "$(warm_count dynamodb_warm)" -lt 4 ] || [ "$(warm_count sns_warm)" -lt 3 ]; then
  echo "FAIL cold starts did not warm their connections: $(grep 'cold start' <<<"$plain_log" | tail -5)" >&2
  failed=1
fi
exit $failed
