#!/usr/bin/env python3
"""disk_limit.py — the disk's own ceiling for durable appends.

Appends ENTRIES records of ENTRY_BYTES to a fresh file in DIR, one
fdatasync per batch of BATCH records, and prints one JSON object: entries/s,
fsyncs/s and p50/p99 latency of a batch (write + fdatasync). This is what
any log that commits a batch with one fsync can at best reach on this disk.
Usage: bench/disk_limit.py [--dir DIR] [--entries N] [--entry-bytes B] [--batch K]
"""
import argparse, json, os, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--dir", default=None)
ap.add_argument("--entries", type=int, default=200_000)
ap.add_argument("--entry-bytes", type=int, default=512)
ap.add_argument("--batch", type=int, default=64)
a = ap.parse_args()
d = tempfile.mkdtemp(prefix="disklimit.", dir=a.dir)
path = os.path.join(d, "append.log")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
rec = os.urandom(a.entry_bytes)
lat = []
t0 = time.perf_counter()
done = 0
while done < a.entries:
    k = min(a.batch, a.entries - done)
    b0 = time.perf_counter()
    os.write(fd, rec * k)
    os.fdatasync(fd)
    lat.append((time.perf_counter() - b0) * 1000)
    done += k
el = time.perf_counter() - t0
os.close(fd)
os.unlink(path)
os.rmdir(d)
lat.sort()
q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 3)
print(json.dumps({"system": "disk-limit-fdatasync-per-batch", "entries": done, "entry_bytes": a.entry_bytes,
                  "batch": a.batch, "throughput_per_s": round(done / el, 1), "fsyncs_per_s": round(len(lat) / el, 1),
                  "batch_p50_ms": q(0.5), "batch_p99_ms": q(0.99)}))
