package dev.regledger.client;

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 9162 Merkle tree proofs, written from RFC 9162 §2.1.3.2 (inclusion)
 * and §2.1.4.2 (consistency). Sizes and indexes are unsigned 64-bit values
 * held in Java longs; every hash must be 32 bytes.
 */
public final class Merkle {
    private Merkle() {}

    /** ProofException says why a proof does not verify. */
    public static final class ProofException extends VerificationException {
        private static final long serialVersionUID = 1L;

        ProofException(String reason) {
            super("proof", reason);
        }
    }

    private static void check32(byte[] h, String what) {
        if (h == null || h.length != HashSuite.HASH_LEN) {
            throw new ProofException(what + " is not a 32-byte hash");
        }
    }

    /**
     * rootFromInclusion computes the root that {@code proof} leads to from
     * {@code leafHash} at {@code index} in a tree of {@code size} leaves.
     *
     * @throws ProofException if the index is out of range or the proof has the wrong length
     */
    public static byte[] rootFromInclusion(HashSuite suite, long index, long size, byte[] leafHash,
            List<byte[]> proof) {
        check32(leafHash, "leaf hash");
        if (Long.compareUnsigned(index, size) >= 0) {
            throw new ProofException("index " + Long.toUnsignedString(index)
                    + " is not below the tree size " + Long.toUnsignedString(size));
        }
        long fn = index;
        long sn = size - 1;
        byte[] r = leafHash;
        for (byte[] p : proof) {
            check32(p, "proof hash");
            if (sn == 0) {
                throw new ProofException("inclusion proof is too long");
            }
            if ((fn & 1) == 1 || fn == sn) {
                r = suite.nodeHash(p, r);
                if ((fn & 1) == 0) {
                    while ((fn & 1) == 0 && fn != 0) {
                        fn >>>= 1;
                        sn >>>= 1;
                    }
                }
            } else {
                r = suite.nodeHash(r, p);
            }
            fn >>>= 1;
            sn >>>= 1;
        }
        if (sn != 0) {
            throw new ProofException("inclusion proof is too short");
        }
        return r;
    }

    /**
     * verifyInclusion checks that {@code leafHash} is leaf {@code index} of
     * the tree of {@code size} leaves with root {@code root}.
     *
     * @throws ProofException if it is not
     */
    public static void verifyInclusion(HashSuite suite, long index, long size, byte[] leafHash,
            List<byte[]> proof, byte[] root) {
        check32(root, "root");
        byte[] got = rootFromInclusion(suite, index, size, leafHash, proof);
        if (!MessageDigest.isEqual(got, root)) {
            throw new ProofException("computed root does not match the checkpoint root (hash suite "
                    + suite.wireName() + ")");
        }
    }

    /**
     * verifyConsistency checks that the tree of {@code size2} leaves with
     * root {@code root2} extends the tree of {@code size1} leaves with root
     * {@code root1}. Like transparency-dev/merkle it refuses {@code size1 == 0}
     * and {@code size1 > size2}, and for equal sizes wants an empty proof and
     * equal roots.
     *
     * @throws ProofException if it does not
     */
    public static void verifyConsistency(HashSuite suite, long size1, long size2, List<byte[]> proof,
            byte[] root1, byte[] root2) {
        check32(root1, "old root");
        check32(root2, "new root");
        if (Long.compareUnsigned(size1, size2) > 0) {
            throw new ProofException("old size " + Long.toUnsignedString(size1)
                    + " is larger than new size " + Long.toUnsignedString(size2));
        }
        if (size1 == 0) {
            throw new ProofException("consistency from the empty tree is not a proof");
        }
        if (size1 == size2) {
            if (!proof.isEmpty()) {
                throw new ProofException("equal sizes need an empty proof");
            }
            if (!MessageDigest.isEqual(root1, root2)) {
                throw new ProofException("equal sizes with different roots: the log forked");
            }
            return;
        }
        if (proof.isEmpty()) {
            throw new ProofException("empty consistency proof");
        }
        List<byte[]> path = new ArrayList<>(proof.size() + 1);
        if ((size1 & (size1 - 1)) == 0) {
            path.add(root1);
        }
        for (byte[] p : proof) {
            check32(p, "proof hash");
            path.add(p);
        }
        long fn = size1 - 1;
        long sn = size2 - 1;
        while ((fn & 1) == 1) {
            fn >>>= 1;
            sn >>>= 1;
        }
        byte[] fr = path.get(0);
        byte[] sr = path.get(0);
        for (byte[] c : path.subList(1, path.size())) {
            if (sn == 0) {
                throw new ProofException("consistency proof is too long");
            }
            if ((fn & 1) == 1 || fn == sn) {
                fr = suite.nodeHash(c, fr);
                sr = suite.nodeHash(c, sr);
                if ((fn & 1) == 0) {
                    while ((fn & 1) == 0 && fn != 0) {
                        fn >>>= 1;
                        sn >>>= 1;
                    }
                }
            } else {
                sr = suite.nodeHash(sr, c);
            }
            fn >>>= 1;
            sn >>>= 1;
        }
        if (sn != 0) {
            throw new ProofException("consistency proof is too short");
        }
        if (!MessageDigest.isEqual(fr, root1)) {
            throw new ProofException("consistency proof does not lead to the old root");
        }
        if (!MessageDigest.isEqual(sr, root2)) {
            throw new ProofException("consistency proof does not lead to the new root (hash suite "
                    + suite.wireName() + ")");
        }
    }

    /**
     * root computes the Merkle tree hash of a list of leaf hashes (RFC 9162
     * §2.1.1: split at the largest power of two below the size). For tests
     * and small trees; it recurses log2(n) deep.
     */
    public static byte[] root(HashSuite suite, List<byte[]> leafHashes) {
        if (leafHashes.isEmpty()) {
            return suite.emptyRoot();
        }
        return subtree(suite, leafHashes, 0, leafHashes.size());
    }

    private static byte[] subtree(HashSuite suite, List<byte[]> l, int from, int to) {
        int n = to - from;
        if (n == 1) {
            return l.get(from);
        }
        int k = Integer.highestOneBit(n - 1);
        return suite.nodeHash(subtree(suite, l, from, from + k), subtree(suite, l, from + k, to));
    }

    /** inclusionProof computes the RFC 9162 audit path of leaf m in a list of leaf hashes (tests). */
    public static List<byte[]> inclusionProof(HashSuite suite, List<byte[]> leafHashes, int m) {
        List<byte[]> out = new ArrayList<>();
        path(suite, leafHashes, m, 0, leafHashes.size(), out);
        return out;
    }

    private static void path(HashSuite suite, List<byte[]> l, int m, int from, int to, List<byte[]> out) {
        int n = to - from;
        if (n <= 1) {
            return;
        }
        int k = Integer.highestOneBit(n - 1);
        if (m < k) {
            path(suite, l, m, from, from + k, out);
            out.add(subtree(suite, l, from + k, to));
        } else {
            path(suite, l, m - k, from + k, to, out);
            out.add(subtree(suite, l, from, from + k));
        }
    }

    /** consistencyProof computes the RFC 9162 §2.1.4.1 proof from the first m leaves to all of them (tests). */
    public static List<byte[]> consistencyProof(HashSuite suite, List<byte[]> leafHashes, int m) {
        List<byte[]> out = new ArrayList<>();
        subproof(suite, leafHashes, m, 0, leafHashes.size(), true, out);
        return out;
    }

    private static void subproof(HashSuite suite, List<byte[]> l, int m, int from, int to, boolean whole,
            List<byte[]> out) {
        int n = to - from;
        if (m == n) {
            if (!whole) {
                out.add(subtree(suite, l, from, to));
            }
            return;
        }
        int k = Integer.highestOneBit(n - 1);
        if (m <= k) {
            subproof(suite, l, m, from, from + k, whole, out);
            out.add(subtree(suite, l, from + k, to));
        } else {
            subproof(suite, l, m - k, from + k, to, false, out);
            out.add(subtree(suite, l, from, from + k));
        }
    }
}
