package dev.regledger.client;

import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * 区块链编号, the certificate's blockchain number:
 * {@code RL1-<8 hex: SHA-256(origin)[0..4]>-<index decimal>-<16 hex: leaf hash[0..8]>},
 * lowercase hex. It names one entry of one log; {@link #matches} ties it to
 * a verified leaf.
 */
public final class BlockchainNo {
    private BlockchainNo() {}

    private static final Pattern SYNTAX = Pattern.compile("RL1-[0-9a-f]{8}-(0|[1-9][0-9]{0,19})-[0-9a-f]{16}");

    /** of derives the number of entry {@code index} with {@code leafHash} in log {@code origin}. */
    public static String of(String origin, long index, byte[] leafHash) {
        return "RL1-" + Codec.hex(Arrays.copyOf(Codec.sha256(Codec.utf8(origin)), 4)) + "-"
                + Long.toUnsignedString(index) + "-" + Codec.hex(Arrays.copyOf(leafHash, 8));
    }

    /** isWellFormed checks the syntax alone. */
    public static boolean isWellFormed(String s) {
        return s != null && SYNTAX.matcher(s).matches();
    }

    /** matches says {@code s} is exactly the number of that entry. */
    public static boolean matches(String s, String origin, long index, byte[] leafHash) {
        return isWellFormed(s) && s.equals(of(origin, index, leafHash));
    }
}
