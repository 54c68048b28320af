#!/usr/bin/env bash
# smoke.sh: build every fuzz target and run each for FUZZ_SECONDS seconds
# (default 10). Exits non-zero if a build fails or a target finds a crash.
# Skipped (exit 0) when cargo-fuzz is not installed.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-10}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/smoke.sh: cargo-fuzz is not installed; skipping (cargo install cargo-fuzz)"
    exit 0
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build
failed=()
for t in $(cargo fuzz list); do
    echo "== $t (${secs}s)"
    if ! cargo fuzz run "$t" -- -max_total_time="$secs" -print_final_stats=1 2>"target/smoke-$t.log"; then
        tail -n 40 "target/smoke-$t.log"
        failed+=("$t")
    else
        grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "target/smoke-$t.log" | tail -n 1 || true
    fi
done
if ((${#failed[@]})); then
    echo "fuzz/smoke.sh: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)"
    exit 1
fi
echo "fuzz/smoke.sh: all targets ran ${secs}s without a crash"
