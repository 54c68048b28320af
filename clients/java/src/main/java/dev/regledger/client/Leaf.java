package dev.regledger.client;

import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A log leaf (schemas/FORMATS.md, "Leaf"):
 * {@code version (1) = 1 ‖ index (8) ‖ integrated time ms (8) ‖ previous leaf hash (32) ‖ envelope (binary)}.
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

    private Leaf(byte[] bytes, long index, long time, byte[] prev, Envelope envelope) {
        this.bytes = bytes;
        this.index = index;
        this.integratedTimeMs = time;
        this.prevLeafHash = prev;
        this.envelope = envelope;
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

    /** envelope is the signed envelope inside. */
    public Envelope envelope() {
        return envelope;
    }

    /** leafHash is {@code H(0x00 ‖ bytes)}. */
    public byte[] leafHash(HashSuite suite) {
        return suite.leafHash(bytes);
    }
}
