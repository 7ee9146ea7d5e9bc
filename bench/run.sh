#!/usr/bin/env bash
# `make bench`: cold starts of every function's release bootstrap against a local Lambda
# Runtime API, side by side with a hello-world lambda_http baseline from the same build, each
# function pointed at moto (through a counting proxy) so its first invocation does real SDK work;
# then the warm path in process (criterion, in-memory adapters) and the AWS round trips of each
# kind of request (real adapters against moto). Writes BENCHMARKS.md.
#   BENCH_RUNS      cold starts per function (default 30)
#   COLDSTART_ONLY  set: only the cold starts, printed as a table (no BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
export MOTO_PORT="${BENCH_MOTO_PORT:-4588}" TABLE_NAME=payments-bench LOG_FORMAT=json
source scripts/local-env.sh
trap 'trap - EXIT INT TERM; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
runs="${BENCH_RUNS:-30}"
functions=(first-payment repeat-payment verify-code payment-status checkout-page)

# The release profile SAM deploys (x86_64 here: the machine's own architecture, so it can run),
# and the baseline with the same profile. Same lambda_http and tokio versions as the functions.
cargo build --release $(printf -- '-p %s ' "${functions[@]}")
cp Cargo.lock bench/hello-lambda/Cargo.lock
cargo build --release --manifest-path bench/hello-lambda/Cargo.toml --target-dir target/bench-hello

start_moto > target/bench-moto.log 2>&1
cargo run -q -p dev-tools --bin create-table
# Keys from SSM SecureStrings, as in AWS: init then includes reading them.
.venv/bin/python - <<'PY'
import os, boto3
ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for name in ("CODE_HASH_KEYS", "CARD_ENCRYPTION_KEYS"):
    ssm.put_parameter(Name=f"/payments/bench/{name.lower()}", Value=os.environ[name], Type="SecureString", Overwrite=True)
PY
export CODE_HASH_KEYS_PARAM=/payments/bench/code_hash_keys CARD_ENCRYPTION_KEYS_PARAM=/payments/bench/card_encryption_keys
unset CODE_HASH_KEYS CARD_ENCRYPTION_KEYS LOCAL_AUTH MERCHANT_DISPLAY_NAMES
# Every run opens a payment for the fixture's phone.
export SMS_PHONE_HOURLY_CAP=1000000 SMS_MERCHANT_HOURLY_CAP=1000000
lift_attempt_limits

event_of() {
  case "$1" in
    first-payment) echo events/first-payment.201.json ;;
    repeat-payment) echo events/repeat-payment-no-saved-card.404.json ;;
    verify-code) echo events/verify-code-unknown-payment.404.json ;;
    payment-status) echo events/payment-history.200.json ;;
    checkout-page) echo bench/checkout.200.json ;;
  esac
}
specs=("hello=target/bench-hello/release/hello-lambda:events/payment-history.200.json")
for f in "${functions[@]}"; do specs+=("$f=${CARGO_TARGET_DIR:-target}/release/$f:$(event_of "$f")"); done
mkdir -p target/bench
.venv/bin/python bench/coldstart.py "$AWS_ENDPOINT_URL" "$runs" "${specs[@]}" > target/bench/coldstart.ndjson
if [ -n "${COLDSTART_ONLY:-}" ]; then
  # `COLDSTART_ONLY=1 bench/run.sh`: the cold starts alone (no package, no warm path, no round
  # trips), each function's own init against hello's, as the full run's table computes it.
  .venv/bin/python - <<'PY'
import json, statistics
rows = [json.loads(line) for line in open("target/bench/coldstart.ndjson")]
own = lambda r: statistics.median(x["init_ms"] - x["aws_wall_ms"]["init"] for x in r["samples"])
hello = own(rows[0])
print("| function | init median (ms) | own init (ms) | own init − hello (ms) | first invocation median (ms) |")
print("|---|---|---|---|---|")
for r in rows:
    init = statistics.median(x["init_ms"] for x in r["samples"])
    first = statistics.median(x["first_ms"] for x in r["samples"])
    print(f"| {r['function']} | {init:.1f} | {own(r):.1f} | {own(r) - hello:+.1f} | {first:.1f} |")
PY
  exit 0
fi

# Warm path (tests/benches/warm_path.rs) and round trips (tests/benches/round_trips.rs), each
# writing its JSON into target/bench/ for the summary.
rm -f target/bench/warm_path.json target/bench/round_trips.json
cargo bench -p integration-tests --features bench --bench warm_path
MOTO_ENDPOINT="$AWS_ENDPOINT_URL" cargo bench -p integration-tests --features bench --bench round_trips
.venv/bin/python bench/summary.py target/bench/coldstart.ndjson target/lambda > target/bench/BENCHMARKS.md
mv target/bench/BENCHMARKS.md BENCHMARKS.md
cat BENCHMARKS.md
