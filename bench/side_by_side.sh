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
# cluster started by tests/pg_server.sh with the settings (b) uses (fsync, synchronous_commit on);
# its result then also gives the PostgreSQL server's CPU per entry, which shares the two cores.
# MODE=ed25519 (default: a blake3 log, Ed25519 keys), MODE=sm3 (国密: an sm3 log, SM2 log and
# participant keys, D19) or MODE=both (both, one after the other in this run, and their ratio).
# BATCH=N makes the load generator send N envelopes per request (a batch submission, issue 18);
# the default 1 sends each envelope alone. PostgreSQL's load is the same either way.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
CLIENTS=${1:-64}
ENTRIES=${2:-100000}
PAYLOAD_BYTES=${3:-512}
OUT=$(mktemp -d /tmp/sidebyside.XXXXXX)
trap 'kill $NODE_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$OUT"' EXIT

cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
BIN=target/release/regledger-node
LOADGEN=target/release/regledger-loadgen   # tools/loadgen
MODE=${MODE:-ed25519}
REQUEST_BATCH=${BATCH:-1}
NODE_PID=
STORE_ARGS=()
if [ "${STORE:-redb}" = postgres ]; then
  # The cluster lives until this script exits (its watchdog watches this shell).
  read -r PGPORT PGDIR < <(PG_SHARED_BUFFERS=512MB bash tests/pg_server.sh $$)
  PGN=0
fi
# pg_cpu_ticks: the CPU time (clock ticks) the PostgreSQL cluster has used so far:
# the postmaster with its exited children, and its live children (the node's
# backends). It shares the two cores with the node and the load generator.
pg_cpu_ticks() {
  local pm
  pm=$(head -1 "$PGDIR/db/postmaster.pid")
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk '{s += $1} END {print s}'
}
# run_regledger MODE OUTFILE: one node, one load, in the given mode.
run_regledger() {
  local mode=$1 out=$2 port data
  port=$(pick_port)
  data=$(mktemp -d "$PWD/target/sbs-data.XXXXXX")   # on the same disk as the other two
  rmdir "$data"
  if [ "${STORE:-redb}" = postgres ]; then
    # One database per run: init refuses a database that holds a log.
    PGN=$((PGN + 1))
    STORE_ARGS=(--store "$(pg_database "$PGPORT" "bench$PGN")")
  fi
  case "$mode" in
    ed25519) "$BIN" init --data "$data" --hash blake3 "${STORE_ARGS[@]}" > /dev/null ;;
    sm3) "$BIN" init --data "$data" --hash sm3 "${STORE_ARGS[@]}" > /dev/null ;;   # SM2 log and authority keys
    *) echo "MODE is ed25519, sm3 or both" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086  # NODE_ARGS is a list of flags
  "$BIN" serve --data "$data" --listen "127.0.0.1:$port" "${STORE_ARGS[@]}" ${NODE_ARGS:-} > "$OUT/node-$mode.log" 2>&1 &
  NODE_PID=$!
  node_up "$port" "$NODE_PID" "$OUT/node-$mode.log"
  # The load's participants sign with the authority's algorithm (SM2 in an sm3 log).
  local pg0=0
  [ "${STORE:-redb}" = postgres ] && pg0=$(pg_cpu_ticks)
  "$LOADGEN" --url "http://127.0.0.1:$port" --data "$data" --clients "$CLIENTS" --entries "$ENTRIES" \
    --payload-bytes "$PAYLOAD_BYTES" --batch "$REQUEST_BATCH" > "$out"
  if [ "${STORE:-redb}" = postgres ]; then
    # The server's CPU per acknowledged entry over the whole load (its setup
    # entries and pre-signing included, when the server is nearly idle).
    python3 - "$out" "$pg0" "$(pg_cpu_ticks)" "$(getconf CLK_TCK)" <<'PY'
import json, sys
out, t0, t1, hz = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
r = json.load(open(out))
done = max(1, r["entries"] - r["errors"])
r["postgres_server_cpu_us_per_entry"] = round((t1 - t0) / hz / done * 1e6)
json.dump(r, open(out, "w"))
PY
  fi
  kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true
  rm -rf "$data"
}
if [ "$MODE" = both ]; then
  run_regledger ed25519 "$OUT/regledger.json"
  run_regledger sm3 "$OUT/regledger-sm3.json"
else
  run_regledger "$MODE" "$OUT/regledger.json"
fi

bench/pg_hashchain.sh "$CLIENTS" "$(( ENTRIES < 40000 ? ENTRIES : 40000 ))" "$PAYLOAD_BYTES" > "$OUT/pg.json"
DISK_BATCH=$(python3 -c "import json,sys; d=json.load(open('$OUT/regledger.json')); print(max(1, int(round(d.get('mean_batch_size', 64)))))")
python3 bench/disk_limit.py --dir "$PWD/target" --entries "$ENTRIES" --entry-bytes "$PAYLOAD_BYTES" --batch "$DISK_BATCH" > "$OUT/disk.json"

python3 - "$OUT" "${STORE:-redb}" <<'PY'
import json, sys
o = sys.argv[1]
r, p, d = (json.load(open(f"{o}/{n}.json")) for n in ("regledger", "pg", "disk"))
r["store"] = sys.argv[2]
# What "acknowledged" meant: the store's commit the node waited for.
r["durability"] = {
    "redb": "acknowledged after the batch's redb commit with Durability::Immediate (fsync)",
    "postgres": "acknowledged after the batch's PostgreSQL COMMIT with synchronous_commit = on, fsync = on",
}.get(sys.argv[2], r.get("durability"))
for x in (r, p, d):
    print(json.dumps(x))
rt = r["throughput_per_s"]
print(json.dumps({"regledger_over_postgresql": round(rt / p["throughput_per_s"], 2),
                  "regledger_over_disk_limit": round(rt / d["throughput_per_s"], 3)}))
try:
    s = json.load(open(f"{o}/regledger-sm3.json"))
except FileNotFoundError:
    s = None
if s is not None:
    print(json.dumps({"mode": "sm3", **s}))
    print(json.dumps({"sm3_over_ed25519": round(s["throughput_per_s"] / rt, 3)}))
PY
