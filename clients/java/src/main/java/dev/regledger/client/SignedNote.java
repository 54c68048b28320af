package dev.regledger.client;

import dev.regledger.client.NoteKeys.SignerKey;
import dev.regledger.client.NoteKeys.VerifierKey;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A C2SP signed note (c2sp.org/signed-note): UTF-8 text ending in a
 * newline, a blank line, then one or more signature lines
 * {@code "— <name> <base64(4-byte key id ‖ signature)>\n"}. The text is
 * everything up to and including the newline before the last blank line.
 */
public final class SignedNote {
    /** MAX_NOTE_BYTES bounds a note; MAX_SIGNATURES bounds its signature lines. */
    public static final int MAX_NOTE_BYTES = 1 << 20, MAX_SIGNATURES = 100;

    private static final String DASH = "\u2014 ";

    /** Signature is one signature line. */
    public static final class Signature {
        private final String name;
        private final int keyId;
        private final byte[] sig;

        /** Signature from its parts. */
        public Signature(String name, int keyId, byte[] sig) {
            this.name = name;
            this.keyId = keyId;
            this.sig = sig.clone();
        }

        /** name is the signer's key name. */
        public String name() {
            return name;
        }

        /** keyId is the signer's key id. */
        public int keyId() {
            return keyId;
        }

        /** sig is the signature bytes after the key id. */
        public byte[] sig() {
            return sig.clone();
        }

        /** line formats the signature line, newline included. */
        public String line() {
            byte[] raw = Codec.concat(new byte[] {(byte) (keyId >>> 24), (byte) (keyId >>> 16),
                    (byte) (keyId >>> 8), (byte) keyId}, sig);
            return DASH + name + " " + Codec.b64(raw) + "\n";
        }

        boolean sameKey(String n, int id) {
            return name.equals(n) && keyId == id;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Signature && ((Signature) o).sameKey(name, keyId)
                    && Arrays.equals(((Signature) o).sig, sig);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + keyId;
        }
    }

    /** NoteException says why a note was refused; {@link #kind()} classifies it. */
    public static final class NoteException extends VerificationException {
        private static final long serialVersionUID = 1L;

        /** Kind of note failure. */
        public enum Kind {
            /** MALFORMED: the bytes break the grammar. */
            MALFORMED,
            /** INVALID_SIGNATURE: a known key's signature does not verify. */
            INVALID_SIGNATURE,
            /** NO_VERIFIED_SIGNATURE: no signature by a known key. */
            NO_VERIFIED_SIGNATURE
        }

        private final Kind kind;

        NoteException(Kind kind, String reason) {
            super("note", reason);
            this.kind = kind;
        }

        /** kind classifies the failure. */
        public Kind kind() {
            return kind;
        }
    }

    private static NoteException malformed(String why) {
        return new NoteException(NoteException.Kind.MALFORMED, "malformed note: " + why);
    }

    private final String text;
    private final List<Signature> signatures;

    private SignedNote(String text, List<Signature> signatures) {
        this.text = text;
        this.signatures = Collections.unmodifiableList(signatures);
    }

    /** text is the signed text, final newline included. */
    public String text() {
        return text;
    }

    /** signatures are the distinct signature lines, in order. */
    public List<Signature> signatures() {
        return signatures;
    }

    /**
     * parse reads a note's grammar without verifying anything.
     *
     * @throws NoteException (MALFORMED) if it breaks the grammar or the bounds
     */
    public static SignedNote parse(byte[] msg) {
        if (msg.length > MAX_NOTE_BYTES) {
            throw malformed("note too large");
        }
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(msg)).toString();
        } catch (CharacterCodingException e) {
            throw malformed("not UTF-8");
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < ' ' && s.charAt(i) != '\n') {
                throw malformed("control character");
            }
        }
        int split = s.lastIndexOf("\n\n");
        if (split < 0) {
            throw malformed("no blank line before signatures");
        }
        String text = s.substring(0, split + 1);
        String block = s.substring(split + 2);
        if (block.isEmpty() || !block.endsWith("\n")) {
            throw malformed("signature block must end in a newline");
        }
        List<Signature> sigs = new ArrayList<>();
        int lines = 0;
        for (String line : block.substring(0, block.length() - 1).split("\n", -1)) {
            if (!line.startsWith(DASH)) {
                throw malformed("signature line must start with \"— \"");
            }
            String rest = line.substring(DASH.length());
            int sp = rest.indexOf(' ');
            if (sp < 0) {
                throw malformed("signature line has no signature");
            }
            String name = rest.substring(0, sp);
            String b64 = rest.substring(sp + 1);
            if (!NoteKeys.isValidName(name) || b64.isEmpty()) {
                throw malformed("bad signature line");
            }
            byte[] raw;
            try {
                raw = Codec.unb64(b64);
            } catch (IllegalArgumentException e) {
                throw malformed("signature is not base64");
            }
            if (raw.length < 5) {
                throw malformed("signature too short");
            }
            if (++lines > MAX_SIGNATURES) {
                throw malformed("more than 100 signatures");
            }
            int id = ((raw[0] & 0xff) << 24) | ((raw[1] & 0xff) << 16) | ((raw[2] & 0xff) << 8) | (raw[3] & 0xff);
            Signature sig = new Signature(name, id, Arrays.copyOfRange(raw, 4, raw.length));
            if (!sigs.contains(sig)) {
                sigs.add(sig);
            }
        }
        return new SignedNote(text, sigs);
    }

    /** Opened is a note whose signatures by known keys all verified. */
    public static final class Opened {
        private final SignedNote note;
        private final List<Signature> verified;
        private final List<Signature> unverified;

        Opened(SignedNote note, List<Signature> verified, List<Signature> unverified) {
            this.note = note;
            this.verified = Collections.unmodifiableList(verified);
            this.unverified = Collections.unmodifiableList(unverified);
        }

        /** note is the parsed note. */
        public SignedNote note() {
            return note;
        }

        /** verified are the signatures by known keys (one per key). */
        public List<Signature> verified() {
            return verified;
        }

        /** unverified are the signatures by keys not known (ignored, kept for display). */
        public List<Signature> unverified() {
            return unverified;
        }

        /** isVerifiedBy says key k is among the verified signers. */
        public boolean isVerifiedBy(VerifierKey k) {
            return verified.stream().anyMatch(s -> s.sameKey(k.name(), k.keyId()));
        }
    }

    /**
     * open parses a note and verifies it against known keys: a signature by
     * an unknown key (name and id) is kept as unverified; one by a known key
     * that fails refuses the whole note; at least one must verify.
     *
     * @throws NoteException if malformed, a known signature fails, or none verified
     */
    public static Opened open(byte[] msg, List<VerifierKey> known) {
        SignedNote n = parse(msg);
        List<Signature> verified = new ArrayList<>();
        List<Signature> unverified = new ArrayList<>();
        for (Signature s : n.signatures) {
            VerifierKey k = known.stream().filter(x -> s.sameKey(x.name(), x.keyId())).findFirst().orElse(null);
            if (k == null) {
                unverified.add(s);
                continue;
            }
            if (verified.stream().anyMatch(v -> v.sameKey(s.name, s.keyId))) {
                continue;
            }
            if (!k.verifyNoteSignature(n.text, s.sig)) {
                throw new NoteException(NoteException.Kind.INVALID_SIGNATURE,
                        String.format("invalid signature for key %s+%08x", s.name, s.keyId));
            }
            verified.add(s);
        }
        if (verified.isEmpty()) {
            throw new NoteException(NoteException.Kind.NO_VERIFIED_SIGNATURE, "no verifiable signatures");
        }
        return new Opened(n, verified, unverified);
    }

    /** sign signs text (ending in a newline) with log keys (Ed25519 or SM2) and returns the note. */
    public static String sign(String text, List<SignerKey> signers) {
        if (text.isEmpty() || !text.endsWith("\n")) {
            throw new IllegalArgumentException("note text must end in a newline");
        }
        StringBuilder b = new StringBuilder(text).append('\n');
        for (SignerKey k : signers) {
            if (k.keyType().isCosignature()) {
                throw new IllegalArgumentException("a note is signed with log keys; witnesses cosign");
            }
            b.append(new Signature(k.name(), k.keyId(), k.sign(Codec.utf8(text))).line());
        }
        return b.toString();
    }

    /** cosign makes a cosignature/v1 signature line over checkpoint text with a witness key (tests, tools). */
    public static Signature cosign(SignerKey witness, String checkpointText, long timestamp) {
        if (!witness.keyType().isCosignature()) {
            throw new IllegalArgumentException("cosignatures need a witness key (cosignature/v1 or SM2 cosignature)");
        }
        byte[] sig = witness.sign(NoteKeys.cosignatureMessage(checkpointText, timestamp));
        return new Signature(witness.name(), witness.keyId(), Codec.concat(Codec.be64(timestamp), sig));
    }

    /** withSignatures returns the note text with extra signature lines appended. */
    public String withSignatures(List<Signature> extra) {
        StringBuilder b = new StringBuilder(text).append('\n');
        List<Signature> all = new ArrayList<>(signatures);
        for (Signature s : extra) {
            if (!all.contains(s)) {
                all.add(s);
            }
        }
        for (Signature s : all) {
            b.append(s.line());
        }
        return b.toString();
    }
}
