package dev.regledger.client;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The signed entry envelope (schemas/FORMATS.md, "Envelope"): a payload
 * type, the exact payload bytes, and Ed25519 or SM2 signatures over the DSSE PAE
 * {@code "DSSEv1" SP len(type) SP type SP len(payload) SP payload}.
 * The payload bytes are signed, sent, stored and hashed as they are;
 * nothing here re-encodes them.
 */
public final class Envelope {
    /** Limits of the layout. */
    public static final int MAX_PAYLOAD = 60 * 1024, MAX_SIGNATURES = 8, MAX_TYPE_BYTES = 128,
            MAX_KEY_ID_BYTES = 128;

    /** Payload types are {@code application/vnd.regledger.<kind>+json}. */
    public static final String TYPE_PREFIX = "application/vnd.regledger.", TYPE_SUFFIX = "+json";

    /** ALG_ED25519 and ALG_SM2 are the signature algorithm tags of the binary form. */
    public static final int ALG_ED25519 = 1, ALG_SM2 = 2;

    /** algName is the API form's {@code alg} of a tag. */
    static String algName(int alg) {
        return alg == ALG_SM2 ? "sm2" : "ed25519";
    }

    /** Signature is one signature: key id, algorithm tag and 64 signature bytes. */
    public static final class Signature {
        private final String keyId;
        private final int alg;
        private final byte[] sig;

        /** Signature from its parts (Ed25519). */
        public Signature(String keyId, byte[] sig) {
            this(keyId, ALG_ED25519, sig);
        }

        /** Signature from its parts, with its algorithm tag ({@link #ALG_ED25519} or {@link #ALG_SM2}). */
        public Signature(String keyId, int alg, byte[] sig) {
            if (alg != ALG_ED25519 && alg != ALG_SM2) {
                throw malformed("unknown signature algorithm " + alg);
            }
            this.keyId = keyId;
            this.alg = alg;
            this.sig = sig.clone();
        }

        /** alg is the algorithm tag the signature declares. */
        public int alg() {
            return alg;
        }

        /** keyId names the signing key ({@code <participant id>/<8 hex>}). */
        public String keyId() {
            return keyId;
        }

        /** sig is the signature over the PAE (Ed25519, or SM2 {@code r ‖ s}). */
        public byte[] sig() {
            return sig.clone();
        }
    }

    private final String payloadType;
    private final byte[] payload;
    private final List<Signature> signatures;

    private Envelope(String payloadType, byte[] payload, List<Signature> signatures) {
        this.payloadType = payloadType;
        this.payload = payload;
        this.signatures = Collections.unmodifiableList(new ArrayList<>(signatures));
        check();
    }

    private static VerificationException malformed(String why) {
        return new VerificationException("envelope", "malformed envelope: " + why);
    }

    private static boolean validText(String s, int max) {
        if (s.isEmpty() || s.length() > max) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    private void check() {
        if (!validText(payloadType, MAX_TYPE_BYTES)) {
            throw malformed("payload type must be 1..128 printable ASCII bytes");
        }
        if (payload.length > MAX_PAYLOAD) {
            throw malformed("payload larger than 60 KiB");
        }
        if (signatures.isEmpty() || signatures.size() > MAX_SIGNATURES) {
            throw malformed("an envelope carries 1 to 8 signatures");
        }
        for (Signature s : signatures) {
            if (!validText(s.keyId, MAX_KEY_ID_BYTES)) {
                throw malformed("key id must be 1..128 printable ASCII bytes");
            }
            if (s.sig.length != Ed25519.SIG_LEN) {
                throw malformed("a signature is 64 bytes (Ed25519, or SM2 r ‖ s)");
            }
        }
    }

    /** payloadTypeFor returns the payload type of an entry kind. */
    public static String payloadTypeFor(String kind) {
        return TYPE_PREFIX + kind + TYPE_SUFFIX;
    }

    /** pae is the DSSE pre-authentication encoding: exactly what every signature signs. */
    public static byte[] pae(String payloadType, byte[] payload) {
        byte[] head = ("DSSEv1 " + payloadType.length() + " " + payloadType + " " + payload.length + " ")
                .getBytes(StandardCharsets.US_ASCII);
        return Codec.concat(head, payload);
    }

    /**
     * sign makes an envelope of {@code kind} signed by one participant key.
     *
     * @throws IllegalArgumentException if the payload breaks a limit
     */
    public static Envelope sign(String kind, Payload payload, ParticipantKey key) {
        if (!kind.matches("[a-z][a-z0-9-]{0,95}")) {
            throw new IllegalArgumentException("entry kind must be a kebab-case name such as product-registered: " + kind);
        }
        String type = payloadTypeFor(kind);
        byte[] p = payload.bytes();
        return new Envelope(type, p, List.of(new Signature(key.keyId(), key.alg(), key.sign(pae(type, p)))));
    }

    /**
     * cosign returns this envelope with one more signature over the same
     * content (every signature must come from a distinct key).
     */
    public Envelope cosign(ParticipantKey key) {
        for (Signature s : signatures) {
            if (s.keyId.equals(key.keyId())) {
                throw new IllegalArgumentException("key " + key.keyId() + " already signed this envelope");
            }
        }
        List<Signature> l = new ArrayList<>(signatures);
        l.add(new Signature(key.keyId(), key.alg(), key.sign(pae(payloadType, payload))));
        return new Envelope(payloadType, payload, l);
    }

    /** payloadType is the payload type. */
    public String payloadType() {
        return payloadType;
    }

    /** kind is the entry kind the payload type names, or null if it is not a regledger type. */
    public String kind() {
        if (payloadType.startsWith(TYPE_PREFIX) && payloadType.endsWith(TYPE_SUFFIX)
                && payloadType.length() > TYPE_PREFIX.length() + TYPE_SUFFIX.length()) {
            return payloadType.substring(TYPE_PREFIX.length(), payloadType.length() - TYPE_SUFFIX.length());
        }
        return null;
    }

    /** payload is a copy of the exact signed payload bytes. */
    public byte[] payload() {
        return payload.clone();
    }

    /** signatures are the signatures in order. */
    public List<Signature> signatures() {
        return signatures;
    }

    /**
     * contentId is SHA-256 of the PAE: the signed content (payload type and
     * payload bytes), whatever the signatures. It is the node's replay
     * identity (docs/decisions.md D12).
     */
    public byte[] contentId() {
        return Codec.sha256(pae(payloadType, payload));
    }

    /** sameSignedContent says both envelopes sign the same payload type and bytes. */
    public boolean sameSignedContent(Envelope o) {
        return payloadType.equals(o.payloadType) && Arrays.equals(payload, o.payload);
    }

    /**
     * verifySignature says the key {@code keyId} signed this content with
     * the key {@code material} (as a registry payload carries it: 32 bytes
     * Ed25519, strict; 65 or more the SM2 point and an optional stated
     * signer ID). An envelope with two signatures under that key id is
     * refused, not judged on the first.
     */
    public boolean verifySignature(String keyId, byte[] material) {
        return signatureProblem(keyId, material) == null;
    }

    /**
     * signatureProblem is why {@link #verifySignature} is false (null when
     * it is true): a signature whose algorithm tag is not its key's (an SM2
     * signature on an Ed25519 key, or the reverse) is refused as such,
     * before any curve arithmetic.
     */
    public String signatureProblem(String keyId, byte[] material) {
        Signature found = null;
        for (Signature s : signatures) {
            if (s.keyId.equals(keyId)) {
                if (found != null) {
                    return "key " + keyId + " signs twice";
                }
                found = s;
            }
        }
        if (found == null) {
            return "no signature by key " + keyId;
        }
        int keyAlg = material.length == Ed25519.PUBLIC_LEN ? ALG_ED25519 : ALG_SM2;
        if (found.alg != keyAlg) {
            return "an " + algName(found.alg) + " signature on the " + algName(keyAlg) + " key " + keyId;
        }
        byte[] msg = pae(payloadType, payload);
        if (keyAlg == ALG_ED25519) {
            return Ed25519.verify(material, msg, found.sig) ? null : "signature by key " + keyId + " does not verify";
        }
        Sm2.PublicKey k;
        try {
            k = Sm2.fromMaterial(material);
        } catch (IllegalArgumentException e) {
            return "key " + keyId + " is not a valid SM2 key: " + e.getMessage();
        }
        return k.verify(msg, found.sig) ? null
                : "SM2 signature by key " + keyId + " does not verify (signer ID " + k.id() + ")";
    }

    /** toBinary is the binary layout a leaf carries. */
    public byte[] toBinary() {
        ByteArrayOutputStream b = new ByteArrayOutputStream(payload.length + 128);
        b.write(1);
        byte[] t = payloadType.getBytes(StandardCharsets.US_ASCII);
        b.write(t.length >>> 8);
        b.write(t.length);
        b.writeBytes(t);
        b.write(payload.length >>> 24);
        b.write(payload.length >>> 16);
        b.write(payload.length >>> 8);
        b.write(payload.length);
        b.writeBytes(payload);
        b.write(signatures.size());
        for (Signature s : signatures) {
            byte[] k = s.keyId.getBytes(StandardCharsets.US_ASCII);
            b.write(s.alg);
            b.write(k.length);
            b.writeBytes(k);
            b.write(s.sig.length >>> 8);
            b.write(s.sig.length);
            b.writeBytes(s.sig);
        }
        return b.toByteArray();
    }

    /**
     * fromBinary parses the binary layout strictly: every limit, no trailing bytes.
     *
     * @throws VerificationException (part {@code envelope}) otherwise
     */
    public static Envelope fromBinary(byte[] b) {
        int[] at = {0};
        if (u8(b, at) != 1) {
            throw malformed("unknown envelope version");
        }
        int tl = (u8(b, at) << 8) | u8(b, at);
        String type = ascii(take(b, at, tl), "payload type");
        long pl = ((long) u8(b, at) << 24) | (u8(b, at) << 16) | (u8(b, at) << 8) | u8(b, at);
        if (pl > MAX_PAYLOAD) {
            throw malformed("payload larger than 60 KiB");
        }
        byte[] payload = take(b, at, (int) pl);
        int n = u8(b, at);
        List<Signature> sigs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int alg = u8(b, at);
            if (alg != ALG_ED25519 && alg != ALG_SM2) {
                throw malformed("unknown signature algorithm " + alg);
            }
            String keyId = ascii(take(b, at, u8(b, at)), "key id");
            int sl = (u8(b, at) << 8) | u8(b, at);
            sigs.add(new Signature(keyId, alg, take(b, at, sl)));
        }
        if (at[0] != b.length) {
            throw malformed("trailing bytes");
        }
        return new Envelope(type, payload, sigs);
    }

    private static int u8(byte[] b, int[] at) {
        if (at[0] >= b.length) {
            throw malformed("truncated");
        }
        return b[at[0]++] & 0xff;
    }

    private static byte[] take(byte[] b, int[] at, int n) {
        if (n < 0 || b.length - at[0] < n) {
            throw malformed("truncated");
        }
        byte[] out = Arrays.copyOfRange(b, at[0], at[0] + n);
        at[0] += n;
        return out;
    }

    private static String ascii(byte[] b, String what) {
        for (byte x : b) {
            if (x < 0x21 || x > 0x7e) {
                throw malformed(what + " must be printable ASCII");
            }
        }
        return new String(b, StandardCharsets.US_ASCII);
    }

    /** toJson is the API form: {@code {"payloadType", "payload" (base64), "signatures": [{"keyid","sig","alg"}]}}. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("payloadType", payloadType);
        m.put("payload", Codec.b64(payload));
        List<Object> sigs = new ArrayList<>();
        for (Signature s : signatures) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("keyid", s.keyId);
            o.put("sig", Codec.b64(s.sig));
            o.put("alg", algName(s.alg));
            sigs.add(o);
        }
        m.put("signatures", sigs);
        return m;
    }

    /**
     * fromJson parses the API form strictly (no unknown fields; {@code alg}
     * optional, {@code "ed25519"} (the default) or {@code "sm2"}).
     *
     * @throws VerificationException (part {@code envelope}) otherwise
     */
    public static Envelope fromJson(Object json) {
        try {
            Map<String, Object> o = Json.object(json, "envelope");
            Json.onlyKeys(o, "envelope", "payloadType", "payload", "signatures");
            String p = Json.string(o, "payload");
            if (p.length() > MAX_PAYLOAD * 4 / 3 + 4) {
                throw malformed("payload larger than 60 KiB");
            }
            List<Object> l = Json.array(o.get("signatures"), "signatures");
            if (l.size() > MAX_SIGNATURES) {
                throw malformed("an envelope carries 1 to 8 signatures");
            }
            List<Signature> sigs = new ArrayList<>();
            for (Object x : l) {
                Map<String, Object> so = Json.object(x, "signature");
                Json.onlyKeys(so, "signature", "keyid", "sig", "alg");
                int alg = ALG_ED25519;
                if (so.containsKey("alg")) {
                    Object a = so.get("alg");
                    if ("sm2".equals(a)) {
                        alg = ALG_SM2;
                    } else if (!"ed25519".equals(a)) {
                        throw malformed("unsupported signature algorithm");
                    }
                }
                sigs.add(new Signature(Json.string(so, "keyid"), alg, Codec.unb64(Json.string(so, "sig"))));
            }
            return new Envelope(Json.string(o, "payloadType"), Codec.unb64(p), sigs);
        } catch (VerificationException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw malformed(e.getMessage());
        }
    }
}
