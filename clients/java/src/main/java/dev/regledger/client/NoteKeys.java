package dev.regledger.client;

import java.nio.charset.StandardCharsets;
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
 * cosignature/v1 (witness keys), and for the 国密 suite (schemas/FORMATS.md
 * "SM2") the type byte {@code 0xff} followed by the identifier
 * {@code regledger/sm2-note/v1} (log and participant keys: a 65-byte point,
 * a 32-byte private scalar d) or {@code regledger/sm2-cosignature/v1}
 * (witness keys); the type bytes, identifier included, enter the key id.
 */
public final class NoteKeys {
    private NoteKeys() {}

    /** TYPE_ED25519 and TYPE_COSIGNATURE_V1 are the key type bytes. */
    public static final byte TYPE_ED25519 = 0x01, TYPE_COSIGNATURE_V1 = 0x04;

    /** TYPE_EXTENDED (0xff) is signed-note's type "followed by a longer identifier": SM2 keys. */
    public static final byte TYPE_EXTENDED = (byte) 0xff;

    /** SM2_NOTE_ID and SM2_COSIGNATURE_ID follow the 0xff type byte of an SM2 key. */
    public static final String SM2_NOTE_ID = "regledger/sm2-note/v1", SM2_COSIGNATURE_ID = "regledger/sm2-cosignature/v1";

    /** KeyType is a note key's algorithm and role, with the type bytes it is written with. */
    public enum KeyType {
        /** ED25519: type 0x01, Ed25519 over the note text. */
        ED25519(new byte[] {TYPE_ED25519}, false, false),
        /** COSIGNATURE_V1: type 0x04, an Ed25519 witness (timestamp ‖ signature over cosignature/v1). */
        COSIGNATURE_V1(new byte[] {TYPE_COSIGNATURE_V1}, false, true),
        /** SM2: 0xff ‖ regledger/sm2-note/v1, SM2 (default signer ID) over the note text. */
        SM2(Codec.concat(new byte[] {TYPE_EXTENDED}, SM2_NOTE_ID.getBytes(StandardCharsets.US_ASCII)), true, false),
        /** SM2_COSIGNATURE_V1: 0xff ‖ regledger/sm2-cosignature/v1, an SM2 witness. */
        SM2_COSIGNATURE_V1(Codec.concat(new byte[] {TYPE_EXTENDED},
                SM2_COSIGNATURE_ID.getBytes(StandardCharsets.US_ASCII)), true, true);

        private final byte[] bytes;
        private final boolean sm2;
        private final boolean cosignature;

        KeyType(byte[] bytes, boolean sm2, boolean cosignature) {
            this.bytes = bytes;
            this.sm2 = sm2;
            this.cosignature = cosignature;
        }

        /** typeBytes are the bytes before the key: the type byte, and for 0xff its identifier. */
        public byte[] typeBytes() {
            return bytes.clone();
        }

        /** isSm2 says the key signs with SM2. */
        public boolean isSm2() {
            return sm2;
        }

        /** isCosignature says the key is a witness key (cosignature/v1 messages). */
        public boolean isCosignature() {
            return cosignature;
        }

        /** publicLen is the public key's length: 32 (Ed25519) or 65 (the SM2 point). */
        public int publicLen() {
            return sm2 ? Sm2.POINT_LEN : Ed25519.PUBLIC_LEN;
        }

        /** of returns the type of a single Ed25519 type byte (0x01 or 0x04). */
        public static KeyType of(byte type) {
            if (type == TYPE_ED25519) {
                return ED25519;
            }
            if (type == TYPE_COSIGNATURE_V1) {
                return COSIGNATURE_V1;
            }
            throw new IllegalArgumentException(String.format("unsupported key algorithm 0x%02x", type));
        }

        /** split reads the type bytes at the start of a decoded key. */
        static KeyType split(byte[] raw) {
            if (raw[0] != TYPE_EXTENDED) {
                return of(raw[0]);
            }
            for (KeyType t : values()) {
                if (t.bytes.length > 1 && raw.length >= t.bytes.length
                        && Arrays.equals(Arrays.copyOf(raw, t.bytes.length), t.bytes)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unsupported key algorithm 0xff (unknown identifier)");
        }
    }

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
        return keyId(name, KeyType.of(type), publicKey);
    }

    /** keyId computes the 32-bit key id: SHA-256(name ‖ 0x0A ‖ type bytes ‖ public key)[:4]. */
    public static int keyId(String name, KeyType type, byte[] publicKey) {
        byte[] d = Codec.sha256(Codec.utf8(name), new byte[] {0x0a}, type.bytes, publicKey);
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
        KeyType type;
        byte[] key;
    }

    private static Split split(String s, boolean secret) {
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
        out.type = KeyType.split(raw);
        out.key = Arrays.copyOfRange(raw, out.type.bytes.length, raw.length);
        int want = secret ? 32 : out.type.publicLen();
        if (out.key.length != want) {
            throw new IllegalArgumentException("malformed key: key is not " + want + " bytes"
                    + (out.type.isSm2() && !secret ? " (an SM2 note key is the 65-byte uncompressed point)" : ""));
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
        private final KeyType type;
        private final byte[] publicKey;
        private final Sm2.PublicKey sm2;

        private VerifierKey(String name, int keyId, KeyType type, byte[] publicKey) {
            this.name = name;
            this.keyId = keyId;
            this.type = type;
            this.publicKey = publicKey;
            // Note keys sign under the default signer ID (FORMATS.md): no stated ID here.
            this.sm2 = type.isSm2() ? Sm2.publicKey(publicKey, null) : null;
        }

        /**
         * parse reads a vkey (a trailing newline is allowed).
         *
         * @throws IllegalArgumentException if malformed or the key id does not match
         */
        public static VerifierKey parse(String vkey) {
            Split s = split(trimEol(vkey), false);
            if (NoteKeys.keyId(s.name, s.type, s.key) != s.id) {
                throw new IllegalArgumentException("key id does not match the key");
            }
            return new VerifierKey(s.name, s.id, s.type, s.key);
        }

        /** of builds a verifier key from a raw public key. */
        public static VerifierKey of(String name, byte type, byte[] publicKey) {
            return of(name, KeyType.of(type), publicKey);
        }

        /** of builds a verifier key of any type from a raw public key (the 65-byte point for SM2). */
        public static VerifierKey of(String name, KeyType type, byte[] publicKey) {
            if (!isValidName(name)) {
                throw new IllegalArgumentException("invalid key name");
            }
            if (publicKey.length != type.publicLen()) {
                throw new IllegalArgumentException("a " + type + " public key is " + type.publicLen() + " bytes");
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

        /** type is the key type byte (0xff for SM2 keys: see {@link #keyType()}). */
        public byte type() {
            return type.bytes[0];
        }

        /** keyType is the key's algorithm and role. */
        public KeyType keyType() {
            return type;
        }

        /** publicKey is the public key: 32 bytes Ed25519, or the 65-byte SM2 point. */
        public byte[] publicKey() {
            return publicKey.clone();
        }

        /** vkey formats the key. */
        public String vkey() {
            return String.format("%s+%08x+%s", name, keyId, Codec.b64(Codec.concat(type.bytes, publicKey)));
        }

        /**
         * verifyNoteSignature checks a note signature (after its 4 key id
         * bytes) over the note text: Ed25519 over the text for type 0x01;
         * for cosignature/v1, 8 bytes of timestamp then Ed25519 over
         * {@code "cosignature/v1\ntime <ts>\n" ‖ text}.
         */
        public boolean verifyNoteSignature(String text, byte[] sig) {
            if (!type.isCosignature()) {
                return verifyRaw(Codec.utf8(text), sig);
            }
            if (sig.length != 72) {
                return false;
            }
            long ts = Codec.u64(sig, 0);
            return verifyRaw(cosignatureMessage(text, ts), Arrays.copyOfRange(sig, 8, 72));
        }

        // SM2 keys verify SM2 (r ‖ s, default signer ID), Ed25519 keys strict Ed25519: the key's type
        // decides, never the signature, so an Ed25519 signature under an SM2 key id is refused.
        private boolean verifyRaw(byte[] msg, byte[] sig) {
            return sm2 != null ? Sm2.verify(sm2, Sm2.DEFAULT_ID, msg, sig) : Ed25519.verify(publicKey, msg, sig);
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
        private final KeyType type;
        private final byte[] seed;
        private final byte[] publicKey;
        private final Sm2.PrivateKey sm2;

        private SignerKey(String name, KeyType type, byte[] seed) {
            if (!isValidName(name)) {
                throw new IllegalArgumentException("invalid key name");
            }
            this.name = name;
            this.type = type;
            this.seed = seed.clone();
            if (type.isSm2()) {
                this.sm2 = Sm2.privateKey(this.seed, null);
                this.publicKey = sm2.publicKey().point();
            } else {
                this.sm2 = null;
                this.publicKey = Ed25519.publicKey(this.seed);
            }
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
            Split p = split(s.substring("PRIVATE+KEY+".length()), true);
            SignerKey k = new SignerKey(p.name, p.type, p.key);
            if (k.keyId != p.id) {
                throw new IllegalArgumentException("key id does not match the key");
            }
            return k;
        }

        /** of builds a signer key from a 32-byte seed. */
        public static SignerKey of(String name, byte type, byte[] seed) {
            return new SignerKey(name, KeyType.of(type), seed);
        }

        /** of builds a signer key of any type from 32 secret bytes (an Ed25519 seed, or SM2's d). */
        public static SignerKey of(String name, KeyType type, byte[] secret) {
            if (secret.length != 32) {
                throw new IllegalArgumentException("a signer key's secret is 32 bytes");
            }
            return new SignerKey(name, type, secret);
        }

        /** generate makes a new random key. */
        public static SignerKey generate(String name, byte type) {
            return generate(name, KeyType.of(type));
        }

        /** generate makes a new random key of any type. */
        public static SignerKey generate(String name, KeyType type) {
            if (type.isSm2()) {
                return new SignerKey(name, type, Sm2.generate().toBytes());
            }
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

        /** type is the key type byte (0xff for SM2 keys: see {@link #keyType()}). */
        public byte type() {
            return type.bytes[0];
        }

        /** keyType is the key's algorithm and role. */
        public KeyType keyType() {
            return type;
        }

        /** publicKey is the public key: 32 bytes Ed25519, or the 65-byte SM2 point. */
        public byte[] publicKey() {
            return publicKey.clone();
        }

        /** sm2 is the SM2 private key of an SM2 signer key (null for Ed25519). */
        Sm2.PrivateKey sm2() {
            return sm2;
        }

        /** verifier is the matching verifier key. */
        public VerifierKey verifier() {
            return new VerifierKey(name, keyId, type, publicKey.clone());
        }

        /** skey formats the key file text (secret: write it with mode 0600). */
        public String skey() {
            return String.format("PRIVATE+KEY+%s+%08x+%s", name, keyId,
                    Codec.b64(Codec.concat(type.bytes, seed)));
        }

        /** sign signs a message: Ed25519, or SM2 (default signer ID, 64 bytes r ‖ s) for an SM2 key. */
        public byte[] sign(byte[] msg) {
            return sm2 != null ? sm2.sign(msg) : Ed25519.sign(seed, msg);
        }

        @Override
        public String toString() {
            return "SignerKey(" + name + String.format("+%08x)", keyId);
        }
    }
}
