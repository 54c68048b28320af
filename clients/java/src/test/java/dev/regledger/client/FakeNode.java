package dev.regledger.client;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * FakeNode serves a {@link TestLog} over the node's HTTP API on loopback
 * (JDK HttpServer), with hooks that make it misbehave: answers lost after
 * a commit, overload, tampered receipts and leaves, forked checkpoints.
 * Replay identity is the signed content, as on the node (D12).
 */
final class FakeNode implements AutoCloseable {
    final TestLog log;
    final HttpServer server;
    final Map<String, Long> byContent = new HashMap<>();
    final AtomicInteger posts = new AtomicInteger();

    volatile int lostAnswers; // commit, then answer 408 (what a request timeout looks like)
    volatile int overloaded; // answer 503 overloaded without committing
    volatile UnaryOperator<Map<String, Object>> receiptTamper = r -> r;
    volatile Long replayIndexLie; // name another entry in replayed-envelope
    volatile Map<Long, byte[]> leafOverride = new HashMap<>();
    volatile String checkpointOverride;
    volatile Map<String, Object> problemFor; // answer every POST with this problem (status in "status")

    FakeNode(TestLog log) throws IOException {
        this.log = log;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private static void send(HttpExchange x, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        x.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        try (OutputStream o = x.getResponseBody()) {
            o.write(b);
        }
    }

    private static void problem(HttpExchange x, int status, String code, String detail) throws IOException {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("type", ProblemException.PROBLEM_BASE + code);
        p.put("title", code);
        p.put("status", status);
        p.put("detail", detail);
        send(x, status, "application/problem+json", Json.write(p));
    }

    private static Map<String, String> query(URI u) {
        Map<String, String> q = new HashMap<>();
        if (u.getQuery() != null) {
            for (String kv : u.getQuery().split("&")) {
                String[] p = kv.split("=", 2);
                q.put(p[0], p.length > 1 ? p[1] : "");
            }
        }
        return q;
    }

    private String checkpointNote() {
        return checkpointOverride != null ? checkpointOverride : log.checkpoint(log.leaves.size());
    }

    private synchronized void handle(HttpExchange x) throws IOException {
        try {
            String path = x.getRequestURI().getPath();
            Map<String, String> q = query(x.getRequestURI());
            if (x.getRequestMethod().equals("POST") && path.equals("/v1/entries")) {
                post(x, q);
            } else if (path.startsWith("/v1/entries/")) {
                long i = Long.parseLong(path.substring("/v1/entries/".length()));
                if (i >= log.leaves.size()) {
                    problem(x, 404, "not-found", "no entry " + i);
                    return;
                }
                byte[] leaf = leafOverride.getOrDefault(i, log.leaves.get((int) i));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("index", i);
                m.put("leaf", Codec.b64(leaf));
                m.put("leaf_hash", Codec.hex(log.suite.leafHash(leaf)));
                send(x, 200, "application/json", Json.write(m));
            } else if (path.equals("/checkpoint")) {
                send(x, 200, "text/plain; charset=utf-8", checkpointNote());
            } else if (path.equals("/v1/proof/inclusion")) {
                long i = Long.parseLong(q.get("index"));
                long s = Long.parseLong(q.get("size"));
                send(x, 200, "application/json", Json.write(Map.of("index", i, "size", s,
                        "inclusion_proof", log.inclusionB64(i, s))));
            } else if (path.equals("/v1/proof/consistency")) {
                long a = Long.parseLong(q.get("old"));
                long b = Long.parseLong(q.get("new"));
                if (a == 0 || a > b || b > log.leaves.size()) {
                    problem(x, 400, "bad-parameter", "out of range");
                    return;
                }
                send(x, 200, "application/json", Json.write(Map.of("old", a, "new", b,
                        "consistency_proof", log.consistencyB64(a, b))));
            } else {
                problem(x, 404, "not-found", "no such resource");
            }
        } catch (RuntimeException e) {
            problem(x, 500, "internal", e.toString());
        }
    }

    private void post(HttpExchange x, Map<String, String> q) throws IOException {
        posts.incrementAndGet();
        byte[] body = x.getRequestBody().readAllBytes();
        if (problemFor != null) {
            x.getResponseHeaders().set("x-regledger-citation", "Guangxi Art. 12");
            problem(x, ((Number) problemFor.get("status")).intValue(), (String) problemFor.get("code"),
                    (String) problemFor.get("detail"));
            return;
        }
        if (overloaded > 0) {
            overloaded--;
            x.getResponseHeaders().set("Retry-After", "1");
            problem(x, 503, "overloaded", "the sequencer queue is full; retry later");
            return;
        }
        Envelope e = Envelope.fromJson(Json.parse(body, 1 << 20));
        String id = Codec.hex(e.contentId());
        Long seen = byContent.get(id);
        if (seen != null) {
            long named = replayIndexLie != null ? replayIndexLie : seen;
            problem(x, 409, "replayed-envelope", "this signed content is already entry " + named
                    + "; to repeat the act deliberately, add or change request_id in the payload and sign it again");
            return;
        }
        long i = log.append(e);
        byContent.put(id, i);
        if (lostAnswers > 0) {
            lostAnswers--;
            problem(x, 408, "timeout", "request timed out");
            return;
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("index", i);
        r.put("leaf_hash", Codec.hex(log.hashes.get((int) i)));
        r.put("integrated_time_ms", Leaf.parse(log.leaves.get((int) i)).integratedTimeMs());
        r.put("kind", e.kind());
        if ("product-registered".equals(e.kind())) {
            r.put("blockchain_no", BlockchainNo.of(log.origin, i, log.hashes.get((int) i)));
        }
        if ("checkpoint".equals(q.get("wait"))) {
            long size = log.leaves.size();
            r.put("inclusion_proof", log.inclusionB64(i, size));
            r.put("checkpoint", checkpointNote());
            r.put("tree_size", size);
        }
        send(x, 200, "application/json", Json.write(receiptTamper.apply(r)));
    }
}
