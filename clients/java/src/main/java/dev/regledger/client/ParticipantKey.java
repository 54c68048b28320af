package dev.regledger.client;

import dev.regledger.client.NoteKeys.SignerKey;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A participant's signing key: a C2SP signer key (type 0x01 Ed25519)
 * whose key name is the participant id, as {@code regledger-node keygen}
 * writes it. Its envelope key id is
 * {@code <participant id>/<first 8 hex digits of SHA-256(public key)>},
 * which differs from the note key id in the file.
 */
public final class ParticipantKey {
    /** MAX_KEY_FILE_BYTES bounds a key file read. */
    public static final int MAX_KEY_FILE_BYTES = 4096;

    private final SignerKey signer;
    private final String keyId;

    private ParticipantKey(SignerKey signer) {
        if (signer.type() != NoteKeys.TYPE_ED25519) {
            throw new IllegalArgumentException("a participant key is an Ed25519 (type 0x01) key");
        }
        if (Codec.utf8(signer.name()).length + 9 > Envelope.MAX_KEY_ID_BYTES
                || !signer.name().chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) {
            throw new IllegalArgumentException("participant id " + signer.name()
                    + " cannot be carried in an envelope key id (printable ASCII, at most 119 bytes)");
        }
        this.signer = signer;
        this.keyId = keyIdOf(signer.name(), signer.publicKey());
    }

    /** keyIdOf computes the envelope key id of a participant's public key. */
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

    /** generate makes a new random key for a participant id. */
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

    /** publicKeyBase64 is the public key as a participant-registered entry lists it. */
    public String publicKeyBase64() {
        return Codec.b64(signer.publicKey());
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
