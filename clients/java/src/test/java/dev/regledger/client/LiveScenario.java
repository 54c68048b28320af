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
 * {@code DIR} holds source.key, agency.key, operator.key and business.key.
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
        ParticipantKey business = ParticipantKey.load(keys.resolve("business.key"));
        RegledgerClient c = RegledgerClient.builder(URI.create(a.get("--url")), log)
                .inclusionTimeout(Duration.ofSeconds(120)).build();

        // Dates the way the node reads them: China Standard Time.
        LocalDate today = LocalDate.now(ZoneOffset.ofHours(8));
        String t = today.toString();
        String doc = Codec.hex(HashSuite.BLAKE3.hash(Codec.utf8("授权运营协议（测试文本）")));
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
                "document_title", "公共数据授权运营实施方案", "document_blake3", doc)), agency);
        entries.add(record(r));
        r = c.submit("agreement-filed", Payload.of(obj("id", "OA-J", "agreement_type", "operation-agreement",
                "parties", List.of(agency.participantId(), operator.participantId()), "grantee", operator.participantId(),
                "scope", List.of(res), "signed_on", t, "term_start", t, "term_end", today.plusYears(2).toString(),
                "document_title", "公共数据资源授权运营协议", "document_blake3", doc)), agency);
        entries.add(record(r));
        r = c.submit("agreement-filed", Payload.of(obj("id", "SA-J", "agreement_type", "scene-authorization",
                "parties", List.of(operator.participantId(), business.participantId()), "grantee", business.participantId(),
                "parent", "OA-J", "scope", List.of(res), "scene", "公交出行规划", "signed_on", t, "term_start", t,
                "term_end", today.plusYears(1).toString(), "document_title", "场景授权协议", "document_blake3", doc)), operator);
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
        check(!cert.statusProvenCurrent(), "a v1 bundle never proves the status current");
        check(operator.participantId().equals(cert.signer()), "signed by the operator");

        Receipt susp = c.submit("product-suspended", Payload.of(obj("id", "P-J", "reason", "整改", "effective_on", t)), operator);
        entries.add(record(susp));
        VerifiedCertificate after = c.certificate(no);
        check(after.status().equals("suspended") && after.statusSetByIndex() == susp.index(),
                "suspended, set by entry " + susp.index() + ": " + after);
        check(!after.statusProvenCurrent(), "still not proven current");
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

        Checkpoint.Verified cp = c.checkpoint();
        check(Long.compareUnsigned(cp.size(), r3.index()) > 0, "the latest checkpoint covers every entry");

        Map<String, Object> out = obj("entries", entries, "registration_no", no, "blockchain_no", after.blockchainNo(),
                "status", after.status(), "status_set_by_index", after.statusSetByIndex(),
                "signer_chain_anchored", after.signerChainAnchored(), "signer", after.signer(),
                "replayed_index", again.index(), "bundle", bundleFile.toString(), "checkpoint_size", cp.size(),
                "batch", batch);
        Files.writeString(Path.of(a.get("--out")), Json.write(out));
        System.out.println("OK: " + entries.size() + " entries written and verified; checkpoint size " + cp.size());
    }

    static Map<String, Object> record(Receipt r) {
        System.out.println(r);
        return obj("kind", r.kind(), "index", r.index(), "leaf_hash", r.leafHashHex());
    }
}
