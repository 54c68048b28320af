package dev.regledger.client;

import dev.regledger.client.NoteKeys.SignerKey;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A participant's signing key: a C2SP signer key (type 0x01 Ed25519, or
 * the SM2 note type {@code 0xff regledger/sm2-note/v1}) whose key name is
 * the participant id, as {@code regledger-node keygen [--alg sm2]} writes
 * it, or an SM2 PKCS#8 PEM ({@link #fromPem}). Its envelope key id is
 * {@code <participant id>/<first 8 hex digits of SHA-256(key material)>}
 * (material: the Ed25519 public key, or the SM2 point and its stated signer
 * ID if any), which differs from the note key id in the file.
 */
public final class ParticipantKey {
    /** MAX_KEY_FILE_BYTES bounds a key file read. */
    public static final int MAX_KEY_FILE_BYTES = 4096;

    private final SignerKey signer;
    private final Sm2.PrivateKey sm2;
    private final String keyId;

    private ParticipantKey(SignerKey signer) {
        this(signer, signer.sm2());
    }

    private ParticipantKey(SignerKey signer, Sm2.PrivateKey sm2) {
        if (signer.keyType() != NoteKeys.KeyType.ED25519 && signer.keyType() != NoteKeys.KeyType.SM2) {
            throw new IllegalArgumentException("a participant key is an Ed25519 (type 0x01) or SM2 note key, not a "
                    + "witness key");
        }
        if (Codec.utf8(signer.name()).length + 9 > Envelope.MAX_KEY_ID_BYTES
                || !signer.name().chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) {
            throw new IllegalArgumentException("participant id " + signer.name()
                    + " cannot be carried in an envelope key id (printable ASCII, at most 119 bytes)");
        }
        this.signer = signer;
        this.sm2 = sm2;
        this.keyId = keyIdOf(signer.name(), material());
    }

    /**
     * fromPem reads an SM2 participant key from a PKCS#8 {@code PRIVATE KEY}
     * PEM (OpenSSL's {@code genpkey -algorithm SM2}, BouncyCastle, a
     * 密码机 vendor's export, or {@code regledger-node keygen --alg sm2 --pem}).
     *
     * @param statedId the signer ID registered with the key, or null for the default 1234567812345678
     */
    public static ParticipantKey fromPem(String participantId, String pem, String statedId) {
        Sm2.PrivateKey k = Sm2.privateKeyFromPem(pem, statedId);
        return new ParticipantKey(SignerKey.of(participantId, NoteKeys.KeyType.SM2, k.toBytes()), k);
    }

    /** withStatedId is this SM2 key signing under a stated signer ID (registered as part of its material). */
    public ParticipantKey withStatedId(String statedId) {
        if (sm2 == null) {
            throw new IllegalArgumentException("only an SM2 key has a signer ID");
        }
        return new ParticipantKey(signer, Sm2.privateKey(sm2.toBytes(), statedId));
    }

    /** alg is the envelope signature tag: {@link Envelope#ALG_ED25519} or {@link Envelope#ALG_SM2}. */
    public int alg() {
        return sm2 == null ? Envelope.ALG_ED25519 : Envelope.ALG_SM2;
    }

    /** material is the key as a registry payload lists it (decoded): the Ed25519 key, or SM2 point ‖ [ID]. */
    public byte[] material() {
        return sm2 == null ? signer.publicKey() : sm2.publicKey().material();
    }

    /** sign signs a message (a PAE): Ed25519, or SM2 under the key's signer ID. */
    public byte[] sign(byte[] msg) {
        return sm2 == null ? signer.sign(msg) : sm2.sign(msg);
    }

    /** keyIdOf computes the envelope key id of a participant's public key material. */
    public static String keyIdOf(String participantId, byte[] publicKey) {
        return participantId + "/" + Codec.hex(java.util.Arrays.copyOf(Codec.sha256(publicKey), 4));
    }

    /** parse reads a key file's text. */
    public static ParticipantKey parse(String skey) {
        return new ParticipantKey(SignerKey.parse(skey));
    }

    /**
     * load reads a key file: a regular file (not a device or FIFO), at most
     * {@link #MAX_KEY_FILE_BYTES} bytes.
     */
    public static ParticipantKey load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + " is not a regular file");
        }
        byte[] b;
        try (InputStream in = Files.newInputStream(file)) {
            b = in.readNBytes(MAX_KEY_FILE_BYTES + 1);
        }
        if (b.length > MAX_KEY_FILE_BYTES) {
            throw new IOException(file + " is larger than a key file");
        }
        try {
            return parse(new String(b, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** of wraps a signer key. */
    public static ParticipantKey of(SignerKey signer) {
        return new ParticipantKey(signer);
    }

    /** generateSm2 makes a new random SM2 key (default signer ID) for a participant id. */
    public static ParticipantKey generateSm2(String participantId) {
        return new ParticipantKey(SignerKey.generate(participantId, NoteKeys.KeyType.SM2));
    }

    /** generate makes a new random Ed25519 key for a participant id. */
    public static ParticipantKey generate(String participantId) {
        return new ParticipantKey(SignerKey.generate(participantId, NoteKeys.TYPE_ED25519));
    }

    /** participantId is the key's name. */
    public String participantId() {
        return signer.name();
    }

    /** keyId is the envelope key id. */
    public String keyId() {
        return keyId;
    }

    /** publicKeyBase64 is the public key material as a participant-registered entry lists it. */
    public String publicKeyBase64() {
        return Codec.b64(material());
    }

    /** signer is the underlying note key. */
    public SignerKey signer() {
        return signer;
    }

    @Override
    public String toString() {
        return "ParticipantKey(" + keyId + ")";
    }
}
