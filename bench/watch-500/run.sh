#!/usr/bin/env bash
# The minimal reproduction: `cargo lambda watch` (the pinned one, from .venv) serving one
# function that answers N bytes; REQUESTS sequential GETs per size; per size, how many answers
# were the emulator's own bare 500 (a JSON body naming https://httpstatuses.com/500) while the
# function answered 200 every time.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="$root/.venv/bin:$PATH"
port=${REPRO_PORT:-9066}
requests=${REQUESTS:-500}
sizes=${SIZES:-"1024 4096 8192 12288 16384 24576 32768 65536"}
cargo build -q
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --ignore-changes > watch.log 2>&1 &
watch_pid=$!
trap 'kill $watch_pid 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
curl -s -o /dev/null "http://127.0.0.1:$port/lambda-url/sized/?bytes=1"
echo "bytes  requests  200  bare-500  other"
for size in $sizes; do
  ok=0 bare=0 other=0
  for _ in $(seq "$requests"); do
    status=$(curl -s -o body.out -w '%{http_code}' "http://127.0.0.1:$port/lambda-url/sized/?bytes=$size")
    if [ "$status" = 200 ] && [ "$(stat -c %s body.out)" = "$size" ]; then ok=$((ok + 1))
    elif [ "$status" = 500 ] && grep -q httpstatuses.com/500 body.out; then bare=$((bare + 1))
    else other=$((other + 1)); fi
  done
  printf '%6s %9s %4s %9s %6s\n' "$size" "$requests" "$ok" "$bare" "$other"
done
rm -f body.out
grep -i "error" watch.log | sort | uniq -c | sort -rn | head -5 || true
