# Environment of the local stack (sourced by scripts/*.sh). Dev-only values: never use these
# keys anywhere real.
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export MOTO_PORT="${MOTO_PORT:-4566}"
export WATCH_PORT="${WATCH_PORT:-9000}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}"
export TABLE_NAME="${TABLE_NAME:-payments-local}"
export CODE_HASH_KEYS="dev1:ZGV2LW9ubHktY29kZS1oYXNoLWtleS1ub3QtcHJvZCE="
export CARD_ENCRYPTION_KEYS="dev1:ZGV2LW9ubHktY2FyZC1lbmNyeXB0aW9uLWtleS0hISE="
export LOG_FORMAT="${LOG_FORMAT:-text}"
# cargo lambda watch passes no authorizer context: merchant routes take the merchant from the
# X-Local-Merchant-Id header instead. The functions refuse this unless AWS_ENDPOINT_URL is on
# 127.0.0.1; no deployed function ever has it (template.yaml never sets it, a test checks).
export LOCAL_AUTH=merchant-header
# (One entry each: cargo lambda watch splits an --env-var's value at commas.)
export MERCHANT_DISPLAY_NAMES='{"shop-1": "Lotus Tea House"}'
# shop-cn's shoppers read Chinese unless their session or browser says otherwise.
export MERCHANT_LOCALES='{"shop-cn": "zh-CN"}'
# The sandbox acquirer approves every valid card but its test cards; it needs the permission.
# `make run ACQUIRER=adyen`: the real Adyen adapter over HTTP, against the local stand-in built
# from Adyen's contract (scripts/adyen_standin.py), which notifies the local stack as Adyen does.
export ACQUIRER="${ACQUIRER:-sandbox}" ALLOW_SANDBOX_ACQUIRER=true
if [ "$ACQUIRER" = adyen ]; then
  export ADYEN_PORT="${ADYEN_PORT:-4011}"
  export ADYEN_ENDPOINT="http://127.0.0.1:${ADYEN_PORT}/v71"
  export ADYEN_MERCHANT_ACCOUNT=LocalAccount
  export ADYEN_RETURN_URL="http://127.0.0.1:${WATCH_PORT}/lambda-url/checkout-page/"
  export ADYEN_API_KEY=local-only-adyen-api-key
  export ADYEN_HMAC_KEY=44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056
  export ADYEN_NOTIFY_URL="http://127.0.0.1:${WATCH_PORT}/lambda-url/acquirer-notifications/acquirer/notifications"
fi
export PATH="$PWD/.venv/bin:$PATH"

# Variables the functions get under `cargo lambda watch`.
watch_env_args() {
  local v
  for v in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_EC2_METADATA_DISABLED \
           AWS_ENDPOINT_URL TABLE_NAME CODE_HASH_KEYS CARD_ENCRYPTION_KEYS LOG_FORMAT LOCAL_AUTH MERCHANT_DISPLAY_NAMES MERCHANT_LOCALES CHECKOUT_HOST SMS_COUNTRIES MERCHANT_SMS_COUNTRIES ACQUIRER ALLOW_SANDBOX_ACQUIRER \
           ADYEN_ENDPOINT ADYEN_MERCHANT_ACCOUNT ADYEN_RETURN_URL ADYEN_API_KEY ADYEN_HMAC_KEY \
           SMS_PHONE_HOURLY_CAP SMS_PHONE_PLATFORM_HOURLY_CAP SMS_MERCHANT_HOURLY_CAP \
           SMS_PREFIX_HOURLY_CAP SMS_SESSION_CAP SMS_IP_HOURLY_CAP \
           ATTEMPTS_PER_SESSION ATTEMPTS_PER_CARD_DAILY ATTEMPTS_PER_PHONE_HOURLY ATTEMPTS_PER_IP_HOURLY MERCHANT_DECLINES_HOURLY \
           CURRENCIES RETURN_URL_ORIGINS; do
    # cargo lambda watch refuses `NAME=` with no value: unset ones are left out.
    [ -n "${!v:-}" ] || continue
    printf -- '--env-var\n%s=%s\n' "$v" "${!v}"
  done
}

# Waits until something listens on 127.0.0.1:$1 (up to $2 seconds).
wait_for_port() {
  local port=$1 limit=${2:-60} i
  for ((i = 0; i < limit * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
  return 1
}

# Fails, saying so, when something already listens on 127.0.0.1:$1: a leftover emulator or
# watch from an earlier run would otherwise be used silently, with its old state and code.
require_free_port() {
  local port=$1 what=$2 variable=$3
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: 127.0.0.1:$port ($what) is already taken, perhaps by a leftover run;" \
         "stop it (e.g. \`fuser -k $port/tcp\`) or choose another port with $variable=..." >&2
    return 1
  fi
}

start_moto() {
  # `|| return`: callers may run this where `set -e` does not apply (`cmd || …`).
  require_free_port "$MOTO_PORT" moto "${MOTO_PORT_VARIABLE:-MOTO_PORT}" || return 1
  python scripts/moto_server.py "$MOTO_PORT" &
  wait_for_port "$MOTO_PORT" 60
}

# Lifts the velocity limits on card attempts: for runs that pay with the test cards from one
# address many times to measure something else (the fixtures, the browser test, the campaign,
# the load). `make run` keeps production's limits; the integration tests check them.
lift_attempt_limits() {
  export ATTEMPTS_PER_SESSION=1000000 ATTEMPTS_PER_CARD_DAILY=1000000 ATTEMPTS_PER_PHONE_HOURLY=1000000 \
    ATTEMPTS_PER_IP_HOURLY=1000000 SMS_IP_HOURLY_CAP=1000000 SMS_SESSION_CAP=1000000 SMS_PREFIX_HOURLY_CAP=1000000
}

# Extra flags for cargo lambda watch, e.g. --ignore-changes (tests want no hot reload).
WATCH_FLAGS="${WATCH_FLAGS:-}"

start_watch() {
  local args
  require_free_port "$WATCH_PORT" "cargo lambda watch" "${WATCH_PORT_VARIABLE:-WATCH_PORT}" || return 1
  mapfile -t args < <(watch_env_args)
  # shellcheck disable=SC2086
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" --concurrency 4 $WATCH_FLAGS "${args[@]}" &
  wait_for_port "$WATCH_PORT" 300
}
