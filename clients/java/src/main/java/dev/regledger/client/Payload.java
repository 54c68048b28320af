package dev.regledger.client;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The exact JSON bytes an entry signs. Built from text or bytes you
 * provide (kept byte for byte) or from a map (serialized once, here).
 * Either way it must be one strict JSON object of at most 60 KiB; the node
 * then checks it against the kind's schema (schemas/entries/).
 */
public final class Payload {
    /** MAX_REQUEST_ID_BYTES bounds a {@code request_id}. */
    public static final int MAX_REQUEST_ID_BYTES = 64;

    private final byte[] bytes;
    private final Map<String, Object> parsed;

    private Payload(byte[] bytes) {
        if (bytes.length > Envelope.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload larger than 60 KiB");
        }
        this.parsed = Json.object(Json.parse(bytes, Envelope.MAX_PAYLOAD), "payload");
        this.bytes = bytes.clone();
    }

    /** ofJson keeps the UTF-8 bytes of {@code json} exactly. */
    public static Payload ofJson(String json) {
        return new Payload(json.getBytes(StandardCharsets.UTF_8));
    }

    /** ofBytes keeps {@code bytes} exactly. */
    public static Payload ofBytes(byte[] bytes) {
        return new Payload(bytes);
    }

    /** of serializes a map (insertion order kept) once; its bytes are then fixed. */
    public static Payload of(Map<String, ?> fields) {
        return new Payload(Json.write(new LinkedHashMap<>(fields)).getBytes(StandardCharsets.UTF_8));
    }

    /** bytes is a copy of the exact bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /** fields is the parsed object (read-only). */
    public Map<String, Object> fields() {
        return parsed;
    }

    /** requestId is the payload's {@code request_id}, or null. */
    public String requestId() {
        Object v = parsed.get("request_id");
        return v instanceof String ? (String) v : null;
    }

    /**
     * validRequestId: 1 to 64 printable ASCII characters without spaces
     * (0x21..0x7E), e.g. a UUID.
     */
    public static boolean validRequestId(String id) {
        if (id == null || id.isEmpty() || id.length() > MAX_REQUEST_ID_BYTES) {
            return false;
        }
        return id.chars().allMatch(c -> c >= 0x21 && c <= 0x7e);
    }

    /** randomRequestId returns a fresh UUID. */
    public static String randomRequestId() {
        return UUID.randomUUID().toString();
    }

    /**
     * withRequestId returns a payload that also carries {@code request_id}.
     * The node treats a second submission of identical signed content as a
     * replay of the first; a fresh request id makes a deliberate repeat of
     * the same act (suspend, resume, suspend again) a new entry, while a
     * retry of the same signed envelope stays idempotent. The member is
     * inserted as the first member of the object; every other byte is kept.
     *
     * @throws IllegalArgumentException if the id is invalid or the payload has one already
     */
    public Payload withRequestId(String id) {
        if (!validRequestId(id)) {
            throw new IllegalArgumentException("request_id must be 1 to 64 printable ASCII characters without spaces");
        }
        if (parsed.containsKey("request_id")) {
            throw new IllegalArgumentException("payload already has a request_id");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        int open = text.indexOf('{');
        String member = "\"request_id\":" + Json.quote(id);
        String rest = text.substring(open + 1);
        String sep = parsed.isEmpty() ? "" : ",";
        return new Payload((text.substring(0, open + 1) + member + sep + rest).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
