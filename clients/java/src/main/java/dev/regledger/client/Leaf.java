package dev.regledger.client;

import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A log leaf (schemas/FORMATS.md, "Leaf"), in two versions:
 * v1 {@code 1 ‖ index (8) ‖ integrated time ms (8) ‖ previous leaf hash (32) ‖ envelope (binary)};
 * v2 {@code 2 ‖ index ‖ time ‖ previous leaf hash ‖ state root (32) ‖ envelope hash (32)} (113 bytes),
 * whose envelope is served beside it and paired with {@link #withEnvelope}.
 * Its tree leaf hash is {@code H(0x00 ‖ leaf bytes)} in the log's suite.
 */
public final class Leaf {
    /** HEADER_LEN is the length before the envelope. */
    public static final int HEADER_LEN = 1 + 8 + 8 + 32;

    private final byte[] bytes;
    private final long index;
    private final long integratedTimeMs;
    private final byte[] prevLeafHash;
    private final Envelope envelope;

    /** V2_LEN is the length of a v2 leaf. */
    public static final int V2_LEN = HEADER_LEN + 32 + 32;

    private Leaf(byte[] bytes, long index, long time, byte[] prev, Envelope envelope) {
        this.bytes = bytes;
        this.index = index;
        this.integratedTimeMs = time;
        this.prevLeafHash = prev;
        this.envelope = envelope;
    }

    /** version is the leaf's version byte (1 or 2). */
    public int version() {
        return bytes[0] & 0xff;
    }

    /** stateRoot is a v2 leaf's state root (null for v1). */
    public byte[] stateRoot() {
        return version() == 2 ? Arrays.copyOfRange(bytes, 49, 81) : null;
    }

    /** envelopeHash is a v2 leaf's envelope hash (null for v1). */
    public byte[] envelopeHash() {
        return version() == 2 ? Arrays.copyOfRange(bytes, 81, 113) : null;
    }

    /**
     * withEnvelope pairs a v2 leaf with the envelope served beside it, which
     * must hash to the leaf's envelope hash in {@code suite}.
     *
     * @throws VerificationException (part {@code envelope}) if it does not
     */
    public Leaf withEnvelope(HashSuite suite, byte[] envelopeBinary) {
        if (version() != 2) {
            throw new VerificationException("envelope", "a v1 leaf holds its own envelope");
        }
        if (!MessageDigest.isEqual(suite.hash(envelopeBinary), envelopeHash())) {
            throw new VerificationException("envelope", "does not hash to the leaf's envelope hash");
        }
        Envelope e;
        try {
            e = Envelope.fromBinary(envelopeBinary);
        } catch (VerificationException x) {
            throw x.within("envelope");
        }
        return new Leaf(bytes, index, integratedTimeMs, prevLeafHash, e);
    }

    /**
     * parse reads leaf bytes strictly.
     *
     * @throws VerificationException (part {@code leaf}) if they break the layout
     */
    public static Leaf parse(byte[] b) {
        if (b.length < HEADER_LEN) {
            throw new VerificationException("leaf", "shorter than the leaf header");
        }
        if (b[0] == 2) {
            if (b.length != V2_LEN) {
                throw new VerificationException("leaf", "a v2 leaf is exactly 113 bytes");
            }
            return new Leaf(b.clone(), Codec.u64(b, 1), Codec.u64(b, 9), Arrays.copyOfRange(b, 17, 49), null);
        }
        if (b[0] != 1) {
            throw new VerificationException("leaf", "unknown leaf version " + (b[0] & 0xff));
        }
        Envelope e;
        try {
            e = Envelope.fromBinary(Arrays.copyOfRange(b, HEADER_LEN, b.length));
        } catch (VerificationException x) {
            throw x.within("leaf");
        }
        return new Leaf(b.clone(), Codec.u64(b, 1), Codec.u64(b, 9), Arrays.copyOfRange(b, 17, 49), e);
    }

    /** build makes leaf bytes (tests and tools that construct logs). */
    public static byte[] build(long index, long integratedTimeMs, byte[] prevLeafHash, Envelope e) {
        if (prevLeafHash.length != 32) {
            throw new IllegalArgumentException("previous leaf hash is 32 bytes");
        }
        return Codec.concat(new byte[] {1}, Codec.be64(index), Codec.be64(integratedTimeMs), prevLeafHash,
                e.toBinary());
    }

    /** bytes is a copy of the leaf bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /** index is the entry's index (unsigned). */
    public long index() {
        return index;
    }

    /** integratedTimeMs is when the node sequenced it (Unix ms). */
    public long integratedTimeMs() {
        return integratedTimeMs;
    }

    /** prevLeafHash is the leaf hash of entry index−1 (zeros for entry 0). */
    public byte[] prevLeafHash() {
        return prevLeafHash.clone();
    }

    /** chainsTo says this leaf's previous-leaf hash is {@code leafHash}. */
    public boolean chainsTo(byte[] leafHash) {
        return MessageDigest.isEqual(prevLeafHash, leafHash);
    }

    /**
     * envelope is the signed envelope: inside a v1 leaf, or paired with a
     * v2 leaf by {@link #withEnvelope}.
     *
     * @throws VerificationException (part {@code envelope}) for a v2 leaf not paired
     */
    public Envelope envelope() {
        if (envelope == null) {
            throw new VerificationException("envelope", "missing: a v2 leaf's envelope is served beside it");
        }
        return envelope;
    }

    /** leafHash is {@code H(0x00 ‖ bytes)}. */
    public byte[] leafHash(HashSuite suite) {
        return suite.leafHash(bytes);
    }
}
