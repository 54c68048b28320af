package dev.regledger.client;

/**
 * Ed25519 (RFC 8032) with the strict verification rule regledger uses
 * everywhere (schemas/FORMATS.md): S must be below the group order L, the
 * encodings of A and R must be canonical, neither A nor R may be a point
 * of small order, and the cofactorless equation {@code [S]B = R + [k]A}
 * must hold. (The rule of ed25519-dalek's {@code verify_strict}; checked
 * against the 914 C2SP CCTV edge-case vectors.)
 *
 * <p>Arithmetic is BouncyCastle's RFC 8032 implementation, which refuses
 * S &ge; L and non-canonical encodings and checks the cofactorless
 * equation. The small-order test is a list, because Ed25519 has exactly
 * eight points of small order and BouncyCastle's full key validation would
 * also refuse keys with a small-order component, which the rule allows.
 */
public final class Ed25519 {
    private Ed25519() {}

    /** SEED_LEN, PUBLIC_LEN and SIG_LEN are the RFC 8032 sizes. */
    public static final int SEED_LEN = 32, PUBLIC_LEN = 32, SIG_LEN = 64;

    // The y coordinates (little-endian, sign bit excluded) of the eight
    // small-order points: y = 0 (order 4, both signs of x), y = 1
    // (identity), two order-8 y values (both signs of x each) and y = -1
    // (order 2). Non-canonical encodings (y >= p) never get this far.
    private static final byte[][] SMALL_ORDER_Y = {
        Codec.unhex("0000000000000000000000000000000000000000000000000000000000000000"),
        Codec.unhex("0100000000000000000000000000000000000000000000000000000000000000"),
        Codec.unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        Codec.unhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        Codec.unhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    };

    /** isSmallOrder says a 32-byte point encoding is one of the eight small-order points. */
    static boolean isSmallOrder(byte[] p, int off) {
        outer:
        for (byte[] y : SMALL_ORDER_Y) {
            for (int i = 0; i < 31; i++) {
                if (p[off + i] != y[i]) {
                    continue outer;
                }
            }
            if ((p[off + 31] & 0x7f) == y[31]) {
                return true;
            }
        }
        return false;
    }

    /** publicKey derives the public key of a 32-byte seed. */
    public static byte[] publicKey(byte[] seed) {
        if (seed.length != SEED_LEN) {
            throw new IllegalArgumentException("an Ed25519 seed is 32 bytes");
        }
        byte[] pk = new byte[PUBLIC_LEN];
        org.bouncycastle.math.ec.rfc8032.Ed25519.generatePublicKey(seed, 0, pk, 0);
        return pk;
    }

    /** sign signs msg with a 32-byte seed (deterministic, RFC 8032 §5.1.6). */
    public static byte[] sign(byte[] seed, byte[] msg) {
        if (seed.length != SEED_LEN) {
            throw new IllegalArgumentException("an Ed25519 seed is 32 bytes");
        }
        byte[] sig = new byte[SIG_LEN];
        org.bouncycastle.math.ec.rfc8032.Ed25519.sign(seed, 0, msg, 0, msg.length, sig, 0);
        return sig;
    }

    /** isWeakKey says a public key is of small order (refused as a participant key). */
    public static boolean isWeakKey(byte[] publicKey) {
        return publicKey.length == PUBLIC_LEN && isSmallOrder(publicKey, 0);
    }

    /** verify checks a signature with the strict rule above. */
    public static boolean verify(byte[] publicKey, byte[] msg, byte[] sig) {
        if (publicKey == null || sig == null || publicKey.length != PUBLIC_LEN || sig.length != SIG_LEN) {
            return false;
        }
        if (isSmallOrder(publicKey, 0) || isSmallOrder(sig, 0)) {
            return false;
        }
        return org.bouncycastle.math.ec.rfc8032.Ed25519.verify(sig, 0, publicKey, 0, msg, 0, msg.length);
    }
}
