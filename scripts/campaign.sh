#!/usr/bin/env bash
# The bad-input campaign: schemathesis generates requests from openapi.yaml against every
# operation (merchant and shopper routes) of the functions served by cargo lambda watch at
# $WATCH_ENDPOINT, and checks that none answers 5xx and every answer conforms to the spec.
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
for fn in first-payment repeat-payment verify-code payment-status payment-operations checkout-page; do
  curl -s -o /dev/null -X POST "$WATCH_ENDPOINT/lambda-url/$fn/payments" || true
done

# The spec as the local stack serves it: there, cargo lambda watch passes no authorizer context
# and the merchant's routes take the merchant from the X-Local-Merchant-Id header (API Gateway
# verifies the JWT in AWS, before any function runs). So the campaign checks what the functions
# themselves enforce: without that header, or with a bad one, a merchant route answers 401/403.
spec="$report_dir/openapi.local.yaml"
.venv/bin/python - "$spec" <<'PY'
import sys, yaml
spec = yaml.safe_load(open("openapi.yaml"))
spec["components"]["securitySchemes"]["merchantJwt"] = {
    "type": "apiKey", "in": "header", "name": "X-Local-Merchant-Id",
    "description": "the local stand-in for the JWT's merchant_id claim (LOCAL_AUTH=merchant-header)",
}
yaml.safe_dump(spec, open(sys.argv[1], "w"), sort_keys=False, allow_unicode=True)
PY

rm -f "$report_dir"/*.ndjson
# One schemathesis run per function and kind of route (its operations together: most of a small
# campaign's time is schemathesis starting up), two at a time (the functions and moto have room
# for two).
run_group() {
  local seed=$1 group=$2 fn ids skip run
  fn=${group%%:*}; ids=${group#*:}; run="$fn-${ids%%,*}-$seed"
  # ignored_auth sends made-up credentials and expects a refusal. The local header names a
  # merchant without proving it (that is why only the local stack reads it): any valid id is
  # "a merchant". The shopper's routes keep the check: a made-up client secret is refused.
  case "$ids" in
    payIn* | *InSession* | openCheckout* | getCheckoutState*) skip=positive_data_acceptance ;;
    *) skip=positive_data_acceptance,ignored_auth ;;
  esac
  # The merchant's routes act for shop-1 (the local stand-in for the JWT's merchant claim);
  # the shopper's routes get whatever bearer token schemathesis makes up (and answer 401).
  .venv/bin/st run "$spec" --url "$WATCH_ENDPOINT/lambda-url/$fn" \
    --include-operation-id-regex "^(${ids//,/|})$" \
    --header "X-Local-Merchant-Id: shop-1" \
    --max-examples "$examples" --checks all --exclude-checks "$skip" \
    --continue-on-failure --request-timeout 15 --seed "$seed" --no-color --output-sanitize false \
    --report ndjson --report-ndjson-path "$report_dir/$run.ndjson" > "$report_dir/$run.log" 2>&1 || true
  grep -E "generated" "$report_dir/$run.log" | sed "s/^ */$run: /"
}
# Each group's operations share their function and whether a made-up credential must be refused
# (merchant routes: the local header names any merchant; shopper routes: the secret is checked).
groups=(
  first-payment:createFirstPayment first-payment:payInSession
  repeat-payment:createRepeatPayment repeat-payment:payInSessionWithSavedCard
  verify-code:verifyCode,resendCode verify-code:verifyCodeInSession,resendCodeInSession
  payment-status:getPayment,listUserPayments,listPaymentMethods,listRefunds,getRefund
  payment-status:listEvents,getEvent,listWebhookEndpoints,getWebhookEndpoint,listWebhookDeliveries
  payment-operations:capturePayment,cancelPayment,createRefund,deletePaymentMethod
  payment-operations:createWebhookEndpoint,updateWebhookEndpoint,deleteWebhookEndpoint,rotateWebhookSecret,redeliverEvent
  checkout-page:createCheckoutSession,getCheckoutSession,expireCheckoutSession
  checkout-page:openCheckout,getCheckoutState
)
for seed in ${CAMPAIGN_SEEDS:-20261127}; do
  for group in "${groups[@]}"; do
    while [ "$(jobs -pr | wc -l)" -ge 2 ]; do wait -n || true; done
    run_group "$seed" "$group" &
  done
done
wait
# schemathesis's own verdict counts the emulator's failures too; the summary separates them
# and decides.
mkdir -p target/figures
.venv/bin/python scripts/campaign_summary.py "$report_dir"/*.ndjson \
  | sed "1s/^campaign:/campaign ($examples examples per operation, seeds ${CAMPAIGN_SEEDS:-20261127}):/" \
  | tee target/figures/campaign.txt
