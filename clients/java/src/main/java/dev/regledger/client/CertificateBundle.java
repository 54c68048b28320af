package dev.regledger.client;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Verifies a certificate bundle ({@code regledger-certificate-bundle/v1},
 * {@code GET /v1/certificates/{登记号}}) against a trusted log descriptor,
 * following schemas/FORMATS.md ("Certificate bundle").
 *
 * <p>What a verified bundle proves: the certificate fields are exactly the
 * signed payload of a {@code product-registered} entry that is in the log
 * at the checkpoint (log signature and witness quorum verified); the
 * 区块链编号 names that entry; it chains to the entry before it; every
 * signature on it verifies with a key that the bundle's signer history
 * registered to a participant whose role may register products; and the
 * status entry, if any, is in the log, concerns this product, is signed
 * the same way and sets the state shown.
 *
 * <p>Format v2 carries the status proof of the 登记号 at the bundle's
 * checkpoint ({@link StatusProof}); verified, it proves the status current
 * ({@link VerifiedCertificate#statusProvenCurrent()}). What format v1
 * cannot prove: that no later entry up to the checkpoint changed the
 * status; present a v1 status as "set by entry N", never as the current one. A signer history that does not start at genesis
 * (bundles of nodes before issue 12) is refused, as the Rust verifier refuses
 * it: who registered the signer could not be checked.
 */
public final class CertificateBundle {
    private CertificateBundle() {}

    /** FORMAT is the first bundle format (no status proof). */
    public static final String FORMAT = "regledger-certificate-bundle/v1";

    /** FORMAT_V2 is the format with a status proof (verified: the status is proven current). */
    public static final String FORMAT_V2 = "regledger-certificate-bundle/v2";

    /** MAX_BUNDLE_BYTES bounds a bundle; MAX_SIGNER_ENTRIES bounds its signer history. */
    public static final int MAX_BUNDLE_BYTES = 16 << 20, MAX_SIGNER_ENTRIES = 64;

    /**
     * Roles that may submit the kinds a bundle relies on (the
     * {@code x-allowed-roles} of schemas/entries/; a test compares them).
     */
    static final Map<String, Set<String>> ROLES = Map.of(
            "genesis", Set.of("data-authority"),
            "participant-registered", Set.of("data-authority"),
            "participant-key-rotated", Set.of("data-authority"),
            "participant-revoked", Set.of("data-authority"),
            "product-registered", Set.of("data-authority", "operator"),
            "product-changed", Set.of("data-authority", "operator"),
            "product-suspended", Set.of("data-authority", "operator"),
            "product-resumed", Set.of("data-authority", "operator"),
            "product-registration-revoked", Set.of("data-authority", "operator"),
            "product-deregistered", Set.of("data-authority", "operator"));

    /** STATE_OF maps a status entry's kind to the product state it sets. */
    static final Map<String, String> STATE_OF = Map.of(
            "product-suspended", "suspended",
            "product-resumed", "active",
            "product-changed", "active",
            "product-registration-revoked", "revoked",
            "product-deregistered", "deregistered");

    private static VerificationException err(String part, String reason) {
        return new VerificationException(part, reason);
    }

    /** Opened is one bundle entry whose inclusion verified. */
    private static final class Opened {
        final long index;
        final Leaf leaf;
        final byte[] leafHash;

        Opened(long index, Leaf leaf, byte[] leafHash) {
            this.index = index;
            this.leaf = leaf;
            this.leafHash = leafHash;
        }
    }

    private static Opened open(String part, Object json, LogDescriptor d, Checkpoint cp) {
        Map<String, Object> e = Json.object(json, part);
        Json.onlyKeys(e, part, "index", "leaf", "inclusion_proof", "envelope");
        long index = Json.u64(e, "index");
        byte[] bytes;
        try {
            bytes = Codec.unb64(Json.string(e, "leaf"));
        } catch (IllegalArgumentException x) {
            throw err(part + ".leaf", "not base64");
        }
        Leaf leaf;
        try {
            leaf = Leaf.parse(bytes);
        } catch (VerificationException x) {
            throw x.within(part);
        }
        if (leaf.index() != index) {
            throw err(part + ".index", "leaf says index " + Long.toUnsignedString(leaf.index()) + ", bundle says "
                    + Long.toUnsignedString(index));
        }
        // A v2 leaf's envelope is carried beside it (bundle v2), where the bundle needs it.
        if (e.containsKey("envelope")) {
            byte[] env;
            try {
                env = Codec.unb64(Json.string(e, "envelope"));
            } catch (IllegalArgumentException x) {
                throw err(part + ".envelope", "not base64");
            }
            try {
                leaf = leaf.withEnvelope(d.suite(), env);
            } catch (VerificationException x) {
                throw x.within(part);
            }
        }
        List<byte[]> proof = new ArrayList<>();
        for (Object h : Json.array(e.get("inclusion_proof"), part + ".inclusion_proof")) {
            try {
                proof.add(Codec.unb64((String) h));
            } catch (RuntimeException x) {
                throw err(part + ".inclusion_proof", "not base64 hashes");
            }
        }
        byte[] lh = d.suite().leafHash(bytes);
        try {
            Merkle.verifyInclusion(d.suite(), index, cp.size(), lh, proof, cp.root());
        } catch (Merkle.ProofException x) {
            throw err(part + ".inclusion_proof", x.reason());
        }
        return new Opened(index, leaf, lh);
    }

    private static Map<String, Object> payload(String part, Leaf leaf) {
        try {
            return Json.object(Json.parse(leaf.envelope().payload(), Envelope.MAX_PAYLOAD), part + ".payload");
        } catch (IllegalArgumentException x) {
            throw err(part + ".payload", x.getMessage());
        }
    }

    /**
     * verify checks a bundle (the JSON bytes as served) against {@code d}.
     *
     * @throws VerificationException naming the first part that fails
     */
    public static VerifiedCertificate verify(byte[] bundleJson, LogDescriptor d) {
        try {
            return verifyParsed(Json.object(Json.parse(bundleJson, MAX_BUNDLE_BYTES), "bundle"), d);
        } catch (VerificationException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw err("bundle", e.getMessage());
        }
    }

    private static VerifiedCertificate verifyParsed(Map<String, Object> b, LogDescriptor d) {
        Json.onlyKeys(b, "bundle", "format", "origin", "blockchain_no", "certificate", "entry", "previous",
                "signer_entries", "status", "status_proof", "checkpoint");
        // Format v2 adds the status proof of the 登记号 (and envelopes beside
        // v2 leaves): verified below, it proves the status current.
        if (!FORMAT.equals(b.get("format")) && !FORMAT_V2.equals(b.get("format"))) {
            throw err("format", "unknown bundle format " + b.get("format"));
        }
        boolean v2 = FORMAT_V2.equals(b.get("format"));
        if (v2 != b.containsKey("status_proof")) {
            throw err(v2 ? "status_proof" : "bundle", v2 ? "missing from a v2 bundle"
                    : "a v1 bundle carries no status proof (its format says so)");
        }
        if (!d.origin().equals(b.get("origin"))) {
            throw err("origin", "not the log of this descriptor");
        }
        Checkpoint.Verified vc = d.verifyCheckpoint(Json.string(b, "checkpoint"));
        Checkpoint cp = vc.checkpoint();

        // The registering entry, its payload and the certificate shown.
        Opened reg = open("entry", b.get("entry"), d, cp);
        Envelope env = reg.leaf.envelope();
        if (!"product-registered".equals(env.kind())) {
            throw err("entry.payload_type", env.payloadType() + " is not product-registered");
        }
        Map<String, Object> signed = payload("entry", reg.leaf);
        Map<String, Object> shown = Json.object(b.get("certificate"), "certificate");
        for (Map.Entry<String, Object> f : shown.entrySet()) {
            if (!Json.jsonEquals(f.getValue(), signed.get(f.getKey()))) {
                throw err("certificate." + f.getKey(), "differs from the signed payload");
            }
        }
        for (String k : signed.keySet()) {
            if (!shown.containsKey(k) && !"request_id".equals(k)) {
                throw err("certificate." + k, "missing: the bundle omits a signed field");
            }
        }
        String productId = Json.string(signed, "product_id");
        String bno = Json.string(b, "blockchain_no");
        if (!BlockchainNo.isWellFormed(bno)) {
            throw err("blockchain_no", "malformed");
        }
        if (!BlockchainNo.matches(bno, d.origin(), reg.index, reg.leafHash)) {
            throw err("blockchain_no", "does not name this entry of this log");
        }

        // Hash chain: the entry's previous-leaf hash is the leaf hash of index-1.
        Map<String, Object> prevJson = Json.object(b.get("previous"), "previous");
        if (reg.index == 0 || Json.u64(prevJson, "index") != reg.index - 1) {
            throw err("previous.index", "must be the entry before the registering entry");
        }
        Opened prev = open("previous", prevJson, d, cp);
        if (!reg.leaf.chainsTo(prev.leafHash)) {
            throw err("entry.prev_leaf_hash", "does not chain to the previous entry");
        }

        // The status and the entry that set it.
        Map<String, Object> st = Json.object(b.get("status"), "status");
        Json.onlyKeys(st, "status", "state", "set_by_index", "entry");
        String state = Json.string(st, "state");
        long setBy = Json.u64(st, "set_by_index");
        Opened statusEntry = null;
        if (setBy == reg.index) {
            if (!"active".equals(state) || st.containsKey("entry")) {
                throw err("status", "the registering entry sets status active");
            }
        } else {
            if (!st.containsKey("entry")) {
                throw err("status.entry", "missing");
            }
            statusEntry = open("status.entry", st.get("entry"), d, cp);
            if (statusEntry.index != setBy || Long.compareUnsigned(statusEntry.index, reg.index) <= 0) {
                throw err("status.entry", "index must be set_by_index, after registration");
            }
            String kind = statusEntry.leaf.envelope().kind();
            String sets = kind == null ? null : STATE_OF.get(kind);
            if (sets == null) {
                throw err("status.entry", kind + " does not set a product status");
            }
            Object id = payload("status.entry", statusEntry.leaf).get("id");
            if (!productId.equals(id)) {
                throw err("status.entry", "concerns another product");
            }
            if (!sets.equals(state)) {
                throw err("status.state", "bundle says " + state + ", entry sets " + sets);
            }
        }

        History h = new History(d, cp);
        h.due.add(new Due(reg, "entry"));
        if (statusEntry != null) {
            h.due.add(new Due(statusEntry, "status.entry"));
        }
        h.replay(Json.array(b.get("signer_entries"), "signer_entries"));
        String signer = h.due.get(0).signer;
        Key regKey = h.keys.get(env.signatures().get(0).keyId());
        Participant regSigner = h.participants.get(signer);
        VerifiedCertificate c = new VerifiedCertificate(signed, bno, reg.index, signer, regSigner.role, h.anchored,
                h.indexes, regKey.retiredAt, regSigner.revokedAt, state, setBy,
                statusEntry == null ? null : h.due.get(1).signer, vc);
        if (v2) {
            c.withStatusProof(checkStatusProof(b, Json.string(signed, "registration_no"), productId, state, setBy, d));
        }
        return c;
    }

    /**
     * checkStatusProof verifies a v2 bundle's status proof: about its
     * 登记号, at its own checkpoint, naming its product, and agreeing with
     * its {@code status} (state, and the entry that set it).
     */
    private static StatusProof.Verified checkStatusProof(Map<String, Object> b, String registrationNo, String productId,
            String state, long setBy, LogDescriptor d) {
        Map<String, Object> p = Json.object(b.get("status_proof"), "status_proof");
        if (!"product".equals(p.get("kind")) || !registrationNo.equals(p.get("id"))) {
            throw err("status_proof", "is about " + p.get("kind") + " " + p.get("id") + ", not the product "
                    + registrationNo);
        }
        if (!Json.string(b, "checkpoint").equals(p.get("checkpoint"))) {
            throw err("status_proof.checkpoint", "must be the bundle's checkpoint");
        }
        StatusProof.Verified v;
        try {
            v = StatusProof.verifyParsed(p, d);
        } catch (VerificationException x) {
            throw x.within("status_proof");
        }
        if (!productId.equals(v.state().productId())) {
            throw err("status_proof.record", "the 登记号 names another product");
        }
        if (!state.equals(v.state().status()) || !Long.valueOf(setBy).equals(v.state().statusIndex())) {
            throw err("status", "the bundle says " + state + " (set by entry " + Long.toUnsignedString(setBy)
                    + "), the status proof shows " + v.state().status() + " (set by entry " + v.state().statusIndex()
                    + ")");
        }
        return v;
    }

    private static final class Participant {
        final String id;
        final String role;
        Long revokedAt;

        Participant(String id, String role) {
            this.id = id;
            this.role = role;
        }
    }

    private static final class Key {
        final String participant;
        final byte[] publicKey;
        Long retiredAt;

        Key(String participant, byte[] publicKey) {
            this.participant = participant;
            this.publicKey = publicKey;
        }
    }

    /** Due is an entry whose signatures are checked at its own index, between history entries. */
    private static final class Due {
        final Opened entry;
        final String part;
        String signer;

        Due(Opened entry, String part) {
            this.entry = entry;
            this.part = part;
        }
    }

    /**
     * History replays the signer history in index order: the keys and
     * participants it registers, rotates and revokes, and, when it starts
     * at genesis, the signature of each of its entries with the keys valid
     * at that entry's index, back to the key genesis declares and signs with.
     */
    private static final class History {
        final LogDescriptor d;
        final Checkpoint cp;
        final Map<String, Participant> participants = new HashMap<>();
        final Map<String, Key> keys = new HashMap<>();
        final List<Due> due = new ArrayList<>();
        final List<Long> indexes = new ArrayList<>();
        boolean anchored;
        /**
         * requireSm2 is genesis's {@code require_sm2} (D19): every participant key,
         * the authority's included, must then be SM2, as the registry's key rule says.
         */
        boolean requireSm2;
        int nextDue;

        History(LogDescriptor d, Checkpoint cp) {
            this.d = d;
            this.cp = cp;
        }

        void replay(List<Object> entries) {
            if (entries.isEmpty()) {
                throw err("signer_entries", "missing");
            }
            if (entries.size() > MAX_SIGNER_ENTRIES) {
                throw err("signer_entries", "too many");
            }
            for (int n = 0; n < entries.size(); n++) {
                String part = "signer_entries[" + n + "]";
                Opened e = open(part, entries.get(n), d, cp);
                if (n == 0) {
                    // The history must start at genesis, as FORMATS.md step 6 says: a
                    // signer whose registration cannot be traced to the key genesis
                    // declares proves nothing (issue 12, item 9(b)).
                    if (e.index != 0) {
                        throw err(part + ".index", "the signer history must start at genesis (entry 0)");
                    }
                    anchored = true;
                } else if (Long.compareUnsigned(e.index, indexes.get(indexes.size() - 1)) <= 0) {
                    throw err(part + ".index", "signer entries must be in index order, each once");
                }
                runDue(e.index);
                apply(part, e);
                indexes.add(e.index);
            }
            runDue(-1L); // unsigned: past every index
        }

        void runDue(long before) {
            while (nextDue < due.size() && Long.compareUnsigned(due.get(nextDue).entry.index, before) < 0) {
                Due x = due.get(nextDue++);
                x.signer = checkSignatures(x.part, x.entry).id;
            }
        }

        /**
         * checkSignatures verifies every signature of an entry against the
         * state replayed so far: distinct key ids, each registered, not
         * retired, of a participant not revoked; the submitter (first
         * signer) must have a role allowed for the kind.
         */
        Participant checkSignatures(String part, Opened e) {
            Envelope env = e.leaf.envelope();
            String kind = env.kind();
            Participant submitter = null;
            List<String> seen = new ArrayList<>();
            for (Envelope.Signature s : env.signatures()) {
                if (seen.contains(s.keyId())) {
                    throw err(part + ".signature", "key " + s.keyId() + " signs entry " + Long.toUnsignedString(e.index)
                            + " twice");
                }
                seen.add(s.keyId());
                Key k = keys.get(s.keyId());
                if (k == null) {
                    throw err("signer_entries", "no signer entry before entry " + Long.toUnsignedString(e.index)
                            + " registers its key " + s.keyId());
                }
                if (k.retiredAt != null) {
                    throw err("signer_entries", "key " + s.keyId() + " of entry " + Long.toUnsignedString(e.index)
                            + " was retired by entry " + k.retiredAt);
                }
                Participant p = participants.get(k.participant);
                if (p.revokedAt != null) {
                    throw err("signer_entries", "signer " + p.id + " of entry " + Long.toUnsignedString(e.index)
                            + " was revoked by entry " + p.revokedAt);
                }
                String problem = env.signatureProblem(s.keyId(), k.publicKey);
                if (problem != null) {
                    throw err(part + ".signature", problem);
                }
                if (submitter == null) {
                    submitter = p;
                }
            }
            if (!ROLES.getOrDefault(kind, Set.of()).contains(submitter.role)) {
                throw err("signer_entries", submitter.id + " (role " + submitter.role + ") may not submit " + kind
                        + " (entry " + Long.toUnsignedString(e.index) + ")");
            }
            return submitter;
        }

        void addKeys(String part, String participant, Object list) {
            for (Object k : Json.array(list, part + ".public_keys")) {
                byte[] pk;
                try {
                    pk = Codec.unb64((String) k);
                } catch (RuntimeException x) {
                    throw err(part, "public key is not base64");
                }
                // 32 bytes are Ed25519; 65 or more the SM2 point and a stated signer ID (FORMATS.md "SM2").
                if (pk.length == Ed25519.PUBLIC_LEN) {
                    if (Ed25519.isWeakKey(pk)) {
                        throw err(part, "public key is not a valid Ed25519 key");
                    }
                    if (requireSm2) {
                        throw err(part, "this log requires SM2 keys (genesis require_sm2): an Ed25519 key is refused");
                    }
                } else {
                    try {
                        Sm2.fromMaterial(pk);
                    } catch (IllegalArgumentException x) {
                        throw err(part, "public key is neither a valid Ed25519 key nor a valid SM2 key: "
                                + x.getMessage());
                    }
                }
                keys.putIfAbsent(ParticipantKey.keyIdOf(participant, pk), new Key(participant, pk));
            }
        }

        void register(String part, Map<String, Object> spec) {
            String id = Json.string(spec, "id");
            if (participants.containsKey(id)) {
                throw err(part, "participant " + id + " registered twice");
            }
            participants.put(id, new Participant(id, Json.string(spec, "role")));
            addKeys(part, id, spec.get("public_keys"));
        }

        Participant existing(String part, Map<String, Object> p) {
            Participant x = participants.get(Json.string(p, "id"));
            if (x == null) {
                throw err(part, "concerns participant " + p.get("id") + ", not registered in the signer history");
            }
            return x;
        }

        void apply(String part, Opened e) {
            String kind = e.leaf.envelope().kind();
            Map<String, Object> p = payload(part, e.leaf);
            if (kind == null) {
                throw err(part, "not a regledger entry");
            }
            switch (kind) {
                case "genesis": {
                    if (e.index != 0) {
                        throw err(part, "genesis is entry 0");
                    }
                    if (!d.origin().equals(p.get("origin")) || !d.suite().wireName().equals(p.get("hash"))
                            || !d.profile().equals(p.get("profile"))) {
                        throw err(part, "genesis fixes origin " + p.get("origin") + ", hash " + p.get("hash")
                                + " and profile " + p.get("profile") + "; log.json says " + d.origin() + ", "
                                + d.suite().wireName() + " and " + d.profile());
                    }
                    // Read before the authority's keys: require_sm2 binds them too.
                    if (p.containsKey("require_sm2")) {
                        try {
                            requireSm2 = Json.bool(p, "require_sm2");
                        } catch (IllegalArgumentException x) {
                            throw err(part, x.getMessage());
                        }
                    }
                    register(part, Json.object(p.get("authority"), part + ".authority"));
                    checkSignatures(part, e); // the authority signs genesis with a key it declares
                    return;
                }
                case "participant-registered":
                    verifyIfAnchored(part, e);
                    register(part, p);
                    return;
                case "participant-key-rotated": {
                    verifyIfAnchored(part, e);
                    Participant x = existing(part, p);
                    if (p.containsKey("add_keys")) {
                        addKeys(part, x.id, p.get("add_keys"));
                    }
                    if (p.containsKey("retire_key_ids")) {
                        for (Object kid : Json.array(p.get("retire_key_ids"), part + ".retire_key_ids")) {
                            Key k = keys.get(kid);
                            if (k != null && k.participant.equals(x.id) && k.retiredAt == null) {
                                k.retiredAt = e.index;
                            }
                        }
                    }
                    return;
                }
                case "participant-revoked": {
                    verifyIfAnchored(part, e);
                    Participant x = existing(part, p);
                    if (x.revokedAt == null) {
                        x.revokedAt = e.index;
                    }
                    return;
                }
                default:
                    throw err(part, "entry " + Long.toUnsignedString(e.index) + " is " + kind
                            + ", not part of a signer history");
            }
        }

        void verifyIfAnchored(String part, Opened e) {
            if (anchored) {
                checkSignatures(part, e);
            }
        }
    }

    /** certificateFields returns the Chinese and English labels of the printed certificate fields, in order. */
    public static Map<String, String[]> certificateLabels() {
        Map<String, String[]> m = new LinkedHashMap<>();
        m.put("certificate_name", new String[] {"证书名称", "Certificate"});
        m.put("product_name", new String[] {"数据产品名称", "Product name"});
        m.put("registration_no", new String[] {"登记号", "Registration no."});
        m.put("product_type", new String[] {"产品类型", "Product type"});
        m.put("business_entity_name", new String[] {"经营主体", "Business entity"});
        m.put("update_cycle", new String[] {"数据更新周期", "Update cycle"});
        m.put("scenarios", new String[] {"应用场景", "Scenarios"});
        m.put("blockchain_no", new String[] {"区块链编号", "Blockchain no."});
        m.put("registered_on", new String[] {"登记日期", "Registered on"});
        m.put("authorization", new String[] {"授权依据", "Authorization"});
        m.put("business_entity", new String[] {"经营主体标识", "Business entity id"});
        return m;
    }
}
