#!/usr/bin/env bash
# s3_tile_reads.sh — tile read throughput from the object store (decision D20).
# A node publishes ENTRIES entries to an S3-protocol server (s3s-fs, the writers'
# endpoint, signed); a second s3s-fs process on the same directory is the public
# read endpoint a CDN or read replica would sit in front of. CLIENTS concurrent
# readers then GET every hash tile and entry bundle of the tree ROUNDS times from
# it. Prints one JSON object: tiles/s, MB/s and p50/p99 latency.
# Usage: bench/s3_tile_reads.sh [ENTRIES] [CLIENTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
ENTRIES=${1:-20000}
CLIENTS=${2:-16}
ROUNDS=${3:-3}
S3S=${REGLEDGER_S3S_FS:-$(command -v s3s-fs || echo /tmp/s3s-root/bin/s3s-fs)}
OUT=$(mktemp -d /tmp/s3reads.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"' EXIT

cargo build --release -p regledger-node -p regledger-loadgen >/dev/null 2>&1
BIN=target/release/regledger-node
LOADGEN=target/release/regledger-loadgen
mkdir -p "$OUT/s3/ledger"
WPORT=$(pick_port); RPORT=$WPORT; PORT=$WPORT
while [ "$RPORT" = "$WPORT" ]; do RPORT=$(pick_port); done
while [ "$PORT" = "$WPORT" ] || [ "$PORT" = "$RPORT" ]; do PORT=$(pick_port); done
"$S3S" --host 127.0.0.1 --port "$WPORT" --access-key bench --secret-key bench-secret "$OUT/s3" >/dev/null 2>&1 &
PIDS+=($!)
"$S3S" --host 127.0.0.1 --port "$RPORT" "$OUT/s3" >/dev/null 2>&1 &
PIDS+=($!)
AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 \
  "$BIN" serve --data "$OUT/node" --listen "127.0.0.1:$PORT" \
  --tiles s3://ledger/log --s3-endpoint "http://127.0.0.1:$WPORT" > "$OUT/node.log" 2>&1 &
PIDS+=($!)
node_up "$PORT" "${PIDS[-1]}" "$OUT/node.log"
"$LOADGEN" --url "http://127.0.0.1:$PORT" --data "$OUT/node" --clients 64 --entries "$ENTRIES" > "$OUT/load.json"
python3 - "$PORT" "$RPORT" "$CLIENTS" "$ROUNDS" <<'PY'
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, rport, clients, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def get(u):
    with urllib.request.urlopen(u, timeout=30) as r:
        return r.read()
# Wait until the bucket's checkpoint covers the node's tree.
def csize(note):
    return int(note.decode().split("\n")[1])
base = f"http://127.0.0.1:{rport}/ledger/log"
node = csize(get(f"http://127.0.0.1:{port}/checkpoint"))
for _ in range(600):
    try:
        if csize(get(f"{base}/checkpoint")) >= node:
            break
    except Exception:
        pass
    time.sleep(0.1)
n = csize(get(f"{base}/checkpoint"))
def idx(i):
    # C2SP tlog-tiles: 3-digit groups, every group but the last prefixed with x.
    groups = []
    while i >= 1000:
        groups.insert(0, f"{i % 1000:03d}"); i //= 1000
    groups.insert(0, f"{i:03d}")
    return "/".join([f"x{g}" for g in groups[:-1]] + groups[-1:])
paths = []
w, level = n, 0
while w > 0:
    full, rest = divmod(w, 256)
    for k in range(full):
        paths.append(f"tile/{level}/{idx(k)}")
    if rest:
        paths.append(f"tile/{level}/{idx(full)}.p/{rest}")
    if level == 0:
        for k in range(full):
            paths.append(f"tile/entries/{idx(k)}")
        if rest:
            paths.append(f"tile/entries/{idx(full)}.p/{rest}")
    w //= 256; level += 1
urls = [f"{base}/{p}" for p in paths] * rounds
lat = []
def timed(u):
    t = time.perf_counter(); b = get(u); lat.append(time.perf_counter() - t); return len(b)
t0 = time.perf_counter()
with ThreadPoolExecutor(clients) as ex:
    total = sum(ex.map(timed, urls))
dt = time.perf_counter() - t0
lat.sort()
print(json.dumps({"tree_size": n, "objects": len(urls), "clients": clients,
                  "tiles_per_s": round(len(urls) / dt, 1), "mb_per_s": round(total / dt / 1e6, 2),
                  "p50_ms": round(lat[len(lat) // 2] * 1e3, 2), "p99_ms": round(lat[int(len(lat) * 0.99)] * 1e3, 2)}))
PY
