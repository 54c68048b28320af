package dev.regledger.client;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * Sm2Bench times this client's BouncyCastle SM2 and SM3 beside Ed25519,
 * SHA-256 and BLAKE3, on the workloads of criterion's
 * {@code ledger/benches/core.rs} (docs/benchmarks.md §3a): one signature
 * and one verification of an operation event's PAE (200-byte payload), one
 * hash of 1 KiB. A plain harness, no JMH: each case is warmed up, then
 * timed in {@code rounds} batches of about {@code batchMs} each; it prints
 * the median time per operation and the range of the batches.
 *
 * <p>Usage: {@code Sm2Bench [warmupMs] [batchMs] [rounds]} (defaults 3000 500 11).
 */
public final class Sm2Bench {
    private Sm2Bench() {}

    /** sink keeps the JIT from dropping the results. */
    static volatile int sink;

    static final class Result {
        final String name;
        final double medianNs;
        final double minNs;
        final double maxNs;

        Result(String name, double[] perOp) {
            Arrays.sort(perOp);
            this.name = name;
            this.medianNs = perOp[perOp.length / 2];
            this.minNs = perOp[0];
            this.maxNs = perOp[perOp.length - 1];
        }
    }

    /** time runs {@code op} for {@code ms} milliseconds and returns the operations done and the nanoseconds. */
    static long[] time(Supplier<Object> op, long ms) {
        long ops = 0;
        long start = System.nanoTime();
        long end = start + ms * 1_000_000L;
        long now;
        do {
            for (int i = 0; i < 8; i++) {
                sink ^= System.identityHashCode(op.get());
            }
            ops += 8;
            now = System.nanoTime();
        } while (now < end);
        return new long[] {ops, now - start};
    }

    static Result bench(String name, Supplier<Object> op, long warmupMs, long batchMs, int rounds) {
        time(op, warmupMs);
        double[] perOp = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            long[] t = time(op, batchMs);
            perOp[r] = (double) t[1] / t[0];
        }
        return new Result(name, perOp);
    }

    static String fmt(double ns) {
        return ns >= 1_000_000 ? String.format("%.2f ms", ns / 1e6)
                : ns >= 1_000 ? String.format("%.1f µs", ns / 1e3) : String.format("%.0f ns", ns);
    }

    public static void main(String[] args) {
        long warmupMs = args.length > 0 ? Long.parseLong(args[0]) : 3000;
        long batchMs = args.length > 1 ? Long.parseLong(args[1]) : 500;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 11;

        byte[] payload = new byte[200];
        Arrays.fill(payload, (byte) 'x');
        byte[] msg = Envelope.pae("application/vnd.regledger.operation-event+json", payload);
        byte[] seed = new byte[32];
        Arrays.fill(seed, (byte) 7);
        // Ed25519 through this client's Ed25519 (BouncyCastle's rfc8032 arithmetic), SM2 through Sm2 (SM2Signer).
        byte[] edPub = Ed25519.publicKey(seed);
        byte[] edSig = Ed25519.sign(seed, msg);
        if (!Ed25519.verify(edPub, msg, edSig)) {
            throw new IllegalStateException("Ed25519 self-check failed");
        }
        Sm2.PrivateKey sm = Sm2.privateKey(seed, null);
        byte[] smSig = sm.sign(msg);
        if (!Sm2.verify(sm.publicKey(), Sm2.DEFAULT_ID, msg, smSig)) {
            throw new IllegalStateException("SM2 self-check failed");
        }
        byte[] kib = new byte[1024];
        Arrays.fill(kib, (byte) 7);

        List<Result> rs = new ArrayList<>();
        rs.add(bench("signature/ed25519_sign", () -> Ed25519.sign(seed, msg), warmupMs, batchMs, rounds));
        rs.add(bench("signature/sm2_sign", () -> sm.sign(msg), warmupMs, batchMs, rounds));
        rs.add(bench("signature/ed25519_verify", () -> Ed25519.verify(edPub, msg, edSig), warmupMs, batchMs, rounds));
        rs.add(bench("signature/sm2_verify", () -> Sm2.verify(sm.publicKey(), Sm2.DEFAULT_ID, msg, smSig), warmupMs,
                batchMs, rounds));
        for (HashSuite s : new HashSuite[] {HashSuite.SHA256, HashSuite.BLAKE3, HashSuite.SM3}) {
            rs.add(bench("suite_hash_1KiB/" + s.wireName(), () -> s.hash(kib), warmupMs, batchMs, rounds));
        }
        System.out.println("# regledger Java client, BouncyCastle " + bcVersion() + ", Java "
                + System.getProperty("java.version") + "; median of " + rounds + " batches of " + batchMs
                + " ms after " + warmupMs + " ms warm-up");
        System.out.println("| benchmark | median | batches min–max |");
        System.out.println("| --- | ---: | --- |");
        for (Result r : rs) {
            System.out.println("| `" + r.name + "` | " + fmt(r.medianNs) + " | " + fmt(r.minNs) + "–" + fmt(r.maxNs)
                    + " |");
        }
    }

    static String bcVersion() {
        Package p = org.bouncycastle.crypto.digests.SM3Digest.class.getPackage();
        String v = p == null ? null : p.getImplementationVersion();
        return v == null ? "(version unknown)" : v;
    }
}
