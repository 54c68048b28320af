package dev.regledger.client;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LiveScenario drives a real node the way a platform would: it signs
 * entries with participant key files, submits them, and verifies every
 * receipt, checkpoint, inclusion proof and certificate bundle. Run by
 * tests/tests/java_client.rs; exits 1 on the first failed check.
 *
 * <pre>
 * java -cp ... dev.regledger.client.LiveScenario --url URL --log log.json --keys DIR \
 *     --business-name NAME --out result.json
 * </pre>
 * {@code DIR} holds source.key, agency.key, operator.key and business.key
 * (Ed25519 or SM2 participant key files); for an {@code sm3} log also
 * operator.pem and operator.pub.pem (PKCS#8 / SubjectPublicKeyInfo, as
 * {@code keygen --pem} writes them), and the operator then signs with the
 * key read from PEM. The scenario also fetches and verifies status proofs
 * (present and absent) and refuses tampered ones; the documents are written
 * beside {@code result.json} for the Rust verifier to check the same bytes.
 */
public final class LiveScenario {
    private LiveScenario() {}

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** main runs the scenario. */
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i], args[i + 1]);
        }
        try {
            run(a);
        } catch (Throwable t) {
            System.err.println("FAIL: " + t);
            t.printStackTrace();
            System.exit(1);
        }
    }

    static void run(Map<String, String> a) throws Exception {
        LogDescriptor log = LogDescriptor.parse(Files.readAllBytes(Path.of(a.get("--log"))));
        Path keys = Path.of(a.get("--keys"));
        ParticipantKey source = ParticipantKey.load(keys.resolve("source.key"));
        ParticipantKey agency = ParticipantKey.load(keys.resolve("agency.key"));
        ParticipantKey operator = ParticipantKey.load(keys.resolve("operator.key"));
        boolean sm3 = log.suite() == HashSuite.SM3;
        if (sm3) {
            // The same SM2 key from its PEM files (what OpenSSL or a 密码机 vendor's tool exports).
            ParticipantKey fromPem = ParticipantKey.fromPem(operator.participantId(),
                    Files.readString(keys.resolve("operator.pem")), null);
            check(fromPem.keyId().equals(operator.keyId()), "the PEM key is the key file's: " + fromPem.keyId());
            Sm2.PublicKey pub = Sm2.publicKeyFromPem(Files.readString(keys.resolve("operator.pub.pem")), null);
            check(Codec.b64(pub.material()).equals(operator.publicKeyBase64()), "the SPKI PEM is the registered key");
            check(operator.alg() == Envelope.ALG_SM2 && source.alg() == Envelope.ALG_SM2, "SM2 participants");
            operator = fromPem;
        }
        ParticipantKey business = ParticipantKey.load(keys.resolve("business.key"));
        RegledgerClient c = RegledgerClient.builder(URI.create(a.get("--url")), log)
                .inclusionTimeout(Duration.ofSeconds(120)).build();

        // Dates the way the node reads them: China Standard Time.
        LocalDate today = LocalDate.now(ZoneOffset.ofHours(8));
        String t = today.toString();
        // Document digests: in the log's suite, named document_digest, in an sm3 log (FORMATS.md, D19).
        String docField = sm3 ? "document_digest" : "document_blake3";
        String doc = Codec.hex((sm3 ? HashSuite.SM3 : HashSuite.BLAKE3).hash(Codec.utf8("授权运营协议（测试文本）")));
        String res = "R-JAVA-001";
        String no = "GXDP-" + today.getYear() + "-000777";
        List<Object> entries = new ArrayList<>();

        Receipt r = c.submit("resource-registered", Payload.of(obj("id", res, "name", "公交实时到站数据（Java 客户端）",
                "holder", source.participantId(), "catalog_id", "GX-CAT-0999", "grade", "二级", "open_attribute", "conditional",
                "format", "JSON API", "update_frequency", "实时", "scale", "约 1 亿条/年")), source);
        entries.add(record(r));
        r = c.submit("agreement-filed", Payload.of(obj("id", "PLAN-J", "agreement_type", "implementation-plan",
                "parties", List.of(agency.participantId()), "grantee", agency.participantId(), "scope", List.of(res),
                "signed_on", t, "term_start", t, "term_end", today.plusYears(2).toString(),
                "document_title", "公共数据授权运营实施方案", docField, doc)), agency);
        entries.add(record(r));
        r = c.submit("agreement-filed", Payload.of(obj("id", "OA-J", "agreement_type", "operation-agreement",
                "parties", List.of(agency.participantId(), operator.participantId()), "grantee", operator.participantId(),
                "scope", List.of(res), "signed_on", t, "term_start", t, "term_end", today.plusYears(2).toString(),
                "document_title", "公共数据资源授权运营协议", docField, doc)), agency);
        entries.add(record(r));
        r = c.submit("agreement-filed", Payload.of(obj("id", "SA-J", "agreement_type", "scene-authorization",
                "parties", List.of(operator.participantId(), business.participantId()), "grantee", business.participantId(),
                "parent", "OA-J", "scope", List.of(res), "scene", "公交出行规划", "signed_on", t, "term_start", t,
                "term_end", today.plusYears(1).toString(), "document_title", "场景授权协议", docField, doc)), operator);
        entries.add(record(r));
        r = c.submit("product-approved", Payload.of(obj("product_id", "P-J", "product_name", "公交客流预测服务（Java）",
                "business_entity", business.participantId(), "authorization", "SA-J", "applied_on", t, "approved_on", t,
                "uses_non_public_data", false)), operator);
        entries.add(record(r));
        Map<String, Object> registration = obj("product_id", "P-J", "registration_no", no, "certificate_name", "数据产品登记证书",
                "product_name", "公交客流预测服务（Java）", "product_type", "数据服务", "business_entity", business.participantId(),
                "business_entity_name", a.get("--business-name"), "update_cycle", "每日", "scenarios", List.of("公交出行规划"),
                "registered_on", t, "authorization", "SA-J");
        Receipt reg = c.submit("product-registered", Payload.of(registration), operator);
        entries.add(record(reg));
        check(reg.blockchainNo().isPresent(), "a registration has a 区块链编号");

        Envelope event = Envelope.sign("operation-event", Payload.of(obj("agreement_id", "SA-J", "product_id", "P-J",
                "action", "access", "occurred_at_ms", System.currentTimeMillis() - 1000, "actor", "svc-forecast",
                "records", 1200)), business);
        Receipt ev = c.submit(event);
        entries.add(record(ev));
        check(!ev.replayed(), "a first submission is not a replay");

        // Idempotency: the very same signed envelope again is the same entry, verified.
        Receipt again = c.submit(event);
        check(again.replayed() && again.index() == ev.index(), "a repeat is the original entry: " + again);

        // Signing the same registration again gives the same signed content
        // (Ed25519 is deterministic): that is a replay too, not a second act.
        Receipt regAgain = c.submit("product-registered", Payload.of(registration), operator);
        check(regAgain.replayed() && regAgain.index() == reg.index(), "the same registration is the same entry");

        // A rule refusal is a typed problem, not retried, and writes nothing.
        Map<String, Object> other = new LinkedHashMap<>(registration);
        other.put("product_name", "另一个名称");
        try {
            c.submit("product-registered", Payload.of(other), operator);
            check(false, "a second registration of the product must be refused");
        } catch (ProblemException p) {
            check(p.status() == 409 && !p.isRetryable(), "refusal is a 409 rule problem: " + p);
            System.out.println("refused as expected: " + p.code() + ": " + p.detail().orElse(""));
        }

        VerifiedCertificate cert = c.certificate(no);
        check(no.equals(cert.registrationNo()), "registration number");
        check(cert.blockchainNo().equals(reg.blockchainNo().get()), "blockchain number matches the receipt");
        check(cert.index() == reg.index(), "registering entry");
        check(cert.status().equals("active") && cert.statusSetByIndex() == reg.index(), "active, set by the registration");
        check(cert.statusProvenCurrent() && cert.isProvenActive() && "有效".equals(cert.statusZh()),
                "a v2 bundle proves 有效: " + cert.statusStatement());
        check(operator.participantId().equals(cert.signer()), "signed by the operator");

        Receipt susp = c.submit("product-suspended", Payload.of(obj("id", "P-J", "reason", "整改", "effective_on", t)), operator);
        entries.add(record(susp));
        VerifiedCertificate after = c.certificate(no);
        check(after.status().equals("suspended") && after.statusSetByIndex() == susp.index(),
                "suspended, set by entry " + susp.index() + ": " + after);
        check(after.statusProvenCurrent() && !after.isProvenActive() && "暂停".equals(after.statusZh()),
                "proven 暂停: " + after.statusStatement());
        System.out.println(after.statusStatement());

        byte[] bundle = c.certificateBundle(no);
        Path bundleFile = Path.of(a.get("--out")).resolveSibling("java-bundle.json");
        Files.write(bundleFile, bundle);
        Map<String, Object> tampered = BundleTest.mutable(Json.parse(bundle, CertificateBundle.MAX_BUNDLE_BYTES));
        BundleTest.at(tampered, "certificate").put("product_name", "另一个产品");
        try {
            CertificateBundle.verify(Codec.utf8(Json.write(tampered)), log);
            check(false, "a tampered bundle must be refused");
        } catch (VerificationException e) {
            check(e.part().equals("certificate.product_name"), "refused naming the field: " + e.getMessage());
        }

        if (sm3) {
            // The same sm3 bundle under a log.json that says sha256: its SM3 tree hashes are refused.
            String desc = Files.readString(Path.of(a.get("--log")));
            check(desc.contains("\"sm3\""), "an sm3 log.json");
            LogDescriptor sha = LogDescriptor.parse(Codec.utf8(desc.replace("\"sm3\"", "\"sha256\"")));
            try {
                CertificateBundle.verify(bundle, sha);
                check(false, "an sm3 bundle must not verify under a sha256 descriptor");
            } catch (VerificationException e) {
                check(e.part().startsWith("entry"), "refused at the registering entry: " + e.getMessage());
                System.out.println("refused as expected (sm3 hashes, sha256 descriptor): " + e.getMessage());
            }
        }

        Map<String, Object> statuses = statusProofs(c, log, no, susp.index(), operator, source, bundleFile);

        // A batch in one request: the event already logged (a replay), two new
        // events by the operator under OA-J, and between them one the rules
        // refuse (no such agreement), which refuses nothing else.
        long now = System.currentTimeMillis() - 1000;
        Envelope b1 = Envelope.sign("operation-event", Payload.of(obj("agreement_id", "OA-J", "action", "access",
                "occurred_at_ms", now, "actor", "svc-batch", "records", 10)), operator);
        Envelope bad = Envelope.sign("operation-event", Payload.of(obj("agreement_id", "OA-NONE", "action", "access",
                "occurred_at_ms", now, "actor", "svc-batch", "records", 11)), operator);
        Envelope b2 = Envelope.sign("operation-event", Payload.of(obj("agreement_id", "OA-J", "action", "access",
                "occurred_at_ms", now, "actor", "svc-batch", "records", 12)), operator);
        List<BatchResult> br = c.submitBatch(List.of(event, b1, bad, b2));
        check(br.size() == 4, "one result per envelope: " + br);
        Receipt r0 = br.get(0).receipt().orElseThrow(() -> new AssertionError("the repeat is logged: " + br));
        check(r0.replayed() && r0.index() == ev.index(), "the repeat in a batch is the original entry: " + r0);
        Receipt r1 = br.get(1).receipt().orElseThrow(() -> new AssertionError("b1 logged: " + br));
        ProblemException p2 = br.get(2).problem().orElseThrow(() -> new AssertionError("bad refused: " + br));
        check(p2.status() >= 400 && p2.status() < 500 && !p2.isRetryable(), "a rule problem: " + p2);
        Receipt r3 = br.get(3).receipt().orElseThrow(() -> new AssertionError("b2 logged: " + br));
        check(!r1.replayed() && !r3.replayed() && r3.index() == r1.index() + 1,
                "the refused one wrote nothing between them: " + br);
        List<Object> batch = List.of(record(r1), record(r3));
        System.out.println("batch refused as expected: " + p2.code() + ": " + p2.detail().orElse(""));

        Map<String, Object> stated = statedId(c, a, business, r3.index());

        Checkpoint.Verified cp = c.checkpoint();
        check(Long.compareUnsigned(cp.size(), r3.index()) > 0, "the latest checkpoint covers every entry");

        Map<String, Object> out = obj("entries", entries, "registration_no", no, "blockchain_no", after.blockchainNo(),
                "status", after.status(), "status_set_by_index", after.statusSetByIndex(),
                "signer_chain_anchored", after.signerChainAnchored(), "signer", after.signer(),
                "replayed_index", again.index(), "bundle", bundleFile.toString(), "checkpoint_size", cp.size(),
                "status_proofs", statuses, "suite", log.suite().wireName(), "batch", batch);
        if (stated != null) {
            out.put("stated_id", stated);
        }
        Files.writeString(Path.of(a.get("--out")), Json.write(out));
        System.out.println("OK: " + entries.size() + " entries written and verified; checkpoint size " + cp.size());
    }

    /**
     * statedId, given {@code --stated-pem} and {@code --stated-id} (an SM2 key of the
     * business entity that the node registered with that stated signer ID, D19):
     * an operation event signed under the default ID with that key's id is refused
     * {@code bad-signature}, writing nothing; one signed under the stated ID is
     * logged, right after entry {@code last}. Returns what happened (null without
     * the options).
     */
    static Map<String, Object> statedId(RegledgerClient c, Map<String, String> a, ParticipantKey business, long last)
            throws Exception {
        if (!a.containsKey("--stated-pem")) {
            return null;
        }
        String pem = Files.readString(Path.of(a.get("--stated-pem")));
        ParticipantKey key = ParticipantKey.fromPem(business.participantId(), pem, a.get("--stated-id"));
        ParticipantKey sameKeyDefaultId = ParticipantKey.fromPem(business.participantId(), pem, null);
        Payload p1 = Payload.of(obj("agreement_id", "SA-J", "product_id", "P-J", "action", "access",
                "occurred_at_ms", System.currentTimeMillis() - 1000, "actor", "svc-stated-id", "records", 21));
        Envelope underDefault = new Sm2Test.EnvelopeBuilder(Envelope.sign("operation-event", p1, sameKeyDefaultId))
                .keyId(key.keyId()).build();
        String refused = null;
        try {
            c.submit(underDefault);
        } catch (ProblemException e) {
            refused = e.code();
            System.out.println("refused as expected (signed under the default ID): " + e.code() + ": "
                    + e.detail().orElse(""));
        }
        check("bad-signature".equals(refused), "an SM2 signature under the default ID is refused: " + refused);
        Receipt r = c.submit("operation-event", Payload.of(obj("agreement_id", "SA-J", "product_id", "P-J",
                "action", "access", "occurred_at_ms", System.currentTimeMillis() - 1000, "actor", "svc-stated-id",
                "records", 22)), key);
        check(r.index() == last + 1, "the refused envelope wrote nothing: " + r);
        return obj("index", r.index(), "key_id", key.keyId(), "refused", refused);
    }

    /** refused checks that {@code doc} is refused naming a part that starts with {@code part}. */
    static void refused(String what, Map<String, Object> doc, LogDescriptor log, String part) {
        try {
            StatusProof.verify(Codec.utf8(Json.write(doc)), log);
            check(false, what + ": a tampered status proof must be refused");
        } catch (VerificationException e) {
            check(e.part().startsWith(part), what + ": refused naming " + part + ", not " + e.getMessage());
            System.out.println("refused as expected (" + what + "): " + e.getMessage());
        }
    }

    static Map<String, Object> doc(byte[] b) {
        return BundleTest.mutable(Json.parse(b, StatusProof.MAX_STATUS_BYTES));
    }

    /**
     * statusProofs verifies status proofs from the node (present, absent, of
     * every kind) and refuses tampered ones: an edited record, an edited
     * state, a proof swapped for another object's, a wrong state root, an
     * absence claimed for a present object; then a v2 bundle whose status
     * proof was edited or swapped.
     */
    static Map<String, Object> statusProofs(RegledgerClient c, LogDescriptor log, String no, long suspIndex,
            ParticipantKey operator, ParticipantKey source, Path bundleFile) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        Path dir = bundleFile.getParent();

        StatusProof.Verified prod = c.status("product", no);
        check("suspended".equals(prod.state().status()) && "暂停".equals(prod.state().statusZh())
                && prod.state().statusIndex() == suspIndex && "P-J".equals(prod.state().productId()),
                "the 登记号 is proven 暂停, set by entry " + suspIndex + ": " + prod.state());
        System.out.println(prod.statement());
        String absentNo = "GXDP-2099-999999";
        StatusProof.Verified absent = c.status("product", absentNo);
        check("absent".equals(absent.state().status()) && "不存在".equals(absent.state().statusZh())
                && absent.record() == null, "an unknown 登记号 is proven absent: " + absent.state());
        StatusProof.Verified op = c.status("participant", operator.participantId());
        check(op.state().isActive(), "the operator is 有效");
        check(c.status("agreement", "SA-J").state().isActive(), "the scene authorization is 有效");
        check(c.status("resource", "R-JAVA-001").state().isActive(), "the resource is 有效");
        check("absent".equals(c.status("credential", "GX-CAT-AUTH-2099-0001").state().status()), "no such credential");
        try {
            c.status("product", "gxdp-lower-case");
            check(false, "a malformed 登记号 is refused");
        } catch (ProblemException | VerificationException e) {
            System.out.println("refused as expected (malformed id): " + e.getMessage());
        }

        // The documents as served, for the Rust side to verify the same bytes.
        byte[] prodDoc = c.statusDocument("product", no);
        byte[] absentDoc = c.statusDocument("product", absentNo);
        byte[] opDoc = c.statusDocument("participant", operator.participantId());
        byte[] srcDoc = c.statusDocument("participant", source.participantId());
        Files.write(dir.resolve("status-product.json"), prodDoc);
        Files.write(dir.resolve("status-absent.json"), absentDoc);
        Files.write(dir.resolve("status-participant.json"), opDoc);
        check(StatusProof.verify(prodDoc, log).state().equals(prod.state()), "the stored document verifies alike");

        // Tampered record: the proven bytes edited (suspended -> active).
        Map<String, Object> t = doc(prodDoc);
        String rec = new String(Codec.unb64((String) t.get("record")), java.nio.charset.StandardCharsets.UTF_8);
        check(rec.contains("\"suspended\""), "the record holds the status");
        t.put("record", Codec.b64(Codec.utf8(rec.replace("\"suspended\"", "\"active\""))));
        BundleTest.at(t, "state").put("status", "active");
        BundleTest.at(t, "state").put("status_zh", "有效");
        refused("tampered record", t, log, "map_proof");
        // Edited state only: the record is genuine, the claim is not.
        t = doc(prodDoc);
        BundleTest.at(t, "state").put("status", "active");
        BundleTest.at(t, "state").put("status_zh", "有效");
        refused("edited state", t, log, "state");
        // A proof swapped for another object's: the operator's record and map proof under the source's id.
        t = doc(srcDoc);
        Map<String, Object> o = doc(opDoc);
        check(o.get("checkpoint").equals(t.get("checkpoint")), "both proofs at the same checkpoint");
        t.put("map_proof", o.get("map_proof"));
        t.put("record", o.get("record"));
        t.put("state", o.get("state"));
        refused("swapped proof", t, log, "map_proof");
        // The same swap with the id changed too: the key is built from the id, the record names another.
        t = doc(opDoc);
        t.put("id", source.participantId());
        refused("swapped id", t, log, "map_proof");
        // A wrong state root: the checkpoint's state line edited (the log key signed another).
        t = doc(prodDoc);
        check(StatusProof.FORMAT.equals(t.get("format")), "the node serves v2 status proofs: " + t.get("format"));
        String note = (String) t.get("checkpoint");
        int at = note.indexOf("\n" + StateLine.PREFIX);
        check(at > 0, "the node's checkpoint carries its state line");
        int root = note.indexOf(' ', at + 1 + StateLine.PREFIX.length()) + 1;
        char ch = note.charAt(root);
        t.put("checkpoint", note.substring(0, root) + (ch == 'A' ? 'B' : 'A') + note.substring(root + 1));
        refused("wrong state root", t, log, "checkpoint");
        // A v1 state entry slipped into a v2 proof.
        t = doc(prodDoc);
        t.put("state_entry", obj("index", 0, "leaf", "AA==", "inclusion_proof", new java.util.ArrayList<>()));
        refused("a state entry in a v2 proof", t, log, "state_entry");
        // Absence claimed for a present object, and presence for an absent one.
        t = doc(prodDoc);
        t.remove("record");
        t.put("state", obj("status", "absent", "status_zh", "不存在"));
        refused("absence of a present 登记号", t, log, "map_proof");
        t = doc(absentDoc);
        t.put("id", no);
        refused("the absence proof of another 登记号", t, log, "map_proof");

        // Bundle v2: the embedded status proof edited, or swapped for another object's.
        byte[] bundle = Files.readAllBytes(bundleFile);
        Map<String, Object> b = BundleTest.mutable(Json.parse(bundle, CertificateBundle.MAX_BUNDLE_BYTES));
        Map<String, Object> sp = BundleTest.at(b, "status_proof");
        BundleTest.at(sp, "state").put("status", "active");
        BundleTest.at(sp, "state").put("status_zh", "有效");
        BundleTest.at(b, "status").put("state", "active");
        try {
            CertificateBundle.verify(Codec.utf8(Json.write(b)), log);
            check(false, "a bundle edited to active must be refused");
        } catch (VerificationException e) {
            check(e.part().startsWith("status"), "refused naming the status: " + e.getMessage());
            System.out.println("refused as expected (bundle edited to active): " + e.getMessage());
        }
        b = BundleTest.mutable(Json.parse(bundle, CertificateBundle.MAX_BUNDLE_BYTES));
        b.put("status_proof", doc(opDoc));
        try {
            CertificateBundle.verify(Codec.utf8(Json.write(b)), log);
            check(false, "a bundle with another object's status proof must be refused");
        } catch (VerificationException e) {
            check(e.part().startsWith("status_proof"), "refused naming the status proof: " + e.getMessage());
            System.out.println("refused as expected (swapped status proof): " + e.getMessage());
        }

        out.put("product", obj("file", dir.resolve("status-product.json").toString(), "status", prod.state().status(),
                "status_zh", prod.state().statusZh(), "status_index", prod.state().statusIndex()));
        out.put("absent", obj("file", dir.resolve("status-absent.json").toString(), "status", absent.state().status()));
        out.put("participant", obj("file", dir.resolve("status-participant.json").toString(), "status",
                op.state().status(), "set_by", op.state().setBy()));
        return out;
    }

    static Map<String, Object> record(Receipt r) {
        System.out.println(r);
        return obj("kind", r.kind(), "index", r.index(), "leaf_hash", r.leafHashHex());
    }
}
