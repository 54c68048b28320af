package dev.regledger.client;

import dev.regledger.client.NoteKeys.VerifierKey;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A C2SP tlog-checkpoint body (c2sp.org/tlog-checkpoint):
 * {@code <origin>\n<decimal size>\n<base64 root>\n} and optional non-empty
 * extension lines. Sizes have no leading zeros; the root is 32 bytes.
 */
public final class Checkpoint {
    /** MAX_EXTENSION_LINES bounds the extension lines. */
    public static final int MAX_EXTENSION_LINES = 64;

    private final String origin;
    private final long size;
    private final byte[] root;
    private final List<String> extensions;
    private final String text;

    private Checkpoint(String origin, long size, byte[] root, List<String> extensions, String text) {
        this.origin = origin;
        this.size = size;
        this.root = root;
        this.extensions = Collections.unmodifiableList(extensions);
        this.text = text;
    }

    private static VerificationException bad(String why) {
        return new VerificationException("checkpoint", "malformed checkpoint: " + why);
    }

    /**
     * parse reads a checkpoint body (the signed note's text).
     *
     * @throws VerificationException if it breaks the grammar
     */
    public static Checkpoint parse(String text) {
        if (!text.endsWith("\n")) {
            throw bad("missing final newline");
        }
        String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
        String origin = lines[0];
        if (origin.isEmpty()) {
            throw bad("empty origin");
        }
        if (origin.codePoints().anyMatch(c -> Character.getType(c) == Character.CONTROL)) {
            throw bad("control character in origin");
        }
        if (lines.length < 2) {
            throw bad("missing size line");
        }
        long size;
        try {
            size = Codec.parseU64(lines[1]);
        } catch (IllegalArgumentException e) {
            throw bad("bad size");
        }
        if (lines.length < 3) {
            throw bad("missing root line");
        }
        byte[] root;
        try {
            root = Codec.unb64(lines[2]);
        } catch (IllegalArgumentException e) {
            root = null;
        }
        if (root == null || root.length != HashSuite.HASH_LEN) {
            throw bad("root is not base64 of 32 bytes");
        }
        List<String> ext = new ArrayList<>();
        for (int i = 3; i < lines.length; i++) {
            if (lines[i].isEmpty()) {
                throw bad("empty extension line");
            }
            if (ext.size() == MAX_EXTENSION_LINES) {
                throw bad("too many extension lines");
            }
            ext.add(lines[i]);
        }
        return new Checkpoint(origin, size, root, ext, text);
    }

    /** origin names the log. */
    public String origin() {
        return origin;
    }

    /** size is the tree size (unsigned). */
    public long size() {
        return size;
    }

    /** root is the tree hash at that size. */
    public byte[] root() {
        return root.clone();
    }

    /** extensions are the extra lines. */
    public List<String> extensions() {
        return extensions;
    }

    /** text is the exact signed body. */
    public String text() {
        return text;
    }

    /** body formats a body from its parts (tests, tools). */
    public static String body(String origin, long size, byte[] root) {
        return origin + "\n" + Long.toUnsignedString(size) + "\n" + Codec.b64(root) + "\n";
    }

    /**
     * Verified is a checkpoint whose log signature, origin and witness
     * quorum verified against a log descriptor.
     */
    public static final class Verified {
        private final Checkpoint checkpoint;
        private final String note;
        private final List<VerifierKey> witnesses;

        Verified(Checkpoint checkpoint, String note, List<VerifierKey> witnesses) {
            this.checkpoint = checkpoint;
            this.note = note;
            this.witnesses = Collections.unmodifiableList(witnesses);
        }

        /** checkpoint is the verified body. */
        public Checkpoint checkpoint() {
            return checkpoint;
        }

        /** size is the verified tree size. */
        public long size() {
            return checkpoint.size;
        }

        /** root is the verified root. */
        public byte[] root() {
            return checkpoint.root();
        }

        /** note is the full signed note text as received. */
        public String note() {
            return note;
        }

        /** witnesses are the descriptor's witnesses whose cosignatures verified. */
        public List<VerifierKey> witnesses() {
            return witnesses;
        }
    }
}
