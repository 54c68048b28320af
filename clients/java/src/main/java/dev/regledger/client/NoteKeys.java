package dev.regledger.client;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;

/**
 * C2SP signed-note keys (c2sp.org/signed-note). A verifier key (vkey) is
 * {@code <name>+<8 hex key id>+<base64(type ‖ public key)>}; a signer key
 * file holds {@code PRIVATE+KEY+<name>+<8 hex key id>+<base64(type ‖ seed)>}.
 * The key id is the first 4 bytes of {@code SHA-256(name ‖ 0x0A ‖ type ‖ public key)}.
 * Types: {@code 0x01} Ed25519 (log and participant keys), {@code 0x04}
 * cosignature/v1 (witness keys).
 */
public final class NoteKeys {
    private NoteKeys() {}

    /** TYPE_ED25519 and TYPE_COSIGNATURE_V1 are the key type bytes. */
    public static final byte TYPE_ED25519 = 0x01, TYPE_COSIGNATURE_V1 = 0x04;

    /** MAX_NAME_BYTES bounds a key name (in UTF-8 bytes). */
    public static final int MAX_NAME_BYTES = 256;

    /**
     * isValidName: non-empty, at most 256 UTF-8 bytes, no {@code +}, no
     * Unicode White_Space and no control character (C2SP signed-note; the
     * same test as Go's note package and the Rust core).
     */
    public static boolean isValidName(String name) {
        if (name == null || name.isEmpty() || Codec.utf8(name).length > MAX_NAME_BYTES) {
            return false;
        }
        return name.codePoints().noneMatch(c -> c == '+' || isWhiteSpace(c)
                || Character.getType(c) == Character.CONTROL || (c >= 0xd800 && c <= 0xdfff));
    }

    // Unicode's White_Space property (Java's isWhitespace leaves out NBSP and friends).
    static boolean isWhiteSpace(int c) {
        return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f
                || c == 0x205f || c == 0x3000;
    }

    /** keyId computes the 32-bit key id. */
    public static int keyId(String name, byte type, byte[] publicKey) {
        byte[] d = Codec.sha256(Codec.utf8(name), new byte[] {0x0a, type}, publicKey);
        return ((d[0] & 0xff) << 24) | ((d[1] & 0xff) << 16) | ((d[2] & 0xff) << 8) | (d[3] & 0xff);
    }

    private static int parseHex8(String s) {
        if (s.length() != 8) {
            throw new IllegalArgumentException("key id is not 8 hex digits");
        }
        for (char c : s.toCharArray()) {
            if (Character.digit(c, 16) < 0 || c > 0x7f) {
                throw new IllegalArgumentException("key id is not 8 hex digits");
            }
        }
        return (int) Long.parseLong(s, 16);
    }

    /** Parts of a key string after the optional PRIVATE+KEY+ prefix. */
    private static final class Split {
        String name;
        int id;
        byte type;
        byte[] key;
    }

    private static Split split(String s) {
        String[] p = s.split("\\+", 3);
        if (p.length != 3) {
            throw new IllegalArgumentException("malformed key: want name+id+key");
        }
        Split out = new Split();
        out.name = p[0];
        if (!isValidName(out.name)) {
            throw new IllegalArgumentException("invalid key name");
        }
        out.id = parseHex8(p[1]);
        byte[] raw = Codec.unb64(p[2]);
        if (raw.length == 0) {
            throw new IllegalArgumentException("malformed key: empty key");
        }
        out.type = raw[0];
        if (out.type != TYPE_ED25519 && out.type != TYPE_COSIGNATURE_V1) {
            throw new IllegalArgumentException(String.format("unsupported key algorithm 0x%02x", out.type));
        }
        out.key = Arrays.copyOfRange(raw, 1, raw.length);
        if (out.key.length != 32) {
            throw new IllegalArgumentException("malformed key: key is not 32 bytes");
        }
        return out;
    }

    private static String trimEol(String s) {
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) {
            end--;
        }
        return s.substring(0, end);
    }

    /** VerifierKey is a parsed vkey. */
    public static final class VerifierKey {
        private final String name;
        private final int keyId;
        private final byte type;
        private final byte[] publicKey;

        private VerifierKey(String name, int keyId, byte type, byte[] publicKey) {
            this.name = name;
            this.keyId = keyId;
            this.type = type;
            this.publicKey = publicKey;
        }

        /**
         * parse reads a vkey (a trailing newline is allowed).
         *
         * @throws IllegalArgumentException if malformed or the key id does not match
         */
        public static VerifierKey parse(String vkey) {
            Split s = split(trimEol(vkey));
            if (NoteKeys.keyId(s.name, s.type, s.key) != s.id) {
                throw new IllegalArgumentException("key id does not match the key");
            }
            return new VerifierKey(s.name, s.id, s.type, s.key);
        }

        /** of builds a verifier key from a raw public key. */
        public static VerifierKey of(String name, byte type, byte[] publicKey) {
            if (!isValidName(name)) {
                throw new IllegalArgumentException("invalid key name");
            }
            if (publicKey.length != 32) {
                throw new IllegalArgumentException("a public key is 32 bytes");
            }
            return new VerifierKey(name, NoteKeys.keyId(name, type, publicKey), type, publicKey.clone());
        }

        /** name is the key name (for a log key, the origin). */
        public String name() {
            return name;
        }

        /** keyId is the 32-bit key id. */
        public int keyId() {
            return keyId;
        }

        /** type is the key type byte. */
        public byte type() {
            return type;
        }

        /** publicKey is the 32-byte Ed25519 public key. */
        public byte[] publicKey() {
            return publicKey.clone();
        }

        /** vkey formats the key. */
        public String vkey() {
            return String.format("%s+%08x+%s", name, keyId, Codec.b64(Codec.concat(new byte[] {type}, publicKey)));
        }

        /**
         * verifyNoteSignature checks a note signature (after its 4 key id
         * bytes) over the note text: Ed25519 over the text for type 0x01;
         * for cosignature/v1, 8 bytes of timestamp then Ed25519 over
         * {@code "cosignature/v1\ntime <ts>\n" ‖ text}.
         */
        public boolean verifyNoteSignature(String text, byte[] sig) {
            if (type == TYPE_ED25519) {
                return Ed25519.verify(publicKey, Codec.utf8(text), sig);
            }
            if (sig.length != 72) {
                return false;
            }
            long ts = Codec.u64(sig, 0);
            return Ed25519.verify(publicKey, cosignatureMessage(text, ts), Arrays.copyOfRange(sig, 8, 72));
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof VerifierKey)) {
                return false;
            }
            VerifierKey k = (VerifierKey) o;
            return name.equals(k.name) && keyId == k.keyId && type == k.type
                    && MessageDigest.isEqual(publicKey, k.publicKey);
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, keyId, type);
        }

        @Override
        public String toString() {
            return vkey();
        }
    }

    /** cosignatureMessage is what a cosignature/v1 witness signs (c2sp.org/tlog-cosignature). */
    public static byte[] cosignatureMessage(String checkpointText, long timestamp) {
        return Codec.concat(Codec.utf8("cosignature/v1\ntime " + Long.toUnsignedString(timestamp) + "\n"),
                Codec.utf8(checkpointText));
    }

    /** SignerKey is a parsed signer (private) key. Its toString never shows the seed. */
    public static final class SignerKey {
        private final String name;
        private final int keyId;
        private final byte type;
        private final byte[] seed;
        private final byte[] publicKey;

        private SignerKey(String name, byte type, byte[] seed) {
            if (!isValidName(name)) {
                throw new IllegalArgumentException("invalid key name");
            }
            this.name = name;
            this.type = type;
            this.seed = seed.clone();
            this.publicKey = Ed25519.publicKey(this.seed);
            this.keyId = NoteKeys.keyId(name, type, publicKey);
        }

        /**
         * parse reads a {@code PRIVATE+KEY+...} key file's text (a trailing
         * newline is allowed).
         *
         * @throws IllegalArgumentException if malformed or the key id does not match the seed
         */
        public static SignerKey parse(String skey) {
            String s = trimEol(skey);
            if (!s.startsWith("PRIVATE+KEY+")) {
                throw new IllegalArgumentException("malformed key: missing PRIVATE+KEY+ prefix");
            }
            Split p = split(s.substring("PRIVATE+KEY+".length()));
            SignerKey k = new SignerKey(p.name, p.type, p.key);
            if (k.keyId != p.id) {
                throw new IllegalArgumentException("key id does not match the key");
            }
            return k;
        }

        /** of builds a signer key from a 32-byte seed. */
        public static SignerKey of(String name, byte type, byte[] seed) {
            return new SignerKey(name, type, seed);
        }

        /** generate makes a new random key. */
        public static SignerKey generate(String name, byte type) {
            byte[] seed = new byte[32];
            new SecureRandom().nextBytes(seed);
            return new SignerKey(name, type, seed);
        }

        /** name is the key name (for a participant key, the participant id). */
        public String name() {
            return name;
        }

        /** keyId is the 32-bit note key id. */
        public int keyId() {
            return keyId;
        }

        /** type is the key type byte. */
        public byte type() {
            return type;
        }

        /** publicKey is the 32-byte Ed25519 public key. */
        public byte[] publicKey() {
            return publicKey.clone();
        }

        /** verifier is the matching verifier key. */
        public VerifierKey verifier() {
            return new VerifierKey(name, keyId, type, publicKey.clone());
        }

        /** skey formats the key file text (secret: write it with mode 0600). */
        public String skey() {
            return String.format("PRIVATE+KEY+%s+%08x+%s", name, keyId,
                    Codec.b64(Codec.concat(new byte[] {type}, seed)));
        }

        /** sign signs a message with Ed25519. */
        public byte[] sign(byte[] msg) {
            return Ed25519.sign(seed, msg);
        }

        @Override
        public String toString() {
            return "SignerKey(" + name + String.format("+%08x)", keyId);
        }
    }
}
