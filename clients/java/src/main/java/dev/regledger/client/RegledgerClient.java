package dev.regledger.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * A client of one regledger node: signs nothing itself (see
 * {@link Envelope#sign}), submits envelopes to {@code POST /v1/entries}
 * with retries, and verifies every answer against a trusted
 * {@link LogDescriptor} before returning it. Thread-safe; build one per
 * node and share it (a Spring singleton bean).
 *
 * <p><b>Idempotency.</b> The node's replay identity is the signed content
 * (payload type and payload bytes). Retrying the very same envelope after
 * a timeout or a dropped connection is therefore always safe: if the first
 * attempt was logged, the node answers {@code replayed-envelope} naming the
 * entry, and {@link #submit} fetches and verifies that entry and returns it
 * as the receipt ({@link Receipt#replayed()} true). To repeat an identical
 * act on purpose, sign a payload with a new {@code request_id}.
 *
 * <p><b>Errors.</b> A refusal by a registry rule is a {@link ProblemException}
 * (never retried); an answer that does not verify is a
 * {@link VerificationException} (never retried); no usable answer after
 * every attempt is a {@link TransportException}.
 */
public final class RegledgerClient {
    /** VERSION is the library version (User-Agent). */
    public static final String VERSION = "0.1.0";

    static final int MAX_ENTRY_BYTES = 2 << 20, MAX_SMALL_BYTES = 256 * 1024;

    private final URI base;
    private final LogDescriptor log;
    private final HttpClient http;
    private final int maxAttempts;
    private final Duration initialBackoff;
    private final Duration maxBackoff;
    private final Duration requestTimeout;
    private final Duration inclusionTimeout;

    // The latest checkpoint this client verified; every later one must be consistent with it.
    private final Object trackLock = new Object();
    private Checkpoint.Verified latest;

    private RegledgerClient(Builder b) {
        String s = b.base.toString();
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.log = b.log;
        this.http = b.http != null ? b.http
                : HttpClient.newBuilder().connectTimeout(b.requestTimeout).followRedirects(HttpClient.Redirect.NEVER)
                        .build();
        this.maxAttempts = b.maxAttempts;
        this.initialBackoff = b.initialBackoff;
        this.maxBackoff = b.maxBackoff;
        this.requestTimeout = b.requestTimeout;
        this.inclusionTimeout = b.inclusionTimeout;
        if (b.trustedCheckpoint != null) {
            this.latest = log.verifyCheckpoint(b.trustedCheckpoint);
        }
    }

    /** builder starts a client of the node at {@code baseUrl} trusting {@code log}. */
    public static Builder builder(URI baseUrl, LogDescriptor log) {
        return new Builder(baseUrl, log);
    }

    /** Builder configures a client. */
    public static final class Builder {
        private final URI base;
        private final LogDescriptor log;
        private HttpClient http;
        private int maxAttempts = 6;
        private Duration initialBackoff = Duration.ofMillis(200);
        private Duration maxBackoff = Duration.ofSeconds(5);
        private Duration requestTimeout = Duration.ofSeconds(30);
        private Duration inclusionTimeout = Duration.ofSeconds(60);
        private String trustedCheckpoint;

        private Builder(URI base, LogDescriptor log) {
            this.base = Objects.requireNonNull(base, "base URL");
            this.log = Objects.requireNonNull(log, "log descriptor");
        }

        /** httpClient uses your HttpClient (proxy, TLS settings). */
        public Builder httpClient(HttpClient c) {
            this.http = c;
            return this;
        }

        /** maxAttempts bounds the attempts of one request (default 6). */
        public Builder maxAttempts(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("at least one attempt");
            }
            this.maxAttempts = n;
            return this;
        }

        /** backoff sets the first and the largest wait between attempts (exponential, doubled each time). */
        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /** requestTimeout bounds one HTTP exchange (default 30 s; a submission waits up to 10 s for a checkpoint). */
        public Builder requestTimeout(Duration d) {
            this.requestTimeout = d;
            return this;
        }

        /** inclusionTimeout bounds the wait for a checkpoint that covers a new entry (default 60 s). */
        public Builder inclusionTimeout(Duration d) {
            this.inclusionTimeout = d;
            return this;
        }

        /**
         * trustedCheckpoint starts from a checkpoint you verified and kept
         * earlier (e.g. {@link RegledgerClient#latestCheckpoint()} saved at
         * shutdown): the node must then prove every answer consistent with it,
         * so it cannot roll back or fork the log it showed you.
         */
        public Builder trustedCheckpoint(String note) {
            this.trustedCheckpoint = note;
            return this;
        }

        /** build makes the client. */
        public RegledgerClient build() {
            return new RegledgerClient(this);
        }
    }

    /** log is the trusted descriptor. */
    public LogDescriptor log() {
        return log;
    }

    /** latestCheckpoint is the newest checkpoint this client verified (null before the first). */
    public String latestCheckpoint() {
        synchronized (trackLock) {
            return latest == null ? null : latest.note();
        }
    }

    /**
     * fetchDescriptorUnverified downloads {@code GET /log.json}. It proves
     * nothing about the node it came from: use it once, to pin the file
     * (compare its log key with the one the data authority publishes), not
     * as the trust anchor of every run.
     */
    public static LogDescriptor fetchDescriptorUnverified(URI baseUrl, HttpClient http) throws IOException {
        String s = baseUrl.toString().replaceAll("/+$", "");
        HttpRequest r = HttpRequest.newBuilder(URI.create(s + "/log.json")).timeout(Duration.ofSeconds(30)).GET()
                .build();
        try {
            HttpResponse<InputStream> resp = http.send(r, HttpResponse.BodyHandlers.ofInputStream());
            byte[] body = readBounded(resp.body(), LogDescriptor.MAX_DESCRIPTOR_BYTES);
            if (resp.statusCode() != 200) {
                throw ProblemException.parse(resp.statusCode(), body, null);
            }
            return LogDescriptor.parse(body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    // ---------------------------------------------------------------- submit

    /** submit signs {@code payload} as {@code key}, submits it and returns the verified receipt. */
    public Receipt submit(String kind, Payload payload, ParticipantKey key) {
        return submit(Envelope.sign(kind, payload, key));
    }

    /**
     * submit sends a signed envelope, retrying transient failures with the
     * same envelope, waits until a checkpoint covers it, and returns the
     * verified receipt.
     *
     * @throws ProblemException when the node refuses it (a rule, a malformed envelope)
     * @throws VerificationException when the node's answer does not verify
     * @throws TransportException when no attempt got an answer
     */
    public Receipt submit(Envelope env) {
        byte[] body = Json.write(env.toJson()).getBytes(StandardCharsets.UTF_8);
        RuntimeException last = null;
        for (int attempt = 1; attempt <= maxAttempts; attempt++) {
            if (attempt > 1) {
                sleep(backoff(attempt, last));
            }
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/entries?wait=checkpoint"))
                    .timeout(requestTimeout)
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json, application/problem+json")
                    .header("User-Agent", "regledger-java/" + VERSION)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                    .build();
            Answer a;
            try {
                a = exchange(req, MAX_ENTRY_BYTES);
            } catch (TransportException e) {
                last = e; // the outcome is unknown: the same envelope again is safe
                continue;
            }
            if (a.status == 200 || a.status == 202) {
                return receiptFrom(env, Json.object(parseJson(a.body, "receipt"), "receipt"));
            }
            ProblemException p = a.problem();
            if (p.isReplay()) {
                OptionalLong i = p.replayedIndex();
                if (i.isEmpty()) {
                    throw new VerificationException("problem", "replayed-envelope names no entry index: " + p.getMessage());
                }
                return verifyLogged(env, i.getAsLong(), null, null, true, null, null);
            }
            if (!p.isRetryable()) {
                throw p;
            }
            last = p;
        }
        throw new TransportException("no answer after " + maxAttempts + " attempts to " + base
                + " (提交结果未知；用同一信封重试是安全的 / outcome unknown; retrying the same envelope is safe): "
                + (last == null ? "" : last.getMessage()), last);
    }

    private Receipt receiptFrom(Envelope env, Map<String, Object> r) {
        long index = Json.u64(r, "index");
        byte[] leafHash;
        try {
            leafHash = Codec.unhex(Json.string(r, "leaf_hash"));
        } catch (IllegalArgumentException e) {
            throw new VerificationException("receipt.leaf_hash", "not hex");
        }
        Long time = r.containsKey("integrated_time_ms") ? Json.u64(r, "integrated_time_ms") : null;
        String note = r.get("checkpoint") instanceof String ? (String) r.get("checkpoint") : null;
        List<byte[]> proof = null;
        if (note != null && r.containsKey("inclusion_proof")) {
            proof = b64List(r.get("inclusion_proof"), "receipt.inclusion_proof");
        }
        String bno = r.get("blockchain_no") instanceof String ? (String) r.get("blockchain_no") : null;
        return verifyLogged(env, index, leafHash, time, false, note, proof, bno);
    }

    private Receipt verifyLogged(Envelope env, long index, byte[] claimedLeafHash, Long claimedTime, boolean replayed,
            String note, List<byte[]> proof) {
        return verifyLogged(env, index, claimedLeafHash, claimedTime, replayed, note, proof, null);
    }

    /**
     * verifyLogged checks that entry {@code index} holds {@code env}'s
     * signed content (byte for byte the envelope, for a fresh submission)
     * and is included in a verified checkpoint; every claim of the node's
     * answer must agree with the verified leaf.
     */
    private Receipt verifyLogged(Envelope env, long index, byte[] claimedLeafHash, Long claimedTime, boolean replayed,
            String note, List<byte[]> proof, String claimedBno) {
        Leaf leaf = entry(index);
        if (!leaf.envelope().sameSignedContent(env)) {
            throw new VerificationException("entry", "entry " + Long.toUnsignedString(index)
                    + " does not hold the submitted content");
        }
        if (!replayed && !MessageDigest.isEqual(leaf.envelope().toBinary(), env.toBinary())) {
            throw new VerificationException("entry", "entry " + Long.toUnsignedString(index)
                    + " holds other signatures than the submitted envelope");
        }
        byte[] lh = leaf.leafHash(log.suite());
        if (claimedLeafHash != null && !MessageDigest.isEqual(claimedLeafHash, lh)) {
            throw new VerificationException("receipt.leaf_hash", "is not H(0x00 ‖ leaf) of entry "
                    + Long.toUnsignedString(index) + " (hash suite " + log.suite().wireName() + ")");
        }
        if (claimedTime != null && claimedTime != leaf.integratedTimeMs()) {
            throw new VerificationException("receipt.integrated_time_ms", "differs from the leaf");
        }
        Checkpoint.Verified cp;
        if (note != null && proof != null) {
            cp = log.verifyCheckpoint(note);
            try {
                Merkle.verifyInclusion(log.suite(), index, cp.size(), lh, proof, cp.root());
            } catch (Merkle.ProofException e) {
                throw new VerificationException("receipt.inclusion_proof", e.reason());
            }
            track(cp);
        } else {
            cp = checkpointCovering(index);
            proof = inclusionProof(index, cp.size());
            try {
                Merkle.verifyInclusion(log.suite(), index, cp.size(), lh, proof, cp.root());
            } catch (Merkle.ProofException e) {
                throw new VerificationException("inclusion_proof", e.reason());
            }
        }
        String kind = leaf.envelope().kind();
        String bno = "product-registered".equals(kind) ? BlockchainNo.of(log.origin(), index, lh) : null;
        if (claimedBno != null && !claimedBno.equals(bno)) {
            throw new VerificationException("receipt.blockchain_no", "does not name this entry of this log");
        }
        return new Receipt(index, lh, leaf.integratedTimeMs(), kind, bno, replayed, leaf, cp, proof);
    }

    // ------------------------------------------------------------------ reads

    /**
     * entry fetches {@code GET /v1/entries/{index}} and returns the leaf,
     * checked against the node's other claims (index, leaf hash).
     */
    public Leaf entry(long index) {
        Map<String, Object> o = Json.object(parseJson(get("/v1/entries/" + Long.toUnsignedString(index),
                MAX_ENTRY_BYTES), "entry"), "entry");
        Leaf leaf;
        try {
            leaf = Leaf.parse(Codec.unb64(Json.string(o, "leaf")));
        } catch (VerificationException e) {
            throw e.within("entry");
        } catch (IllegalArgumentException e) {
            throw new VerificationException("entry.leaf", e.getMessage());
        }
        if (leaf.index() != index) {
            throw new VerificationException("entry.leaf", "is entry " + Long.toUnsignedString(leaf.index())
                    + ", not " + Long.toUnsignedString(index));
        }
        if (leaf.version() == 2) {
            // The node serves a v2 leaf's envelope beside it (as JSON): its
            // binary form must hash to the leaf's envelope hash.
            try {
                leaf = leaf.withEnvelope(log.suite(), Envelope.fromJson(o.get("envelope")).toBinary());
            } catch (VerificationException e) {
                throw e.within("entry");
            }
        }
        if (o.containsKey("leaf_hash")
                && !Codec.hex(leaf.leafHash(log.suite())).equals(Json.string(o, "leaf_hash"))) {
            throw new VerificationException("entry.leaf_hash", "is not H(0x00 ‖ leaf)");
        }
        return leaf;
    }

    /**
     * checkpoint fetches {@code GET /checkpoint}, verifies it (log key,
     * origin, witness quorum) and its consistency with the last checkpoint
     * this client verified.
     */
    public Checkpoint.Verified checkpoint() {
        byte[] b = get("/checkpoint", SignedNote.MAX_NOTE_BYTES);
        Checkpoint.Verified cp = log.verifyCheckpoint(new String(b, StandardCharsets.UTF_8));
        track(cp);
        return cp;
    }

    /** checkpointCovering waits until a verified checkpoint covers entry {@code index}. */
    public Checkpoint.Verified checkpointCovering(long index) {
        long deadline = System.nanoTime() + inclusionTimeout.toNanos();
        long wait = 50;
        while (true) {
            Checkpoint.Verified cp = checkpoint();
            if (Long.compareUnsigned(cp.size(), index) > 0) {
                return cp;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new TransportException("no checkpoint covers entry " + Long.toUnsignedString(index) + " after "
                        + inclusionTimeout.toSeconds() + " s (检查点未覆盖该条目 / not yet checkpointed)", null);
            }
            sleep(wait);
            wait = Math.min(wait * 2, 1000);
        }
    }

    /** inclusionProof fetches {@code GET /v1/proof/inclusion} (verify it before use). */
    public List<byte[]> inclusionProof(long index, long size) {
        Map<String, Object> o = Json.object(parseJson(get("/v1/proof/inclusion?index=" + Long.toUnsignedString(index)
                + "&size=" + Long.toUnsignedString(size), MAX_SMALL_BYTES), "proof"), "proof");
        return b64List(o.get("inclusion_proof"), "inclusion_proof");
    }

    /** consistencyProof fetches {@code GET /v1/proof/consistency} (verify it before use). */
    public List<byte[]> consistencyProof(long oldSize, long newSize) {
        Map<String, Object> o = Json.object(parseJson(get("/v1/proof/consistency?old=" + Long.toUnsignedString(oldSize)
                + "&new=" + Long.toUnsignedString(newSize), MAX_SMALL_BYTES), "proof"), "proof");
        return b64List(o.get("consistency_proof"), "consistency_proof");
    }

    /**
     * certificate fetches {@code GET /v1/certificates/{登记号}} and verifies
     * the bundle, including its checkpoint's consistency with what this
     * client saw. A v2 bundle's status is proven current by its status proof
     * ({@link VerifiedCertificate#statusProvenCurrent()}); a v1 bundle's is
     * the one a named entry set ({@link VerifiedCertificate#statusStatement()}).
     */
    public VerifiedCertificate certificate(String registrationNo) {
        byte[] b = certificateBundle(registrationNo);
        VerifiedCertificate c = CertificateBundle.verify(b, log);
        track(c.checkpoint());
        return c;
    }

    /**
     * status fetches {@code GET /v1/status/{kind}/{id}} and verifies the
     * status proof ({@link StatusProof}): the proven state of the object as
     * of a checkpoint consistent with what this client saw, absence (不存在)
     * included. Kinds: {@code product} (by 登记号), {@code participant},
     * {@code resource}, {@code agreement}, {@code credential}.
     */
    public StatusProof.Verified status(String kind, String id) {
        StatusProof.Verified v = StatusProof.verify(statusDocument(kind, id), log);
        if (!v.kind().equals(kind) || !v.id().equals(id)) {
            throw new VerificationException("status proof", "answers about " + v.kind() + " " + v.id() + ", not "
                    + kind + " " + id);
        }
        track(v.checkpoint());
        return v;
    }

    /** statusDocument fetches the status proof bytes as served (to store or hand to a venue). */
    public byte[] statusDocument(String kind, String id) {
        return get("/v1/status/" + URLEncoder.encode(kind, StandardCharsets.UTF_8) + "/"
                + URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20"), StatusProof.MAX_STATUS_BYTES);
    }

    /** certificateBundle fetches the bundle bytes as served (to store or hand to a regulator). */
    public byte[] certificateBundle(String registrationNo) {
        return get("/v1/certificates/" + URLEncoder.encode(registrationNo, StandardCharsets.UTF_8).replace("+", "%20"),
                CertificateBundle.MAX_BUNDLE_BYTES);
    }

    /**
     * track makes {@code cp} consistent with the latest checkpoint this
     * client verified: same size needs the same root; otherwise the node
     * must prove consistency between them (RFC 9162), whichever is larger.
     */
    void track(Checkpoint.Verified cp) {
        Checkpoint.Verified prev;
        synchronized (trackLock) {
            prev = latest;
        }
        if (prev == null) {
            synchronized (trackLock) {
                if (latest == null) {
                    latest = cp;
                    return;
                }
                prev = latest;
            }
        }
        int c = Long.compareUnsigned(cp.size(), prev.size());
        if (c == 0) {
            if (!MessageDigest.isEqual(cp.root(), prev.root())) {
                throw new VerificationException("checkpoint", "two signed checkpoints of size "
                        + Long.toUnsignedString(cp.size()) + " with different roots: the log forked (分叉)");
            }
            return;
        }
        Checkpoint.Verified older = c > 0 ? prev : cp;
        Checkpoint.Verified newer = c > 0 ? cp : prev;
        List<byte[]> proof = consistencyProof(older.size(), newer.size());
        try {
            Merkle.verifyConsistency(log.suite(), older.size(), newer.size(), proof, older.root(), newer.root());
        } catch (Merkle.ProofException e) {
            throw new VerificationException("checkpoint", "not consistent with checkpoint size "
                    + Long.toUnsignedString(older.size()) + " seen before: " + e.reason());
        }
        if (c > 0) {
            synchronized (trackLock) {
                if (Long.compareUnsigned(cp.size(), latest.size()) > 0) {
                    latest = cp;
                }
            }
        }
    }

    // ------------------------------------------------------------------- HTTP

    private static final class Answer {
        final int status;
        final byte[] body;
        final String citation;
        final long retryAfterSeconds;

        Answer(int status, byte[] body, String citation, long retryAfterSeconds) {
            this.status = status;
            this.body = body;
            this.citation = citation;
            this.retryAfterSeconds = retryAfterSeconds;
        }

        ProblemException problem() {
            ProblemException p = ProblemException.parse(status, body, citation);
            return retryAfterSeconds >= 0 ? new RetryAfter(p, retryAfterSeconds) : p;
        }
    }

    /** RetryAfter is a problem that came with a Retry-After header. */
    private static final class RetryAfter extends ProblemException {
        private static final long serialVersionUID = 1L;
        final long seconds;

        RetryAfter(ProblemException p, long seconds) {
            super(p.type(), p.title(), p.status(), p.detail().orElse(null), p.citation().orElse(null), p.extensions());
            this.seconds = seconds;
        }
    }

    private Answer exchange(HttpRequest req, int limit) {
        try {
            HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            byte[] body;
            try (InputStream in = resp.body()) {
                body = readBounded(in, limit);
            }
            long ra = resp.headers().firstValue("retry-after").map(v -> {
                try {
                    return Long.parseLong(v.trim());
                } catch (NumberFormatException e) {
                    return -1L;
                }
            }).orElse(-1L);
            return new Answer(resp.statusCode(), body, resp.headers().firstValue("x-regledger-citation").orElse(null), ra);
        } catch (IOException e) {
            throw new TransportException(req.method() + " " + req.uri() + ": " + describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted", e);
        }
    }

    private static String describe(IOException e) {
        if (e instanceof java.net.ConnectException) {
            return "connection refused: is the node running at this address? (连接被拒绝)";
        }
        if (e instanceof java.net.http.HttpTimeoutException) {
            return "timed out (超时)";
        }
        return e.toString();
    }

    /** get GETs a path with the same retry policy as submissions, returning a 200 body. */
    private byte[] get(String path, int limit) {
        RuntimeException last = null;
        for (int attempt = 1; attempt <= maxAttempts; attempt++) {
            if (attempt > 1) {
                sleep(backoff(attempt, last));
            }
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).timeout(requestTimeout)
                    .header("User-Agent", "regledger-java/" + VERSION).GET().build();
            try {
                Answer a = exchange(req, limit);
                if (a.status == 200) {
                    return a.body;
                }
                ProblemException p = a.problem();
                if (!p.isRetryable()) {
                    throw p;
                }
                last = p;
            } catch (TransportException e) {
                last = e;
            }
        }
        throw new TransportException("GET " + base + path + ": no answer after " + maxAttempts + " attempts: "
                + (last == null ? "" : last.getMessage()), last);
    }

    private long backoff(int attempt, RuntimeException last) {
        long ms = Math.min(maxBackoff.toMillis(), initialBackoff.toMillis() << Math.min(attempt - 2, 20));
        if (last instanceof RetryAfter) {
            ms = Math.min(maxBackoff.toMillis(), Math.max(ms, ((RetryAfter) last).seconds * 1000));
        }
        return ms;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted", e);
        }
    }

    static byte[] readBounded(InputStream in, int limit) throws IOException {
        byte[] b = in.readNBytes(limit + 1);
        if (b.length > limit) {
            throw new IOException("answer larger than " + limit + " bytes");
        }
        return b;
    }

    private static Object parseJson(byte[] b, String what) {
        try {
            return Json.parse(b, b.length);
        } catch (IllegalArgumentException e) {
            throw new VerificationException(what, "not JSON: " + e.getMessage());
        }
    }

    private static List<byte[]> b64List(Object v, String what) {
        List<byte[]> out = new ArrayList<>();
        try {
            for (Object h : Json.array(v, what)) {
                if (!(h instanceof String)) {
                    throw new IllegalArgumentException("not a string");
                }
                out.add(Codec.unb64((String) h));
            }
        } catch (IllegalArgumentException e) {
            throw new VerificationException(what, "not a list of base64 hashes");
        }
        return out;
    }
}
