#!/usr/bin/env bash
# Every events/ fixture through `cargo lambda invoke --data-file` against the running
# `cargo lambda watch` (real functions, moto behind them): each must answer the status its name
# documents (`<case>.<status>.json`). Then the functions' stdout must hold the business metrics
# (CloudWatch EMF) those invocations recorded.
#   $1  the watch log to look for EMF lines in
set -euo pipefail
cd "$(dirname "$0")/.."
watch_log=$1
failed=0
for file in events/*.json; do
  name=$(basename "$file" .json)
  expected=${name##*.}
  case "$name" in
    first-payment*) function=first-payment ;;
    repeat-payment*) function=repeat-payment ;;
    verify-code* | resend-code*) function=verify-code ;;
    payment-status* | payment-history*) function=payment-status ;;
    *) echo "$file: no function for this fixture" >&2; failed=1; continue ;;
  esac
  answer=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" --data-file "$file" "$function")
  status=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["statusCode"])' "$answer")
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
exit $failed
