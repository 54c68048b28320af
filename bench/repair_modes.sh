#!/usr/bin/env bash
# repair_modes.sh — what redb's quick repair (decision D11) costs and buys on
# an existing data directory: for each mode (quick, the default; full, with
# --full-repair) it writes ENTRIES more entries through the API with the load
# generator (throughput and latency with that mode's commits), kills the node
# with SIGKILL right after the load, and times the restart (process start
# until /checkpoint answers).
# Usage: bench/repair_modes.sh DATA_DIR [ENTRIES] [CLIENTS]
#   DATA_DIR: a node data directory, e.g. one kept by `KEEP=1 bench/scale.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/repair_modes.sh DATA_DIR [ENTRIES] [CLIENTS]}
ENTRIES=${2:-200000}
CLIENTS=${3:-64}
cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
BIN=target/release/regledger-node
LOADGEN=target/release/regledger-loadgen   # tools/loadgen
PID=
trap '[[ -n "$PID" ]] && kill -9 $PID 2>/dev/null || true' EXIT
# shellcheck source=bench/common.sh
source bench/common.sh
PORT=$(pick_port)
for mode in quick full; do
    flags=()
    [[ $mode == full ]] && flags=(--full-repair)
    "$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" "${flags[@]}" >/dev/null 2>&1 & PID=$!
    wait_up "$PORT"
    size0=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^regledger_tree_size / {print $2}')
    bench=$("$LOADGEN" --url "http://127.0.0.1:$PORT" --data "$DATA" --clients "$CLIENTS" --entries "$ENTRIES" --payload-bytes 300)
    kill -KILL $PID; wait $PID 2>/dev/null || true
    db=$(stat -c %s "$DATA/ledger.redb")
    t0=$(date +%s.%N)
    "$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" "${flags[@]}" >/dev/null 2>&1 & PID=$!
    wait_up "$PORT"
    t1=$(date +%s.%N)
    kill -TERM $PID; wait $PID 2>/dev/null || true
    PID=
    python3 - "$mode" "$size0" "$db" "$t0" "$t1" "$bench" <<'PY'
import json, sys
mode, size0, db, t0, t1, bench = sys.argv[1:]
b = json.loads(bench)
print(json.dumps({
    "mode": mode, "tree_size_before": int(size0), "db_bytes": int(db),
    "throughput_per_s": b["throughput_per_s"], "p50_ms": round(b["p50_ms"], 1), "p99_ms": round(b["p99_ms"], 1),
    "mean_batch_size": round(b["mean_batch_size"], 1), "node_cpu_us_per_entry": b.get("node_cpu_us_per_entry"),
    "restart_after_sigkill_s": round(float(t1) - float(t0), 3),
}))
PY
done
