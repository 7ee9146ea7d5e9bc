#!/usr/bin/env bash
# `make package`: the deployable artefacts. Every function's arm64 release bootstrap (the
# workspace's release profile: fat LTO, one codegen unit, stripped) in ONE `cargo lambda build`
# invocation, so the dependencies are compiled once; then the SAM template validated with its
# linter. Prints the duration and each bootstrap's size and records them in BENCHMARKS.md.
# This is the target that proves the arm64 build; `make test` builds and runs every function
# natively (debug).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
functions=(first-payment repeat-payment verify-code payment-status payment-operations checkout-page payment-sweeper)

# Whether an earlier release build was there to reuse: the duration means little without it.
if [ -d target/aarch64-unknown-linux-gnu/release/deps ]; then reuse="an earlier arm64 release build in target/"; else reuse="no earlier arm64 release build"; fi
started=$SECONDS
cargo lambda build --release --arm64 $(printf -- '-p %s ' "${functions[@]}")
build_seconds=$((SECONDS - started))
sam validate --lint

mkdir -p target/figures
python3 - "$build_seconds" "$reuse" "${functions[@]}" <<'PY' | tee target/figures/package.txt
import os, sys
seconds, reuse, functions = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"package: one `cargo lambda build --release --arm64` of {len(functions)} functions in {seconds} s "
      f"({os.cpu_count()} cores, {reuse})")
for f in functions:
    path = f"target/lambda/{f}/bootstrap"
    with open(path, "rb") as elf:
        header = elf.read(20)
    machine = {0xB7: "aarch64", 0x3E: "x86_64"}.get(int.from_bytes(header[18:20], "little"), "unknown")
    size = os.path.getsize(path)
    print(f"  {f:<16} {machine:<8} {size / 1e6:6.2f} MB ({size} bytes)")
PY
.venv/bin/python scripts/record_figures.py BENCHMARKS.md package "make package" target/figures/package.txt
