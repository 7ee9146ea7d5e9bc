#!/usr/bin/env bash
# `make test`: every test. Checks and builds the SAM template, starts its own moto (serialized)
# and `cargo lambda watch` on ports apart from `make run`'s, and stops them on exit. Then the
# bad-input campaign, small.
#   CAMPAIGN_EXAMPLES  schemathesis examples per operation (default 60; `make campaign`: 550)
#   RACE_ROUNDS        verify race rounds (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
export MOTO_PORT="${TEST_MOTO_PORT:-4577}" WATCH_PORT="${TEST_WATCH_PORT:-9077}" TABLE_NAME=payments-test LOG_FORMAT=text
# The functions under test stay the ones built here, whatever is edited meanwhile.
export WATCH_FLAGS=--ignore-changes
source scripts/local-env.sh
trap 'trap - EXIT INT TERM; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

# The deployment template, as CloudFormation and SAM read it, and the build SAM deploys:
# `cargo lambda build --release --arm64` per function (zig links; cargo-lambda adds the
# aarch64 target through rustup if it is missing).
export SAM_CLI_TELEMETRY=0
cfn-lint template.yaml
sam validate --lint
if [ "${CAMPAIGN_ONLY:-0}" != 1 ]; then
  sam build --build-dir target/sam-build
fi

# The browser test's tools: Debian's Chromium, and playwright-core pinned in tests/browser.
if ! command -v chromium > /dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium > /dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)

# Bins first, on their own: the same build cargo lambda watch will ask for, so it reuses it.
cargo build --workspace --bins
cargo test --workspace --no-run
start_moto > target/test-moto.log 2>&1
cargo run -q -p dev-tools --bin create-table
start_watch > target/test-watch.log 2>&1
export MOTO_ENDPOINT="http://127.0.0.1:${MOTO_PORT}" WATCH_ENDPOINT="http://127.0.0.1:${WATCH_PORT}"

status=0
rm -rf target/figures
if [ "${CAMPAIGN_ONLY:-0}" != 1 ]; then
  # First, on a fresh table: the fixtures' users and phones are fixed.
  scripts/invoke-events.sh target/test-watch.log || status=$?
  cargo test --workspace --no-fail-fast || status=$?
  # The checkout page in headless Chromium: first payment, returning shopper, lock-out.
  node tests/browser/checkout.mjs || status=$?
fi
scripts/campaign.sh "${CAMPAIGN_EXAMPLES:-60}" || status=$?
echo "== figures"
cat target/figures/*.txt 2>/dev/null || true
exit $status
