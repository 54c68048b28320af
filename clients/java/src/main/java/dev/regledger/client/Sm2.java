package dev.regledger.client;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.gm.GMNamedCurves;
import org.bouncycastle.asn1.gm.GMObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.crypto.CryptoException;
import org.bouncycastle.crypto.digests.SM3Digest;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.ParametersWithID;
import org.bouncycastle.crypto.params.ParametersWithRandom;
import org.bouncycastle.crypto.signers.PlainDSAEncoding;
import org.bouncycastle.crypto.signers.SM2Signer;
import org.bouncycastle.math.ec.ECPoint;

/**
 * SM2 signatures (GB/T 32918.2-2016, GM/T 0003.2) on the curve of GB/T
 * 32918.5-2017 with SM3, as schemas/FORMATS.md "SM2" writes them: public
 * keys are the 65-byte uncompressed SEC1 point {@code 0x04 ‖ x ‖ y},
 * signatures 64 bytes {@code r ‖ s} big-endian, and the signer ID enters
 * {@code Z} (default {@code 1234567812345678}, GM/T 0009-2012 §10).
 *
 * <p>The signing and verifying equations are BouncyCastle's {@link SM2Signer}
 * (an implementation independent of the node's RustCrypto curve and its own
 * equations); {@link #z} writes Z out from the standard so that the
 * GB/T 32918.5 Annex A example can be checked step by step.
 */
public final class Sm2 {
    private Sm2() {}

    /** DEFAULT_ID is the signer ID of GM/T 0009-2012 §10. */
    public static final String DEFAULT_ID = "1234567812345678";

    /** POINT_LEN, SIG_LEN and SECRET_LEN are the encodings' sizes. */
    public static final int POINT_LEN = 65, SIG_LEN = 64, SECRET_LEN = 32;

    /** MAX_ID_BYTES bounds a stated signer ID. */
    public static final int MAX_ID_BYTES = 64;

    private static final X9ECParameters X9 = GMNamedCurves.getByName("sm2p256v1");

    /** DOMAIN is the SM2 curve of GB/T 32918.5 (not the test curve of GB/T 32918.2's examples). */
    public static final ECDomainParameters DOMAIN =
            new ECDomainParameters(X9.getCurve(), X9.getG(), X9.getN(), X9.getH());

    /** PublicKey is a checked SM2 public key with its signer ID. */
    public static final class PublicKey {
        private final byte[] point;
        private final String statedId;
        private final ECPoint q;

        private PublicKey(byte[] point, String statedId, ECPoint q) {
            this.point = point;
            this.statedId = statedId;
            this.q = q;
        }

        /** point is the 65-byte uncompressed point. */
        public byte[] point() {
            return point.clone();
        }

        /** id is the signer ID: the stated one, or {@link #DEFAULT_ID}. */
        public String id() {
            return statedId == null ? DEFAULT_ID : statedId;
        }

        /** statedId is the stated signer ID, or null for the default. */
        public String statedId() {
            return statedId;
        }

        /** material is {@code point ‖ [stated ID]}, as registry payloads carry it (base64). */
        public byte[] material() {
            return statedId == null ? point.clone()
                    : Codec.concat(point, statedId.getBytes(StandardCharsets.US_ASCII));
        }

        /** verify checks a 64-byte {@code r ‖ s} signature of {@code msg} under this key's ID. */
        public boolean verify(byte[] msg, byte[] sig) {
            return Sm2.verify(this, id(), msg, sig);
        }
    }

    /**
     * checkId checks a stated signer ID: 1..64 printable ASCII bytes, and not
     * the default written out (so that each key has one encoding).
     *
     * @throws IllegalArgumentException otherwise
     */
    public static void checkId(String id) {
        if (id.isEmpty() || id.length() > MAX_ID_BYTES || !id.chars().allMatch(c -> c >= 0x20 && c <= 0x7e)) {
            throw new IllegalArgumentException("an SM2 signer ID is 1..64 printable ASCII bytes");
        }
        if (id.equals(DEFAULT_ID)) {
            throw new IllegalArgumentException("the default SM2 signer ID is never written out");
        }
    }

    /**
     * publicKey reads the 65-byte uncompressed point, refusing compressed and
     * hybrid forms, the point at infinity, coordinates not below p and points
     * off the curve.
     *
     * @param statedId the stated signer ID, or null for the default
     * @throws IllegalArgumentException naming what is wrong
     */
    public static PublicKey publicKey(byte[] point, String statedId) {
        if (point == null || point.length != POINT_LEN) {
            throw new IllegalArgumentException("an SM2 public key is the 65-byte uncompressed point");
        }
        if (point[0] != 0x04) {
            throw new IllegalArgumentException("an SM2 public key must be uncompressed (0x04 ‖ x ‖ y)");
        }
        if (statedId != null) {
            checkId(statedId);
        }
        ECPoint q;
        try {
            q = DOMAIN.getCurve().decodePoint(point);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a point of the SM2 curve: " + e.getMessage());
        }
        if (q.isInfinity() || !q.isValid()) {
            throw new IllegalArgumentException("not a point of the SM2 curve");
        }
        return new PublicKey(point.clone(), statedId, q.normalize());
    }

    /**
     * fromMaterial reads {@code point ‖ [stated ID]} (a registry payload's
     * decoded {@code public_keys} item of 65 bytes or more).
     */
    public static PublicKey fromMaterial(byte[] material) {
        if (material.length < POINT_LEN) {
            throw new IllegalArgumentException("an SM2 key is the 65-byte point, then an optional signer ID");
        }
        String id = null;
        if (material.length > POINT_LEN) {
            byte[] b = Arrays.copyOfRange(material, POINT_LEN, material.length);
            for (byte x : b) {
                if (x < 0x20 || x > 0x7e) {
                    throw new IllegalArgumentException("an SM2 signer ID is printable ASCII");
                }
            }
            id = new String(b, StandardCharsets.US_ASCII);
        }
        return publicKey(Arrays.copyOf(material, POINT_LEN), id);
    }

    /** PrivateKey is an SM2 private scalar d in [1, n−2]. Its toString never shows d. */
    public static final class PrivateKey {
        private final BigInteger d;
        private final PublicKey publicKey;

        private PrivateKey(BigInteger d, String statedId) {
            this.d = d;
            ECPoint q = DOMAIN.getG().multiply(d).normalize();
            this.publicKey = Sm2.publicKey(q.getEncoded(false), statedId);
        }

        /** publicKey is the matching public key. */
        public PublicKey publicKey() {
            return publicKey;
        }

        /** toBytes is d as 32 bytes big-endian (secret). */
        public byte[] toBytes() {
            return fixed(d);
        }

        /** sign signs {@code msg} under the key's signer ID: 64 bytes {@code r ‖ s}. */
        public byte[] sign(byte[] msg) {
            return Sm2.sign(this, publicKey.id(), msg, new SecureRandom());
        }

        @Override
        public String toString() {
            return "Sm2.PrivateKey(" + Codec.hex(publicKey.point).substring(0, 18) + "…)";
        }
    }

    /**
     * privateKey reads d (32 bytes big-endian), which must be in [1, n−2]
     * (GB/T 32918.1 §6.1: 1 + d must be invertible mod n).
     *
     * @param statedId the stated signer ID, or null for the default
     */
    public static PrivateKey privateKey(byte[] d, String statedId) {
        if (d.length != SECRET_LEN) {
            throw new IllegalArgumentException("an SM2 private key is 32 bytes");
        }
        BigInteger x = new BigInteger(1, d);
        if (x.signum() == 0 || x.compareTo(DOMAIN.getN().subtract(BigInteger.ONE)) >= 0) {
            throw new IllegalArgumentException("an SM2 private key must be in [1, n-2]");
        }
        return new PrivateKey(x, statedId);
    }

    /** generate makes a new random key (default signer ID). */
    public static PrivateKey generate() {
        SecureRandom r = new SecureRandom();
        while (true) {
            byte[] d = new byte[SECRET_LEN];
            r.nextBytes(d);
            try {
                return privateKey(d, null);
            } catch (IllegalArgumentException e) {
                // out of range: draw again
            }
        }
    }

    static byte[] fixed(BigInteger v) {
        byte[] b = v.toByteArray();
        byte[] out = new byte[32];
        int n = Math.min(b.length, 32);
        System.arraycopy(b, b.length - n, out, 32 - n, n);
        return out;
    }

    /**
     * z is {@code Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)} (GB/T 32918.2
     * §5.5), ENTL the ID's length in bits as 2 bytes big-endian.
     */
    public static byte[] z(String id, byte[] point) {
        byte[] idb = id.getBytes(StandardCharsets.US_ASCII);
        int entl = idb.length * 8;
        byte[] g = DOMAIN.getG().getEncoded(false);
        return HashSuite.SM3.hash(new byte[] {(byte) (entl >>> 8), (byte) entl}, idb,
                fixed(DOMAIN.getCurve().getA().toBigInteger()), fixed(DOMAIN.getCurve().getB().toBigInteger()),
                Arrays.copyOfRange(g, 1, 65), Arrays.copyOfRange(point, 1, 65));
    }

    /** e is {@code SM3(Z ‖ M)}, the digest the equations sign. */
    public static byte[] e(String id, byte[] point, byte[] msg) {
        return HashSuite.SM3.hash(z(id, point), msg);
    }

    private static SM2Signer signer() {
        return new SM2Signer(PlainDSAEncoding.INSTANCE, new SM3Digest());
    }

    /**
     * verify checks a 64-byte {@code r ‖ s} signature under {@code id}:
     * r and s in [1, n−1], {@code r + s ≢ 0 (mod n)}, and the verifying
     * equation of GB/T 32918.2 §7.
     */
    public static boolean verify(PublicKey key, String id, byte[] msg, byte[] sig) {
        if (key == null || sig == null || sig.length != SIG_LEN) {
            return false;
        }
        BigInteger n = DOMAIN.getN();
        BigInteger r = new BigInteger(1, Arrays.copyOfRange(sig, 0, 32));
        BigInteger s = new BigInteger(1, Arrays.copyOfRange(sig, 32, 64));
        if (r.signum() == 0 || s.signum() == 0 || r.compareTo(n) >= 0 || s.compareTo(n) >= 0
                || r.add(s).mod(n).signum() == 0) {
            return false;
        }
        SM2Signer v = signer();
        v.init(false, new ParametersWithID(new ECPublicKeyParameters(key.q, DOMAIN),
                id.getBytes(StandardCharsets.US_ASCII)));
        v.update(msg, 0, msg.length);
        return v.verifySignature(sig);
    }

    /**
     * sign signs under {@code id} with a nonce from {@code random} (a test
     * passes a fixed k to reproduce the standard's example).
     */
    public static byte[] sign(PrivateKey key, String id, byte[] msg, SecureRandom random) {
        SM2Signer s = signer();
        s.init(true, new ParametersWithID(new ParametersWithRandom(new ECPrivateKeyParameters(key.d, DOMAIN), random),
                id.getBytes(StandardCharsets.US_ASCII)));
        s.update(msg, 0, msg.length);
        try {
            return s.generateSignature();
        } catch (CryptoException e) {
            throw new IllegalStateException("SM2 signing failed", e);
        }
    }

    // --- PEM (PKCS#8 / SubjectPublicKeyInfo), as OpenSSL, BouncyCastle and the node's `keygen --pem` write them.

    private static final ASN1ObjectIdentifier SM2_CURVE = GMObjectIdentifiers.sm2p256v1;

    static byte[] pemBody(String pem, String label) {
        String begin = "-----BEGIN " + label + "-----", end = "-----END " + label + "-----";
        String t = pem.trim();
        if (!t.startsWith(begin) || !t.endsWith(end)) {
            throw new IllegalArgumentException("not a PEM " + label);
        }
        String b = t.substring(begin.length(), t.length() - end.length()).replaceAll("[\\r\\n]", "");
        try {
            return Base64.getDecoder().decode(b);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("PEM " + label + " is not base64");
        }
    }

    static void checkSm2Algorithm(AlgorithmIdentifier alg) {
        // id-ecPublicKey with the SM2 curve (RFC 5480 form, what OpenSSL 3 and RustCrypto write),
        // or the SM2 OID itself as algorithm (what some 国密 tools write).
        boolean ec = X9ObjectIdentifiers.id_ecPublicKey.equals(alg.getAlgorithm())
                && alg.getParameters() != null && SM2_CURVE.equals(alg.getParameters().toASN1Primitive());
        boolean sm2 = SM2_CURVE.equals(alg.getAlgorithm());
        if (!ec && !sm2) {
            throw new IllegalArgumentException("not an SM2 key (algorithm " + alg.getAlgorithm()
                    + ", want id-ecPublicKey with curve sm2p256v1 " + SM2_CURVE + ")");
        }
    }

    /**
     * publicKeyFromPem reads a {@code PUBLIC KEY} (SubjectPublicKeyInfo) PEM of
     * an SM2 key.
     *
     * @param statedId the stated signer ID, or null for the default (PEM carries no ID)
     */
    public static PublicKey publicKeyFromPem(String pem, String statedId) {
        SubjectPublicKeyInfo spki;
        try {
            spki = SubjectPublicKeyInfo.getInstance(ASN1Primitive.fromByteArray(pemBody(pem, "PUBLIC KEY")));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("malformed SubjectPublicKeyInfo: " + e.getMessage());
        }
        checkSm2Algorithm(spki.getAlgorithm());
        return publicKey(spki.getPublicKeyData().getOctets(), statedId);
    }

    /** publicKeyToPem writes the point as a {@code PUBLIC KEY} PEM (id-ecPublicKey, curve sm2p256v1). */
    public static String publicKeyToPem(PublicKey k) {
        try {
            SubjectPublicKeyInfo spki = new SubjectPublicKeyInfo(
                    new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, SM2_CURVE), k.point);
            return "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                    .encodeToString(spki.getEncoded()) + "\n-----END PUBLIC KEY-----\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * privateKeyFromPem reads a {@code PRIVATE KEY} (PKCS#8) PEM of an SM2 key.
     *
     * @param statedId the stated signer ID, or null for the default
     */
    public static PrivateKey privateKeyFromPem(String pem, String statedId) {
        PrivateKeyInfo info;
        org.bouncycastle.asn1.sec.ECPrivateKey ec;
        try {
            info = PrivateKeyInfo.getInstance(ASN1Primitive.fromByteArray(pemBody(pem, "PRIVATE KEY")));
            checkSm2Algorithm(info.getPrivateKeyAlgorithm());
            ec = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey());
        } catch (IOException | IllegalStateException | ClassCastException e) {
            throw new IllegalArgumentException("malformed PKCS#8 SM2 key: " + e.getMessage());
        }
        if (ec.getKey().bitLength() > 256) {
            throw new IllegalArgumentException("an SM2 private key must be in [1, n-2]");
        }
        PrivateKey k = privateKey(fixed(ec.getKey()), statedId);
        if (ec.getPublicKey() != null
                && !Arrays.equals(ec.getPublicKey().getOctets(), k.publicKey().point)) {
            throw new IllegalArgumentException("the PKCS#8 key's public key is not its private key's");
        }
        return k;
    }
}
