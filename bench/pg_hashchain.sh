#!/usr/bin/env bash
# pg_hashchain.sh — the baseline users would otherwise build: an audit table
# with a hash chain in PostgreSQL, every row hash = sha256(prev_hash ‖ row),
# appended under a row lock on the chain head, synchronous_commit = on.
#
# Starts a throwaway cluster on 127.0.0.1 in a temp dir, drives it with
# pgbench (CLIENTS concurrent clients, ENTRIES appends in total, PAYLOAD_BYTES
# per row) and prints one JSON object: throughput and p50/p95/p99 latency.
# Usage: bench/pg_hashchain.sh [CLIENTS] [ENTRIES] [PAYLOAD_BYTES]
set -euo pipefail
CLIENTS=${1:-64}
ENTRIES=${2:-40000}
PAYLOAD_BYTES=${3:-512}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
  echo "error: PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 2
fi
RUNAS=()
if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); fi
WORK=$(mktemp -d /tmp/pgchain.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
PORT=$(pick_port)
cleanup() { "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/db" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"${RUNAS[@]}" "$PGBIN/initdb" -D "$WORK/db" -U bench --auth=trust >/dev/null
cat >> "$WORK/db/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = $(( CLIENTS + 10 ))
shared_buffers = 512MB
CONF
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/db" -l "$WORK/pg.log" -w start >/dev/null
PSQL=("${RUNAS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U bench -d postgres -q -v ON_ERROR_STOP=1)
"${PSQL[@]}" <<'SQL'
CREATE TABLE chain_head (id int PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL);
INSERT INTO chain_head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit_log (
  seq bigint PRIMARY KEY,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  payload bytea NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL
);
-- The common design: lock the head, chain the new row to it, move the head.
CREATE FUNCTION append_entry(p bytea) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE h chain_head%ROWTYPE; s bigint; nh bytea;
BEGIN
  SELECT * INTO h FROM chain_head WHERE id = 1 FOR UPDATE;
  s := h.seq + 1;
  nh := sha256(h.hash || int8send(s) || p);
  INSERT INTO audit_log (seq, payload, prev_hash, hash) VALUES (s, p, h.hash, nh);
  UPDATE chain_head SET seq = s, hash = nh WHERE id = 1;
  RETURN s;
END $$;
SQL
# Each client sends a fresh payload of PAYLOAD_BYTES random-looking bytes.
REPS=$(( (PAYLOAD_BYTES + 31) / 32 ))
cat > "$WORK/append.sql" <<SQL
\set r random(1, 2000000000)
SELECT append_entry(substring(convert_to(repeat(md5(:r::text), $REPS), 'UTF8') from 1 for $PAYLOAD_BYTES));
SQL
[ "$(id -u)" = 0 ] && chown -R postgres "$WORK"
PER_CLIENT=$(( ENTRIES / CLIENTS ))
cd "$WORK"
"${RUNAS[@]}" "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U bench -n -c "$CLIENTS" -j 2 -t "$PER_CLIENT" \
  -f "$WORK/append.sql" -l --log-prefix="$WORK/lat" postgres > "$WORK/pgbench.out" 2>&1
ROWS=$("${PSQL[@]}" -tAc "SELECT count(*) FROM audit_log")
CHAIN_OK=$("${PSQL[@]}" -tAc "SELECT bool_and(a.prev_hash = b.hash) FROM audit_log a JOIN audit_log b ON b.seq = a.seq - 1")
python3 - "$WORK" "$CLIENTS" "$ROWS" "$CHAIN_OK" "$PAYLOAD_BYTES" <<'PY'
import glob, json, re, sys
work, clients, rows, chain_ok, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
out = open(f"{work}/pgbench.out").read()
tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
lat = []
for f in glob.glob(f"{work}/lat*"):
    for line in open(f):
        parts = line.split()
        if len(parts) >= 3:
            lat.append(int(parts[2]) / 1000.0)  # microseconds -> ms
lat.sort()
q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
print(json.dumps({"system": "postgresql-hash-chain", "clients": clients, "entries": rows,
                  "payload_bytes": payload, "chain_verified": chain_ok == "t",
                  "throughput_per_s": round(tps, 1), "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99)}))
PY
