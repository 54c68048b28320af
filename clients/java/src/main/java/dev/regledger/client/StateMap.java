package dev.regledger.client;

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The state map's proofs (schemas/FORMATS.md "State map"): a sparse Merkle
 * tree over the hashes of registry state keys, in the log's hash suite.
 * Written from that page: key hash {@code H(0x10 ‖ key)}, value hash
 * {@code H(0x11 ‖ value)}, leaf {@code H(0x12 ‖ k ‖ v)}, node
 * {@code H(0x13 ‖ left ‖ right)}, empty subtree 32 zero bytes.
 */
public final class StateMap {
    private StateMap() {}

    /** MAX_PROOF_LEN bounds a proof's bytes. */
    public static final int MAX_PROOF_LEN = 8292;

    /** EMPTY is the hash of an empty subtree (a constant, not hashed). */
    static final byte[] EMPTY = new byte[32];

    /** TERMINAL_EMPTY, TERMINAL_KEY and TERMINAL_OTHER are the proof's terminal kinds. */
    public static final int TERMINAL_EMPTY = 0, TERMINAL_KEY = 1, TERMINAL_OTHER = 2;

    static byte[] keyHash(HashSuite h, byte[] key) {
        return h.hash(new byte[] {0x10}, key);
    }

    static byte[] valueHash(HashSuite h, byte[] value) {
        return h.hash(new byte[] {0x11}, value);
    }

    static byte[] leaf(HashSuite h, byte[] k, byte[] v) {
        return h.hash(new byte[] {0x12}, k, v);
    }

    static byte[] node(HashSuite h, byte[] l, byte[] r) {
        return h.hash(new byte[] {0x13}, l, r);
    }

    /** bit i of a key hash: bit 7 − i mod 8 of byte ⌊i/8⌋. */
    static boolean bit(byte[] k, int i) {
        return ((k[i / 8] >>> (7 - i % 8)) & 1) == 1;
    }

    /** ProofException says why a map proof is malformed or does not hold. */
    public static final class ProofException extends Exception {
        private static final long serialVersionUID = 1L;

        ProofException(String why) {
            super(why);
        }
    }

    /** Proof is a parsed {@code MapProof}: the path from the root to where a key is or would be. */
    public static final class Proof {
        private final int terminal;
        private final int depth;
        private final List<byte[]> siblings; // by depth 1..d, EMPTY where the bitmap says so
        private final byte[] otherK;
        private final byte[] otherV;

        private Proof(int terminal, int depth, List<byte[]> siblings, byte[] otherK, byte[] otherV) {
            this.terminal = terminal;
            this.depth = depth;
            this.siblings = Collections.unmodifiableList(siblings);
            this.otherK = otherK;
            this.otherV = otherV;
        }

        /** terminal is {@link #TERMINAL_EMPTY}, {@link #TERMINAL_KEY} or {@link #TERMINAL_OTHER}. */
        public int terminal() {
            return terminal;
        }

        /** depth is the path's length, 0..256. */
        public int depth() {
            return depth;
        }

        /**
         * parse reads a proof strictly: version 1, a known terminal, depth
         * at most 256, padding bits 0, no listed sibling equal to EMPTY, the
         * deepest sibling listed when the depth is not 0, and no trailing bytes.
         */
        public static Proof parse(byte[] b) throws ProofException {
            if (b.length > MAX_PROOF_LEN) {
                throw new ProofException("longer than " + MAX_PROOF_LEN + " bytes");
            }
            if (b.length < 4) {
                throw new ProofException("truncated");
            }
            if (b[0] != 1) {
                throw new ProofException("unknown proof version " + (b[0] & 0xff));
            }
            int terminal = b[1] & 0xff;
            if (terminal > 2) {
                throw new ProofException("unknown terminal " + terminal);
            }
            int depth = ((b[2] & 0xff) << 8) | (b[3] & 0xff);
            if (depth > 256) {
                throw new ProofException("depth " + depth + " is more than 256");
            }
            int at = 4;
            int bitmapLen = (depth + 7) / 8;
            if (b.length < at + bitmapLen) {
                throw new ProofException("truncated bitmap");
            }
            byte[] bitmap = Arrays.copyOfRange(b, at, at + bitmapLen);
            at += bitmapLen;
            for (int i = depth; i < bitmapLen * 8; i++) {
                if (bit(bitmap, i)) {
                    throw new ProofException("padding bits of the bitmap are not 0");
                }
            }
            if (depth > 0 && !bit(bitmap, depth - 1)) {
                throw new ProofException("the deepest sibling is empty (not a rule-built tree's path)");
            }
            List<byte[]> sib = new ArrayList<>(depth);
            for (int i = 0; i < depth; i++) {
                if (!bit(bitmap, i)) {
                    sib.add(EMPTY);
                    continue;
                }
                if (b.length < at + 32) {
                    throw new ProofException("truncated siblings");
                }
                byte[] s = Arrays.copyOfRange(b, at, at + 32);
                at += 32;
                if (Arrays.equals(s, EMPTY)) {
                    throw new ProofException("a listed sibling is EMPTY");
                }
                sib.add(s);
            }
            byte[] ok = null;
            byte[] ov = null;
            if (terminal == TERMINAL_OTHER) {
                if (b.length < at + 64) {
                    throw new ProofException("truncated other leaf");
                }
                ok = Arrays.copyOfRange(b, at, at + 32);
                ov = Arrays.copyOfRange(b, at + 32, at + 64);
                at += 64;
            }
            if (at != b.length) {
                throw new ProofException("trailing bytes");
            }
            return new Proof(terminal, depth, sib, ok, ov);
        }

        private byte[] rootFrom(HashSuite h, byte[] k, byte[] bottom) {
            byte[] n = bottom;
            for (int i = depth - 1; i >= 0; i--) {
                byte[] s = siblings.get(i);
                n = bit(k, i) ? node(h, s, n) : node(h, n, s);
            }
            return n;
        }
    }

    /**
     * verifyPresence checks that {@code key} maps to exactly {@code value} in
     * the map of root {@code root}.
     */
    public static void verifyPresence(HashSuite h, byte[] root, byte[] key, byte[] value, Proof p)
            throws ProofException {
        if (p.terminal != TERMINAL_KEY) {
            throw new ProofException("not a presence proof (terminal " + p.terminal + ")");
        }
        byte[] k = keyHash(h, key);
        if (!MessageDigest.isEqual(p.rootFrom(h, k, leaf(h, k, valueHash(h, value))), root)) {
            throw new ProofException("the proof of this key and value does not lead to the state root");
        }
    }

    /** verifyAbsence checks that {@code key} is in no leaf of the map of root {@code root}. */
    public static void verifyAbsence(HashSuite h, byte[] root, byte[] key, Proof p) throws ProofException {
        byte[] k = keyHash(h, key);
        byte[] bottom;
        if (p.terminal == TERMINAL_EMPTY) {
            bottom = EMPTY;
        } else if (p.terminal == TERMINAL_OTHER) {
            if (Arrays.equals(p.otherK, k)) {
                throw new ProofException("the other leaf is this key's: not an absence");
            }
            for (int i = 0; i < p.depth; i++) {
                if (bit(p.otherK, i) != bit(k, i)) {
                    throw new ProofException("the other leaf is not on this key's path");
                }
            }
            bottom = leaf(h, p.otherK, p.otherV);
        } else {
            throw new ProofException("not an absence proof (the key's own leaf)");
        }
        if (!MessageDigest.isEqual(p.rootFrom(h, k, bottom), root)) {
            throw new ProofException("the absence proof does not lead to the state root");
        }
    }
}
