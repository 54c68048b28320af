#!/usr/bin/env bash
# pg_statements.sh — where the PostgreSQL server's time goes under the node's
# load (docs/benchmarks.md §9): a throwaway cluster from tests/pg_server.sh
# (shared_buffers 512MB, fsync and synchronous_commit on) restarted with
# pg_stat_statements, `init --store`, the node, then regledger-loadgen; prints
# the load generator's JSON and each statement's calls, total execution time
# and execution time per entry (lock waits included: it is not CPU).
# Usage: bench/pg_statements.sh [CLIENTS] [ENTRIES] [PAYLOAD_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
CLIENTS=${1:-64}
ENTRIES=${2:-20000}
PAYLOAD_BYTES=${3:-300}
cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
BIN=target/release/regledger-node
# The cluster lives until this script exits (its watchdog watches this shell).
read -r PGPORT PGDIR < <(PG_SHARED_BUFFERS=512MB bash tests/pg_server.sh $$)
PGBIN=${REGLEDGER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
RUNAS=()
if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); fi
echo "shared_preload_libraries = 'pg_stat_statements'" >> "$PGDIR/db/postgresql.conf"
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/db" -l "$PGDIR/pg.log" -w restart >/dev/null
URL=$(pg_database "$PGPORT" stmts)
PSQL=(psql -h 127.0.0.1 -p "$PGPORT" -U regledger -d stmts)
"${PSQL[@]}" -qc "CREATE EXTENSION pg_stat_statements"
D=$(mktemp -d "$PWD/target/pgstmts.XXXXXX"); rmdir "$D"
NP=
trap '[ -n "$NP" ] && kill "$NP" 2>/dev/null; rm -rf "$D"' EXIT
"$BIN" init --data "$D" --hash blake3 --store "$URL" > /dev/null 2>&1
P=$(pick_port)
"$BIN" serve --data "$D" --listen "127.0.0.1:$P" --store "$URL" > "$PGDIR/node.log" 2>&1 &
NP=$!
node_up "$P" "$NP" "$PGDIR/node.log"
# Only the timed load: the setup's statements are forgotten here.
"${PSQL[@]}" -qc "SELECT pg_stat_statements_reset()" > /dev/null
target/release/regledger-loadgen --url "http://127.0.0.1:$P" --data "$D" --clients "$CLIENTS" \
  --entries "$ENTRIES" --payload-bytes "$PAYLOAD_BYTES"
"${PSQL[@]}" -c "SELECT calls, round(total_exec_time::numeric, 0) AS ms,
    round((total_exec_time / $ENTRIES * 1000)::numeric, 1) AS us_per_entry,
    left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement
  FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"
