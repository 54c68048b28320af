#!/usr/bin/env bash
# scale.sh — scale figures of a node holding N entries written through its API:
# disk bytes per entry (database, tiles), restart time (process start until
# /checkpoint answers, after SIGTERM and after SIGKILL; no log replay happens
# at start), and memory (peak RSS
# while loading, RSS after restart).
# Usage: bench/scale.sh [ENTRIES] [PAYLOAD_BYTES] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${1:-1000000}
PAYLOAD=${2:-300}
CLIENTS=${3:-64}
cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
BIN=target/release/regledger-node
LOADGEN=target/release/regledger-loadgen   # tools/loadgen
DATA=$(mktemp -d "$PWD/target/scale-data.XXXXXX")
# KEEP=1 leaves the data directory for further checks (an audit, say).
trap 'kill $PID 2>/dev/null || true; [[ "${KEEP:-}" == 1 ]] && echo "kept $DATA" >&2 || rm -rf "$DATA"' EXIT
# shellcheck source=bench/common.sh
source bench/common.sh
PORT=$(pick_port)
"$BIN" serve --data "$DATA/d" --listen "127.0.0.1:$PORT" >/dev/null 2>&1 & PID=$!
wait_up "$PORT"
# The load generator pre-signs its entries in memory, so large runs go in
# rounds of at most a million (each round registers fresh participants).
LEFT=$ENTRIES
: > "$DATA/bench.jsonl"
while (( LEFT > 0 )); do
    N=$(( LEFT < 1000000 ? LEFT : 1000000 ))
    "$LOADGEN" --url "http://127.0.0.1:$PORT" --data "$DATA/d" --clients "$CLIENTS" --entries "$N" --payload-bytes "$PAYLOAD" >> "$DATA/bench.jsonl"
    LEFT=$(( LEFT - N ))
done
sleep 2   # let the last checkpoint and tiles land
PEAK_KB=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID; wait $PID 2>/dev/null || true
SIZE=$(curl -s "file://$DATA/d/tiles/checkpoint" | sed -n 2p)
DB=$(stat -c %s "$DATA/d/ledger.redb")
TILES=$(du -sb "$DATA/d/tiles" | cut -f1)
T0=$(date +%s.%N)
"$BIN" serve --data "$DATA/d" --listen "127.0.0.1:$PORT" >/dev/null 2>&1 & PID=$!
wait_up "$PORT"
T1=$(date +%s.%N)
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
# And after a crash (SIGKILL): redb recovers its allocator state at open.
kill -KILL $PID; wait $PID 2>/dev/null || true
T2=$(date +%s.%N)
"$BIN" serve --data "$DATA/d" --listen "127.0.0.1:$PORT" >/dev/null 2>&1 & PID=$!
wait_up "$PORT"
T3=$(date +%s.%N)
python3 - "$DATA/bench.jsonl" "$SIZE" "$DB" "$TILES" "$T0" "$T1" "$PEAK_KB" "$RSS_KB" "$T2" "$T3" <<'PY'
import json, sys
rounds = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
b = {"payload_bytes": rounds[0]["payload_bytes"],
     "throughput_per_s": round(sum(r["entries"] for r in rounds) / sum(r["seconds"] for r in rounds), 1)}
size, db, tiles = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(json.dumps({
    "entries_in_log": size, "payload_bytes": b["payload_bytes"], "throughput_per_s": b["throughput_per_s"],
    "db_bytes": db, "tiles_bytes": tiles,
    "db_bytes_per_entry": round(db / size, 1), "tiles_bytes_per_entry": round(tiles / size, 1),
    "total_bytes_per_entry": round((db + tiles) / size, 1),
    "restart_after_sigterm_s": round(float(sys.argv[6]) - float(sys.argv[5]), 3),
    "restart_after_sigkill_s": round(float(sys.argv[10]) - float(sys.argv[9]), 3),
    "peak_rss_mb_while_loading": round(int(sys.argv[7]) / 1024, 1),
    "rss_mb_after_restart": round(int(sys.argv[8]) / 1024, 1),
}))
PY
