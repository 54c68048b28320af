package dev.regledger.client;

import java.util.Arrays;

/**
 * The checkpoint's state line (schemas/FORMATS.md "Checkpoint state line",
 * docs/decisions.md D26): the extension line
 * {@code regledger-state <integrated time ms of leaf N-1> <base64 state root of leaf N-1>}
 * by which the log key signs, beside the tree, the registry state after its
 * N entries. A v2 status proof takes its state root from it. Strict as the
 * Rust parser: at most one such line, the time in decimal without leading
 * zeros, the root 32 bytes of canonical base64; any line starting
 * {@code regledger-state} is this one.
 */
public final class StateLine {
    /** PREFIX starts the state line (with its one space). */
    public static final String PREFIX = "regledger-state ";

    private final long timeMs;
    private final byte[] root;

    private StateLine(long timeMs, byte[] root) {
        this.timeMs = timeMs;
        this.root = root;
    }

    private static VerificationException bad(String why) {
        return new VerificationException("checkpoint", "checkpoint state line: " + why);
    }

    /**
     * parse reads one state line.
     *
     * @throws VerificationException (part {@code checkpoint}) if it is malformed
     */
    public static StateLine parse(String line) {
        if (!line.startsWith(PREFIX)) {
            throw bad("not a state line");
        }
        String[] parts = line.substring(PREFIX.length()).split(" ", -1);
        if (parts.length != 2) {
            throw bad("want `regledger-state <time ms> <base64 root>`");
        }
        long time;
        try {
            time = Codec.parseU64(parts[0]);
        } catch (IllegalArgumentException e) {
            throw bad("the time is not a decimal without leading zeros");
        }
        byte[] root;
        try {
            root = Codec.unb64(parts[1]);
        } catch (IllegalArgumentException e) {
            throw bad("the root is not 32 bytes of base64");
        }
        if (root.length != HashSuite.HASH_LEN) {
            throw bad("the root is not 32 bytes of base64");
        }
        return new StateLine(time, root);
    }

    /**
     * of returns the state line of {@code cp}, or null if it has none.
     *
     * @throws VerificationException if one is malformed, or there are two
     */
    public static StateLine of(Checkpoint cp) {
        StateLine found = null;
        for (String e : cp.extensions()) {
            if (!e.startsWith("regledger-state")) {
                continue;
            }
            if (found != null) {
                throw bad("more than one state line");
            }
            found = parse(e);
        }
        return found;
    }

    /** timeMs is leaf N-1's integrated time (Unix ms, unsigned). */
    public long timeMs() {
        return timeMs;
    }

    /** root is leaf N-1's state root. */
    public byte[] root() {
        return root.clone();
    }

    /** says reports whether the line says this root and time. */
    public boolean says(byte[] otherRoot, long otherTimeMs) {
        return timeMs == otherTimeMs && Arrays.equals(root, otherRoot);
    }
}
