package dev.regledger.client;

import java.util.Locale;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.Blake3Digest;
import org.bouncycastle.crypto.digests.SM3Digest;

/**
 * The log's hash suite {@code H} (schemas/FORMATS.md): SHA-256, BLAKE3 or
 * SM3 (GB/T 32905-2016, the 国密 suite), all with a 32-byte output, used for the RFC 9162 tree and leaf hashes.
 * The suite is fixed by the log descriptor; nothing else selects it.
 */
public enum HashSuite {
    /** SHA256 is FIPS 180-4 SHA-256 (a plain C2SP/RFC 6962 log). */
    SHA256("sha256"),
    /** BLAKE3 is BLAKE3 with its default 32-byte output (BouncyCastle's Blake3Digest). */
    BLAKE3("blake3"),
    /** SM3 is GB/T 32905-2016 SM3 (BouncyCastle's SM3Digest): suite {@code sm3}, signed with SM2. */
    SM3("sm3");

    /** HASH_LEN is the output size of every suite. */
    public static final int HASH_LEN = 32;

    private final String wireName;

    HashSuite(String wireName) {
        this.wireName = wireName;
    }

    /** wireName is the name used in log.json and genesis ({@code "sha256"}, {@code "blake3"}, {@code "sm3"}). */
    public String wireName() {
        return wireName;
    }

    /** fromName parses a log.json {@code hash} value. */
    public static HashSuite fromName(String name) {
        for (HashSuite s : values()) {
            if (s.wireName.equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown hash suite " + name.toLowerCase(Locale.ROOT)
                + " (want sha256, blake3 or sm3)");
    }

    /** hash hashes the concatenation of its arguments. */
    public byte[] hash(byte[]... parts) {
        if (this == SHA256) {
            return Codec.sha256(parts);
        }
        Digest d = this == SM3 ? new SM3Digest() : new Blake3Digest();
        for (byte[] p : parts) {
            d.update(p, 0, p.length);
        }
        byte[] out = new byte[HASH_LEN];
        d.doFinal(out, 0);
        return out;
    }

    private static final byte[] LEAF_PREFIX = {0x00};
    private static final byte[] NODE_PREFIX = {0x01};

    /** leafHash is {@code H(0x00 ‖ leaf bytes)} (RFC 9162 §2.1.1). */
    public byte[] leafHash(byte[] leaf) {
        return hash(LEAF_PREFIX, leaf);
    }

    /** nodeHash is {@code H(0x01 ‖ left ‖ right)}. */
    public byte[] nodeHash(byte[] left, byte[] right) {
        return hash(NODE_PREFIX, left, right);
    }

    /** emptyRoot is {@code H("")}, the root of the empty tree. */
    public byte[] emptyRoot() {
        return hash();
    }
}
