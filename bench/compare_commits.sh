#!/usr/bin/env bash
# compare_commits.sh — the regression guard for the hot path (issue 18):
# builds two commits and measures both in ONE run on this machine, rounds
# interleaved (A B A B …) so that the host's drift (2× from day to day on
# shared machines) falls on both alike. For each round: a fresh node on
# embedded defaults, `regledger-loadgen` (each commit's own) at the same
# load shape; throughput, p99 and the node's CPU per acknowledged entry
# (from its process_cpu_seconds_total, as the load generator reports it).
# Prints every round as JSON, then the medians and the ratios NEW/OLD.
#
# Usage: bench/compare_commits.sh OLD NEW [CLIENTS] [ENTRIES] [PAYLOAD_BYTES] [ROUNDS]
#   e.g. bench/compare_commits.sh main HEAD 64 50000 300 3
# STORE=postgres runs every node on the PostgreSQL driver (D20): one throwaway
# cluster from tests/pg_server.sh (shared_buffers 512MB, fsync and
# synchronous_commit on, as bench/side_by_side.sh), a fresh database per round.
# A commit from before tools/loadgen (0783fcf) is measured with the node's
# own `bench` subcommand, its load generator then. Builds share one
# target directory (target/compare) to bound the disk; the binaries of each
# commit are copied out before the other is built.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,15p "$0"; exit 2; }
OLD=$1 NEW=$2
CLIENTS=${3:-64}
ENTRIES=${4:-50000}
PAYLOAD_BYTES=${5:-300}
ROUNDS=${6:-3}
ROOT=$PWD
OUT=$(mktemp -d /tmp/compare.XXXXXX)
NODE_PID=
cleanup() {
    [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    for t in old new; do git -C "$ROOT" worktree remove --force "$OUT/src-$t" 2>/dev/null || true; done
    rm -rf "$OUT"
}
trap cleanup EXIT
# shellcheck source=bench/common.sh
. bench/common.sh

build() { # build NAME COMMIT: binaries into $OUT/bin-NAME
    local name=$1 commit=$2
    git worktree add --detach "$OUT/src-$name" "$commit" >/dev/null 2>&1
    mkdir -p "$OUT/bin-$name"
    if [ -d "$OUT/src-$name/tools/loadgen" ]; then
        (cd "$OUT/src-$name" && CARGO_TARGET_DIR="$ROOT/target/compare" \
            cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1)
        cp "$ROOT/target/compare/release/regledger-node" "$ROOT/target/compare/release/regledger-loadgen" "$OUT/bin-$name/"
    elif git -C "$OUT/src-$name" grep -q "pub fn bench(a: BenchArgs)" -- node/src/client.rs; then
        # Before tools/loadgen (0783fcf) the load generator was the node's
        # own `bench` subcommand, with the same flags and report: each
        # commit is still measured by its own load generator.
        (cd "$OUT/src-$name" && CARGO_TARGET_DIR="$ROOT/target/compare" \
            cargo build --release -p regledger-node >/dev/null 2>&1)
        cp "$ROOT/target/compare/release/regledger-node" "$OUT/bin-$name/"
        printf '#!/bin/sh\nexec "%s/regledger-node" bench "$@"\n' "$OUT/bin-$name" > "$OUT/bin-$name/regledger-loadgen"
        chmod +x "$OUT/bin-$name/regledger-loadgen"
    else
        echo "error: $commit has neither tools/loadgen nor the node's bench subcommand" >&2; exit 2
    fi
    git -C "$OUT/src-$name" rev-parse --short HEAD > "$OUT/bin-$name/commit"
}
build old "$OLD"
build new "$NEW"
if [ "${STORE:-redb}" = postgres ]; then
    # The cluster lives until this script exits (its watchdog watches this shell).
    read -r PGPORT _ < <(PG_SHARED_BUFFERS=512MB bash tests/pg_server.sh $$)
    PGN=0
fi

run() { # run NAME ROUND: one measurement, JSON on stdout
    local name=$1 round=$2 port data
    port=$(pick_port)
    data=$(mktemp -d "$ROOT/target/compare-data.XXXXXX")
    local store=()
    if [ "${STORE:-redb}" = postgres ]; then
        PGN=$((PGN + 1))
        store=(--store "$(pg_database "$PGPORT" "cmp$PGN")")
        rmdir "$data"
        "$OUT/bin-$name/regledger-node" init --data "$data" --hash blake3 "${store[@]}" > /dev/null 2> "$OUT/init-$name-$round.log" || { cat "$OUT/init-$name-$round.log" >&2; exit 1; }
    fi
    "$OUT/bin-$name/regledger-node" serve --data "$data" --listen "127.0.0.1:$port" "${store[@]}" > "$OUT/node-$name-$round.log" 2>&1 &
    NODE_PID=$!
    wait_up "$port" || { echo "error: the $name node did not start; its log:" >&2; cat "$OUT/node-$name-$round.log" >&2; exit 1; }
    "$OUT/bin-$name/regledger-loadgen" --url "http://127.0.0.1:$port" --data "$data" --clients "$CLIENTS" \
        --entries "$ENTRIES" --payload-bytes "$PAYLOAD_BYTES" > "$OUT/$name-$round.json"
    kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true
    NODE_PID=
    rm -rf "$data"
}
for r in $(seq "$ROUNDS"); do
    run old "$r"
    run new "$r"
done

python3 - "$OUT" "$ROUNDS" "$(cat "$OUT/bin-old/commit")" "$(cat "$OUT/bin-new/commit")" <<'PY'
import json, statistics, sys
out, rounds, old_c, new_c = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
keys = ("throughput_per_s", "p99_ms", "node_cpu_us_per_entry")
med = {}
for name, commit in (("old", old_c), ("new", new_c)):
    runs = [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, rounds + 1)]
    for r in runs:
        print(json.dumps({"commit": commit, **{k: r.get(k) for k in keys}}))
    med[name] = {k: statistics.median(r[k] for r in runs if r.get(k) is not None) for k in keys}
    print(json.dumps({"commit": commit, "median": med[name]}))
print(json.dumps({f"{k}_new_over_old": round(med["new"][k] / med["old"][k], 3) for k in keys}))
PY
