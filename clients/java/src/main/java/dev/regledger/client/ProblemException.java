package dev.regledger.client;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ProblemException is an RFC 9457 problem answered by a node
 * ({@code application/problem+json}). {@link #code()} is the stable
 * problem type without its base (e.g. {@code invalid-transition},
 * {@code wrong-party}, {@code replayed-envelope}); switch on it, not on
 * the text.
 */
public class ProblemException extends RegledgerException {
    private static final long serialVersionUID = 1L;

    /** PROBLEM_BASE prefixes every regledger problem type. */
    public static final String PROBLEM_BASE = "https://regledger.dev/problems/";

    /** MAX_PROBLEM_BYTES bounds a problem body the client parses. */
    public static final int MAX_PROBLEM_BYTES = 64 * 1024;

    private final String type;
    private final String title;
    private final int status;
    private final String detail;
    private final String citation;
    private final transient Map<String, Object> extensions;

    /** ProblemException from its members. */
    public ProblemException(String type, String title, int status, String detail, String citation,
            Map<String, Object> extensions) {
        super(status + " " + code(type) + ": " + (detail == null ? title : detail)
                + (citation == null ? "" : " (" + citation + ")"));
        this.type = type;
        this.title = title;
        this.status = status;
        this.detail = detail;
        this.citation = citation;
        this.extensions = Collections.unmodifiableMap(new LinkedHashMap<>(extensions));
    }

    private static String code(String type) {
        if (type != null && type.startsWith(PROBLEM_BASE)) {
            return type.substring(PROBLEM_BASE.length());
        }
        return type == null ? "about:blank" : type;
    }

    /**
     * parse reads a problem body. A body that is not a problem object still
     * yields a ProblemException (type {@code about:blank}) carrying the HTTP
     * status, so a caller always gets the status and some text.
     */
    public static ProblemException parse(int httpStatus, byte[] body, String citationHeader) {
        try {
            Map<String, Object> o = Json.object(Json.parse(body, MAX_PROBLEM_BYTES), "problem");
            String type = o.get("type") instanceof String ? (String) o.get("type") : "about:blank";
            String title = o.get("title") instanceof String ? (String) o.get("title") : "";
            String detail = o.get("detail") instanceof String ? (String) o.get("detail") : null;
            int status = httpStatus;
            Map<String, Object> ext = new LinkedHashMap<>(o);
            for (String k : new String[] {"type", "title", "status", "detail", "instance"}) {
                ext.remove(k);
            }
            return new ProblemException(type, title, status, detail, citationHeader, ext);
        } catch (IllegalArgumentException e) {
            String text = new String(body, 0, Math.min(body.length, 512),
                    java.nio.charset.StandardCharsets.UTF_8);
            return new ProblemException("about:blank", "HTTP " + httpStatus, httpStatus, text,
                    citationHeader, Map.of());
        }
    }

    /** type is the full problem type URI. */
    public String type() {
        return type;
    }

    /** code is the problem type without {@link #PROBLEM_BASE}. */
    public String code() {
        return code(type);
    }

    /** title is the short, stable summary. */
    public String title() {
        return title;
    }

    /** status is the HTTP status. */
    public int status() {
        return status;
    }

    /** detail is the explanation, if any. */
    public Optional<String> detail() {
        return Optional.ofNullable(detail);
    }

    /** citation is the regulation article the node cited ({@code x-regledger-citation}), if any. */
    public Optional<String> citation() {
        return Optional.ofNullable(citation);
    }

    /** extensions are the problem's other members. */
    public Map<String, Object> extensions() {
        return extensions;
    }

    /** isReplay says the signed content is already logged ({@code replayed-envelope}). */
    public boolean isReplay() {
        return "replayed-envelope".equals(code());
    }

    /**
     * isRetryable says a later retry of the same envelope may succeed:
     * overload, storage or shutdown (503), a request timeout (408), a
     * checkpoint not yet published.
     */
    public boolean isRetryable() {
        switch (code()) {
            case "overloaded":
            case "storage-unavailable":
            case "shutting-down":
            case "checkpoint-pending":
                return true;
            default:
                return status == 408 || status == 429 || status == 503 || status == 502
                        || status == 504;
        }
    }

    private static final Pattern ENTRY_N = Pattern.compile("\\bentry (\\d{1,20})\\b");

    /**
     * replayedIndex is the index of the entry that already holds this
     * content. It reads an integer {@code index} member if the node sends
     * one, else the "entry N" in the detail. Either way the client then
     * fetches that entry and checks it holds the same signed content, so a
     * wrong number can never pass as a receipt.
     */
    public OptionalLong replayedIndex() {
        if (!isReplay()) {
            return OptionalLong.empty();
        }
        Object ix = extensions.get("index");
        if (ix != null) {
            try {
                return OptionalLong.of(Json.u64(ix, "index"));
            } catch (IllegalArgumentException e) {
                return OptionalLong.empty();
            }
        }
        if (detail != null) {
            Matcher m = ENTRY_N.matcher(detail);
            if (m.find()) {
                try {
                    return OptionalLong.of(Codec.parseU64(m.group(1)));
                } catch (IllegalArgumentException e) {
                    return OptionalLong.empty();
                }
            }
        }
        return OptionalLong.empty();
    }
}
