#!/usr/bin/env bash
# The bad-input campaign: schemathesis generates requests from openapi.yaml against every
# operation of the functions served by cargo lambda watch at $WATCH_ENDPOINT, and checks that
# none answers 5xx and every answer conforms to the spec.
#   scripts/campaign.sh EXAMPLES_PER_OPERATION   (CAMPAIGN_SEEDS: space-separated seeds, one run each)
# `positive_data_acceptance` is left out: the API is deliberately stricter than a schema can
# say (Luhn, numbers valid for their country, the ISO 4217 list, card expiry), so schema-valid
# requests are often rightly refused with 422.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-500}"
report_dir="target/campaign"
mkdir -p "$report_dir"
export SCHEMATHESIS_HOOKS=scripts/campaign_hooks.py

# One request each first, so every function instance is up before the clock starts.
for fn in first-payment repeat-payment verify-code payment-status checkout-page; do
  curl -s -o /dev/null -X POST "$WATCH_ENDPOINT/lambda-url/$fn/payments" || true
done

rm -f "$report_dir"/*.ndjson
for seed in ${CAMPAIGN_SEEDS:-20261127}; do
  for op in first-payment:createFirstPayment repeat-payment:createRepeatPayment verify-code:verifyCode \
            verify-code:resendCode payment-status:getPayment payment-status:listUserPayments \
            checkout-page:openCheckout; do
    fn=${op%%:*}; id=${op##*:}; run="$id-$seed"
    .venv/bin/st run openapi.yaml --url "$WATCH_ENDPOINT/lambda-url/$fn" --include-operation-id "$id" \
      --max-examples "$examples" --checks all --exclude-checks positive_data_acceptance \
      --continue-on-failure --request-timeout 15 --seed "$seed" --no-color --output-sanitize false \
      --report ndjson --report-ndjson-path "$report_dir/$run.ndjson" > "$report_dir/$run.log" 2>&1 || true
    grep -E "generated" "$report_dir/$run.log" | sed "s/^ */$run: /"
  done
done
# schemathesis's own verdict counts the emulator's failures too; the summary separates them
# and decides.
mkdir -p target/figures
.venv/bin/python scripts/campaign_summary.py "$report_dir"/*.ndjson \
  | sed "1s/^campaign:/campaign ($examples examples per operation, seeds ${CAMPAIGN_SEEDS:-20261127}):/" \
  | tee target/figures/campaign.txt
