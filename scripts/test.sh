#!/usr/bin/env bash
# `make test` (and `make soak`, `make campaign`): starts its own moto (serialized) and
# `cargo lambda watch` on ports apart from `make run`'s, stops them on exit, and prints how long
# each phase took (also written to target/figures/durations.txt).
#   MODE=test      every behaviour, at counts that fit in minutes (the default)
#   MODE=soak      the long campaigns: 1,000-round verify race, 200-round idempotency race,
#                  10,000 cases per property, the full bad-input campaign; figures recorded
#                  into docs/reliability.md
#   MODE=campaign  the full bad-input campaign alone
# Counts can be set: RACE_ROUNDS, REFUND_RACE_ROUNDS, PROPTEST_CASES, CAMPAIGN_EXAMPLES, CAMPAIGN_SEEDS.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${MODE:-test}"
case "$mode" in
  test) : "${RACE_ROUNDS:=40}" "${REFUND_RACE_ROUNDS:=50}" "${PROPTEST_CASES:=1000}" "${CAMPAIGN_EXAMPLES:=10}" ;;
  soak) : "${RACE_ROUNDS:=1000}" "${REFUND_RACE_ROUNDS:=1000}" "${PROPTEST_CASES:=10000}" "${CAMPAIGN_EXAMPLES:=550}" "${CAMPAIGN_SEEDS:=20261127 1127}" ;;
  campaign) : "${CAMPAIGN_EXAMPLES:=550}" "${CAMPAIGN_SEEDS:=20261127 1127}" ;;
  *) echo "error: MODE must be test, soak or campaign (got '$mode')" >&2; exit 2 ;;
esac
export RACE_ROUNDS REFUND_RACE_ROUNDS PROPTEST_CASES CAMPAIGN_EXAMPLES CAMPAIGN_SEEDS
export MOTO_PORT="${TEST_MOTO_PORT:-4577}" WATCH_PORT="${TEST_WATCH_PORT:-9077}" TABLE_NAME=payments-test LOG_FORMAT=text
export MOTO_PORT_VARIABLE=TEST_MOTO_PORT WATCH_PORT_VARIABLE=TEST_WATCH_PORT
# A second moto, on the next port: moto serializes its requests on one core, so the integration
# tests' tables alternate between the two (tests/support: Stack::build), and the long races
# (tests/races.rs, the concurrent refunds) run on the second.
export SECOND_MOTO_PORT=$((MOTO_PORT + 1))
# The functions under test stay the ones built here, whatever is edited meanwhile.
export WATCH_FLAGS=--ignore-changes
source scripts/local-env.sh

# Phases, timed. A failing check phase stops the run; a failing test phase is recorded and the
# others still run, so one run shows every failure.
durations=()
status=0
run_started=$SECONDS
report() {
  local line
  mkdir -p target/figures
  {
    echo "make ${mode}: phase durations (s), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    for line in "${durations[@]}"; do echo "  $line"; done
    echo "  total $((SECONDS - run_started))"
  } > target/figures/durations.txt
  echo "== figures"
  cat target/figures/*.txt 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  report
}
trap cleanup EXIT INT TERM
phase() { # phase NAME COMMAND...: must pass, or the run stops here
  local name=$1 started=$SECONDS result=0
  shift
  echo "== $name"
  "$@" || result=$?
  if [ "$result" != 0 ]; then
    durations+=("$name $((SECONDS - started)) FAILED")
    exit "$result"
  fi
  durations+=("$name $((SECONDS - started))")
}
tested() { # tested NAME COMMAND...: a failure fails the run at its end
  local name=$1 started=$SECONDS result=0
  shift
  echo "== $name"
  "$@" || result=$?
  durations+=("$name $((SECONDS - started))$([ "$result" = 0 ] || echo " FAILED")")
  [ "$result" = 0 ] || status=$result
}

# together NAME1 COMMAND1 NAME2 COMMAND2: two test phases side by side (each waits on its own
# emulator or on the network far more than on the CPU), recorded as `tested` records them; each
# one's output is shown once both have ended.
together() {
  local name pids=() names=("$1" "$3") started=$SECONDS
  echo "== $1 and $3, side by side"
  rm -f target/together-*
  for name in 1 2; do
    local command=${2}
    [ "$name" = 1 ] || command=${4}
    (
      local began=$SECONDS code=0
      eval "$command" > "target/together-$name.out" 2>&1 || code=$?
      echo "$((SECONDS - began)) $code" > "target/together-$name.result"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  for name in 1 2; do
    local seconds code
    read -r seconds code < "target/together-$name.result" || { seconds=$((SECONDS - started)); code=1; }
    echo "== ${names[$((name - 1))]}"
    cat "target/together-$name.out"
    durations+=("${names[$((name - 1))]} $seconds (side by side)$([ "$code" = 0 ] || echo " FAILED")")
    [ "$code" = 0 ] || status=$code
  done
}

# The generated properties at the soak's count, with the count and cargo's verdict as a figure.
properties_soak() {
  cargo test -p shared --test shared_tests -- properties:: 2>&1 | tee target/properties.log || return $?
  mkdir -p target/figures
  echo "properties: $PROPTEST_CASES generated cases each; $(grep -E '^test result:' target/properties.log | tail -1)" \
    > target/figures/properties.txt
}

mkdir -p target
rm -rf target/figures
# Formatting first: it fails in a second, before anything is built.
phase fmt cargo fmt --all --check
phase ports eval 'require_free_port "$MOTO_PORT" moto TEST_MOTO_PORT && require_free_port "$SECOND_MOTO_PORT" "the second moto" TEST_MOTO_PORT && require_free_port "$WATCH_PORT" "cargo lambda watch" TEST_WATCH_PORT'
phase tools make --no-print-directory -s tools
if [ "$mode" = test ]; then
  # The deployment template as CloudFormation reads it, SAM's transform included (cfn-lint runs
  # the SAM translator), checked on one core while the build runs (its verdict is awaited after
  # it, as the `template` phase). The arm64 release build is `make package`.
  (cfn-lint template.yaml > target/template.out 2>&1; echo $? > target/template.rc) &
  template_lint=$!
  # The browser test's tools: Debian's Chromium, and playwright-core pinned in tests/browser.
  phase browser-tools scripts/browser-tools.sh
fi

# Clippy lints every workspace crate while it is built, as `cargo clippy --workspace
# --all-targets -- -D warnings` would (the workspace's [workspace.lints] plus clippy's defaults,
# warnings as errors): clippy-driver wraps rustc for the workspace's own crates, as `cargo
# clippy` does, but with code generation, so the dependencies are compiled once instead of a
# second time in check mode. Every cargo command below (cargo lambda watch's builds included)
# inherits this, so none rebuilds what another built.
clippy_driver=$(rustup which clippy-driver 2> /dev/null || command -v clippy-driver || true)
if [ -z "$clippy_driver" ]; then
  echo "error: clippy is not installed: rustup component add clippy" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# Bins first, on their own: the same build cargo lambda watch will ask for, so it reuses it.
phase build+clippy cargo build --workspace --bins
phase build-tests+clippy cargo test --workspace --no-run
if [ "$mode" = test ]; then
  phase template eval 'wait $template_lint; cat target/template.out; [ "$(cat target/template.rc)" = 0 ]'
fi
phase start-moto eval 'start_moto > target/test-moto.log 2>&1 && MOTO_PORT=$SECOND_MOTO_PORT start_moto > target/test-moto-2.log 2>&1'
phase create-table cargo run -q -p dev-tools --bin create-table
# The local stack's flows pay with the test cards from 127.0.0.1 many times over.
lift_attempt_limits
phase start-watch eval 'start_watch > target/test-watch.log 2>&1'
export SECOND_MOTO_ENDPOINT="http://127.0.0.1:${SECOND_MOTO_PORT}"
export MOTO_ENDPOINT="http://127.0.0.1:${MOTO_PORT}" WATCH_ENDPOINT="http://127.0.0.1:${WATCH_PORT}"
# The campaign's summary reads the functions' output here (scripts/campaign_summary.py).
export WATCH_LOG=target/test-watch.log

case "$mode" in
  test)
    # First, on a fresh table: the fixtures' users and phones are fixed. Beside them, the
    # checkout page in headless Chromium (first payment, returning shopper, lock-out, decline)
    # while the emulator is nearly empty: it reads codes from moto's whole-state dump, which the
    # integration tests' tables make slow to serialize. Both wait on the local stack, one request
    # at a time.
    together fixtures 'scripts/invoke-events.sh target/test-watch.log' browser 'node tests/browser/checkout.mjs'
    tested cargo-test cargo test --workspace --no-fail-fast -- --skip faults:: --skip log_secrets::
    # Two tests need the process to themselves, one after the other. The fault cases keep
    # production's 2-second SDK timeouts against the serialized emulator, so no other test's
    # load may turn a planned fault into an unplanned timeout: their tables are on the second
    # moto, which nothing else uses meanwhile. The log capture installs a thread-scoped
    # subscriber: while it is the only one, tracing asks the registering thread's subscriber
    # about a callsite first hit elsewhere, so another test thread would switch that callsite off
    # for every thread and the capture would miss lines.
    # `--workspace` as above, so cargo reuses that build (`-p` unifies features differently and
    # would compile the integration tests again, ~12 s). Beside them, the bad-input campaign,
    # through the local stack (on the first moto).
    together alone 'cargo test --workspace --test integration -- --test-threads 1 faults:: log_secrets::' \
      campaign 'scripts/campaign.sh "$CAMPAIGN_EXAMPLES"'
    ;;
  soak)
    tested races cargo test --workspace --test integration -- races:: --test-threads 1
    tested refund-race cargo test --workspace --test integration -- refunds::concurrent
    tested properties properties_soak
    tested campaign scripts/campaign.sh "$CAMPAIGN_EXAMPLES"
    if [ "$status" = 0 ]; then
      phase record .venv/bin/python scripts/record_figures.py docs/reliability.md soak \
        "make soak" target/figures/race-verify.txt target/figures/race-idempotency.txt \
        target/figures/properties.txt target/figures/campaign.txt
    fi
    ;;
  campaign)
    tested campaign scripts/campaign.sh "$CAMPAIGN_EXAMPLES"
    ;;
esac
exit $status
