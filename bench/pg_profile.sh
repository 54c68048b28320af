#!/usr/bin/env bash
# pg_profile.sh — where the node's CPU goes on the PostgreSQL driver (the
# command shape of docs/benchmarks.md §7, decision D20/D24): a throwaway
# cluster from tests/pg_server.sh (shared_buffers 512MB, fsync and
# synchronous_commit on), `init --store`, then the node under
# `perf record -g` while regledger-loadgen submits. Writes /tmp/pg-perf.data;
# read it with `perf report -i /tmp/pg-perf.data --no-children --sort comm`
# (or `--sort sym`).
# Usage: bench/pg_profile.sh [CLIENTS] [ENTRIES] [PAYLOAD_BYTES]
# BIN overrides the node binary (default target/release/regledger-node).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
CLIENTS=${1:-64}
ENTRIES=${2:-20000}
PAYLOAD_BYTES=${3:-300}
BIN=${BIN:-target/release/regledger-node}
cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
# The cluster lives until this script exits (its watchdog watches this shell).
read -r PGPORT _ < <(PG_SHARED_BUFFERS=512MB bash tests/pg_server.sh $$)
URL=$(pg_database "$PGPORT" prof)
D=$(mktemp -d "$PWD/target/pgprof.XXXXXX"); rmdir "$D"
trap 'rm -rf "$D"' EXIT
"$BIN" init --data "$D" --hash blake3 --store "$URL" > /dev/null 2>&1
P=$(pick_port)
perf record -F 499 -g -o /tmp/pg-perf.data -- "$BIN" serve --data "$D" --listen "127.0.0.1:$P" \
  --store "$URL" > /tmp/pg-perf-node.log 2>&1 &
NP=$!
node_up "$P" "$NP" /tmp/pg-perf-node.log
target/release/regledger-loadgen --url "http://127.0.0.1:$P" --data "$D" --clients "$CLIENTS" \
  --entries "$ENTRIES" --payload-bytes "$PAYLOAD_BYTES"
kill -INT "$NP"; wait "$NP" || true
