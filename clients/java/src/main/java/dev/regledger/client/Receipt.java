package dev.regledger.client;

import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * A verified receipt: the entry at {@link #index()} holds the signed
 * content that was submitted, its leaf hash is {@code H(0x00 ‖ leaf)}, and
 * an inclusion proof leads from it to {@link #checkpoint()}, a checkpoint
 * verified against the trusted log descriptor (log key and witness quorum)
 * and consistent with every checkpoint this client saw before.
 */
public final class Receipt {
    private final long index;
    private final byte[] leafHash;
    private final long integratedTimeMs;
    private final String kind;
    private final String blockchainNo;
    private final boolean replayed;
    private final Leaf leaf;
    private final Checkpoint.Verified checkpoint;
    private final List<byte[]> inclusionProof;

    Receipt(long index, byte[] leafHash, long integratedTimeMs, String kind, String blockchainNo, boolean replayed,
            Leaf leaf, Checkpoint.Verified checkpoint, List<byte[]> inclusionProof) {
        this.index = index;
        this.leafHash = leafHash;
        this.integratedTimeMs = integratedTimeMs;
        this.kind = kind;
        this.blockchainNo = blockchainNo;
        this.replayed = replayed;
        this.leaf = leaf;
        this.checkpoint = checkpoint;
        this.inclusionProof = Collections.unmodifiableList(inclusionProof);
    }

    /** index is the entry's position in the log. */
    public long index() {
        return index;
    }

    /** leafHash is the verified leaf hash. */
    public byte[] leafHash() {
        return leafHash.clone();
    }

    /** leafHashHex is the leaf hash in lowercase hex. */
    public String leafHashHex() {
        return Codec.hex(leafHash);
    }

    /** integratedTimeMs is when the node sequenced the entry (Unix ms, from the verified leaf). */
    public long integratedTimeMs() {
        return integratedTimeMs;
    }

    /** kind is the entry kind. */
    public String kind() {
        return kind;
    }

    /** blockchainNo is the 区块链编号 of a product-registered entry, derived here from the verified leaf. */
    public Optional<String> blockchainNo() {
        return Optional.ofNullable(blockchainNo);
    }

    /**
     * replayed: the node already held this signed content (a retry, or an
     * earlier submission of the same bytes) and this is that entry. To log
     * a deliberate repeat of an identical act, sign a payload with a fresh
     * {@code request_id} ({@link Payload#withRequestId}).
     */
    public boolean replayed() {
        return replayed;
    }

    /** leaf is the verified leaf. */
    public Leaf leaf() {
        return leaf;
    }

    /** checkpoint is the verified checkpoint the inclusion proof is for. */
    public Checkpoint.Verified checkpoint() {
        return checkpoint;
    }

    /** inclusionProof are the proof hashes, bottom-up. */
    public List<byte[]> inclusionProof() {
        return inclusionProof;
    }

    @Override
    public String toString() {
        return "Receipt(index " + Long.toUnsignedString(index) + ", " + kind + ", leaf " + leafHashHex()
                + (replayed ? ", replayed" : "") + ", checkpoint size " + Long.toUnsignedString(checkpoint.size()) + ")";
    }
}
