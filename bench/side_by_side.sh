#!/usr/bin/env bash
# side_by_side.sh — one run, one machine, three systems, the same load shape:
#   (a) regledger-node through its HTTP API, driven by `regledger-loadgen` (tools/loadgen)
#       (every entry Ed25519-signed and verified, acknowledged only after fsync);
#   (b) a PostgreSQL audit table with a hash chain under a head-row lock
#       (bench/pg_hashchain.sh, synchronous_commit = on);
#   (c) the disk's limit: the same bytes appended with one fdatasync per batch
#       (bench/disk_limit.py, batch = regledger's mean batch size).
# Prints each result as JSON and the ratios regledger/PostgreSQL and regledger/limit.
# Usage: bench/side_by_side.sh [CLIENTS] [ENTRIES] [PAYLOAD_BYTES]
# NODE_ARGS adds flags to `regledger-node serve` (e.g. NODE_ARGS=--full-repair).
# STORE=postgres runs (a) on the PostgreSQL driver (decision D20) instead of redb: a throwaway
# cluster started by tests/pg_server.sh with the settings (b) uses (fsync, synchronous_commit on).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-64}
ENTRIES=${2:-100000}
PAYLOAD_BYTES=${3:-512}
OUT=$(mktemp -d /tmp/sidebyside.XXXXXX)
trap 'kill $NODE_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$OUT"' EXIT

cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
BIN=target/release/regledger-node
LOADGEN=target/release/regledger-loadgen   # tools/loadgen
PORT=$(( 20000 + RANDOM % 20000 ))
DATA=$(mktemp -d "$PWD/target/sbs-data.XXXXXX")   # on the same disk as the other two
STORE_ARGS=()
if [ "${STORE:-redb}" = postgres ]; then
  # The cluster lives until this script exits (its watchdog watches this shell).
  read -r PGPORT PGDIR < <(PG_SHARED_BUFFERS=512MB bash tests/pg_server.sh $$)
  psql -h 127.0.0.1 -p "$PGPORT" -U regledger -d postgres -qc "CREATE DATABASE bench"
  STORE_ARGS=(--store "postgres://regledger@127.0.0.1:$PGPORT/bench")
fi
# shellcheck disable=SC2086  # NODE_ARGS is a list of flags
"$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" "${STORE_ARGS[@]}" ${NODE_ARGS:-} > "$OUT/node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
"$LOADGEN" --url "http://127.0.0.1:$PORT" --data "$DATA" --clients "$CLIENTS" --entries "$ENTRIES" \
  --payload-bytes "$PAYLOAD_BYTES" > "$OUT/regledger.json"
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true
rm -rf "$DATA"

bench/pg_hashchain.sh "$CLIENTS" "$(( ENTRIES < 40000 ? ENTRIES : 40000 ))" "$PAYLOAD_BYTES" > "$OUT/pg.json"
BATCH=$(python3 -c "import json,sys; d=json.load(open('$OUT/regledger.json')); print(max(1, int(round(d.get('mean_batch_size', 64)))))")
python3 bench/disk_limit.py --dir "$PWD/target" --entries "$ENTRIES" --entry-bytes "$PAYLOAD_BYTES" --batch "$BATCH" > "$OUT/disk.json"

python3 - "$OUT" "${STORE:-redb}" <<'PY'
import json, sys
o = sys.argv[1]
r, p, d = (json.load(open(f"{o}/{n}.json")) for n in ("regledger", "pg", "disk"))
r["store"] = sys.argv[2]
for x in (r, p, d):
    print(json.dumps(x))
rt = r["throughput_per_s"]
print(json.dumps({"regledger_over_postgresql": round(rt / p["throughput_per_s"], 2),
                  "regledger_over_disk_limit": round(rt / d["throughput_per_s"], 3)}))
PY
