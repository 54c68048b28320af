package dev.regledger.client;

import dev.regledger.client.NoteKeys.SignerKey;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TestLog is an in-memory log built with this library (leaves with the
 * hash chain, signed and cosigned checkpoints, proofs, bundles), for the
 * client and bundle tests. Keys come from fixed seeds: test keys only.
 */
final class TestLog {
    final HashSuite suite;
    final String origin;
    final SignerKey logKey;
    final List<SignerKey> witnesses = new ArrayList<>();
    final int quorum;
    final List<byte[]> leaves = new ArrayList<>();
    final List<byte[]> hashes = new ArrayList<>();

    static final long T0 = 1_740_967_200_000L;

    /** requireSm2 is written to genesis by {@link #setup()} (D19: participant keys must be SM2). */
    boolean requireSm2;

    // An sm3 log's participants hold SM2 keys (as `init --hash sm3` writes them), other logs' Ed25519 keys.
    final ParticipantKey authority;
    final ParticipantKey agency;
    final ParticipantKey operator;
    final ParticipantKey business;
    final ParticipantKey stranger;
    /** edOperator holds an Ed25519 key whatever the suite: what a require_sm2 log must refuse. */
    final ParticipantKey edOperator = party("gx-ed-operator", 6, NoteKeys.KeyType.ED25519);

    static ParticipantKey party(String id, int seed) {
        return party(id, seed, NoteKeys.KeyType.ED25519);
    }

    static ParticipantKey party(String id, int seed, NoteKeys.KeyType type) {
        byte[] s = new byte[32];
        java.util.Arrays.fill(s, (byte) seed);
        return ParticipantKey.of(SignerKey.of(id, type, s));
    }

    TestLog(HashSuite suite, int witnessCount, int quorum) {
        this(suite, witnessCount, quorum,
                suite == HashSuite.SM3 ? NoteKeys.KeyType.SM2 : NoteKeys.KeyType.ED25519);
    }

    /** TestLog with participant keys of type {@code pt} (the log and witness keys follow the suite). */
    TestLog(HashSuite suite, int witnessCount, int quorum, NoteKeys.KeyType pt) {
        this.suite = suite;
        this.origin = "regledger.test/java";
        boolean sm = suite == HashSuite.SM3;
        authority = party("gx-data-bureau", 1, pt);
        agency = party("gx-implementing", 2, pt);
        operator = party("gx-operator", 4, pt);
        business = party("nn-mobility", 5, pt);
        stranger = party("stranger", 77, pt);
        byte[] seed = new byte[32];
        java.util.Arrays.fill(seed, (byte) 42);
        this.logKey = SignerKey.of(origin, sm ? NoteKeys.KeyType.SM2 : NoteKeys.KeyType.ED25519, seed);
        for (int i = 0; i < witnessCount; i++) {
            byte[] ws = new byte[32];
            java.util.Arrays.fill(ws, (byte) (100 + i));
            witnesses.add(SignerKey.of("witness-" + i + ".test",
                    sm ? NoteKeys.KeyType.SM2_COSIGNATURE_V1 : NoteKeys.KeyType.COSIGNATURE_V1, ws));
        }
        this.quorum = quorum;
    }

    String descriptorJson() {
        List<Object> ws = new ArrayList<>();
        for (SignerKey w : witnesses) {
            ws.add(w.verifier().vkey());
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("origin", origin);
        m.put("log_vkey", logKey.verifier().vkey());
        m.put("hash", suite.wireName());
        m.put("witnesses", ws);
        m.put("quorum", quorum);
        m.put("profile", "guangxi");
        return Json.write(m);
    }

    LogDescriptor descriptor() {
        return LogDescriptor.parse(Codec.utf8(descriptorJson()));
    }

    static Map<String, Object> spec(ParticipantKey k, String role) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", k.participantId());
        m.put("name", k.participantId() + " 名称");
        m.put("role", role);
        m.put("public_keys", List.of(k.publicKeyBase64()));
        return m;
    }

    long append(Envelope e) {
        long i = leaves.size();
        byte[] prev = i == 0 ? new byte[32] : hashes.get((int) i - 1);
        byte[] leaf = Leaf.build(i, T0 + i, prev, e);
        leaves.add(leaf);
        hashes.add(suite.leafHash(leaf));
        return i;
    }

    long append(String kind, Map<String, Object> payload, ParticipantKey k) {
        return append(Envelope.sign(kind, Payload.of(payload), k));
    }

    /** setup writes genesis and registers the agency, operator and business entity (entries 0..3). */
    TestLog setup() {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("origin", origin);
        g.put("hash", suite.wireName());
        g.put("profile", "guangxi");
        g.put("authority", spec(authority, "data-authority"));
        if (requireSm2) {
            g.put("require_sm2", true);
        }
        append("genesis", g, authority);
        append("participant-registered", spec(agency, "implementing-agency"), authority);
        append("participant-registered", spec(operator, "operator"), authority);
        append("participant-registered", spec(business, "business-entity"), authority);
        return this;
    }

    static Map<String, Object> registration(String no) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("product_id", "P-1");
        m.put("registration_no", no);
        m.put("certificate_name", "数据产品登记证书");
        m.put("product_name", "公交客流预测服务");
        m.put("product_type", "数据服务");
        m.put("business_entity", "nn-mobility");
        m.put("business_entity_name", "nn-mobility 名称");
        m.put("update_cycle", "每日");
        m.put("scenarios", List.of("公交出行规划"));
        m.put("registered_on", "2025-03-24");
        m.put("authorization", "SA-1");
        return m;
    }

    static Map<String, Object> status(String id) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("reason", "整改");
        m.put("effective_on", "2025-04-01");
        return m;
    }

    byte[] root(long size) {
        return Merkle.root(suite, hashes.subList(0, (int) size));
    }

    String checkpoint(long size) {
        return checkpoint(size, witnesses.size());
    }

    String checkpoint(long size, int cosigners) {
        String body = Checkpoint.body(origin, size, root(size));
        String note = SignedNote.sign(body, List.of(logKey));
        List<SignedNote.Signature> cos = new ArrayList<>();
        for (int i = 0; i < cosigners; i++) {
            cos.add(SignedNote.cosign(witnesses.get(i), body, 1_700_000_000L + i));
        }
        return SignedNote.parse(Codec.utf8(note)).withSignatures(cos);
    }

    List<Object> inclusionB64(long index, long size) {
        List<Object> out = new ArrayList<>();
        for (byte[] h : Merkle.inclusionProof(suite, hashes.subList(0, (int) size), (int) index)) {
            out.add(Codec.b64(h));
        }
        return out;
    }

    List<Object> consistencyB64(long a, long b) {
        List<Object> out = new ArrayList<>();
        for (byte[] h : Merkle.consistencyProof(suite, hashes.subList(0, (int) b), (int) a)) {
            out.add(Codec.b64(h));
        }
        return out;
    }

    Map<String, Object> entryProof(long index, long size) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", index);
        m.put("leaf", Codec.b64(leaves.get((int) index)));
        m.put("inclusion_proof", inclusionB64(index, size));
        return m;
    }

    /** bundle builds a certificate bundle at the current size the way a node assembles one. */
    Map<String, Object> bundle(long reg, long statusIndex, String state, List<Long> signerEntries) {
        long size = leaves.size();
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("format", CertificateBundle.FORMAT);
        b.put("origin", origin);
        Leaf l = Leaf.parse(leaves.get((int) reg));
        b.put("blockchain_no", BlockchainNo.of(origin, reg, hashes.get((int) reg)));
        b.put("certificate", Json.parse(l.envelope().payload(), 1 << 16));
        b.put("entry", entryProof(reg, size));
        b.put("previous", entryProof(reg - 1, size));
        List<Object> se = new ArrayList<>();
        for (long i : signerEntries) {
            se.add(entryProof(i, size));
        }
        b.put("signer_entries", se);
        Map<String, Object> st = new LinkedHashMap<>();
        st.put("state", state);
        st.put("set_by_index", statusIndex);
        if (statusIndex != reg) {
            st.put("entry", entryProof(statusIndex, size));
        }
        b.put("status", st);
        b.put("checkpoint", checkpoint(size));
        return b;
    }
}
