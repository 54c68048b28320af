package dev.regledger.client;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict, bounded JSON on top of Gson's streaming reader and writer
 * (Debian's libgoogle-gson-java): a tree of {@code Map<String,Object>},
 * {@code List<Object>}, {@code String}, {@code BigDecimal}, {@code Boolean}
 * and {@link #NULL}.
 *
 * <p>Every answer of a node is hostile input to a verifier, so the parser
 * refuses what serde_json (the node's parser) refuses or what could be read
 * two ways: invalid UTF-8, duplicate object keys, lone surrogates, trailing
 * data, comments and other lenient syntax, nesting deeper than
 * {@link #MAX_DEPTH}, and input larger than the caller's bound.
 */
public final class Json {
    private Json() {}

    /** MAX_DEPTH bounds nesting; no regledger document nests deeper than a few levels. */
    public static final int MAX_DEPTH = 64;

    /** NULL is JSON null (distinct from an absent key). */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** JsonException says why a document was refused. */
    public static final class JsonException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        JsonException(String m) {
            super(m);
        }
    }

    /**
     * parse reads one JSON document of at most {@code maxBytes} bytes.
     *
     * @throws JsonException if it is too large, not UTF-8, or not strict JSON
     */
    public static Object parse(byte[] bytes, int maxBytes) {
        if (bytes.length > maxBytes) {
            throw new JsonException("JSON document larger than " + maxBytes + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new JsonException("JSON is not UTF-8");
        }
        try (JsonReader r = new JsonReader(new StringReader(text))) {
            r.setLenient(false);
            Object v = read(r, 0);
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new JsonException("trailing data after the JSON value");
            }
            return v;
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw new JsonException("not strict JSON: " + e.getMessage());
        }
    }

    private static Object read(JsonReader r, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new JsonException("JSON nested deeper than " + MAX_DEPTH);
        }
        switch (r.peek()) {
            case BEGIN_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                r.beginObject();
                while (r.hasNext()) {
                    String k = checkString(r.nextName());
                    if (m.containsKey(k)) {
                        throw new JsonException("duplicate key " + k);
                    }
                    m.put(k, read(r, depth + 1));
                }
                r.endObject();
                return Collections.unmodifiableMap(m);
            }
            case BEGIN_ARRAY: {
                List<Object> l = new ArrayList<>();
                r.beginArray();
                while (r.hasNext()) {
                    l.add(read(r, depth + 1));
                }
                r.endArray();
                return Collections.unmodifiableList(l);
            }
            case STRING:
                return checkString(r.nextString());
            case NUMBER:
                return new BigDecimal(r.nextString());
            case BOOLEAN:
                return r.nextBoolean();
            case NULL:
                r.nextNull();
                return NULL;
            default:
                throw new JsonException("unexpected " + r.peek());
        }
    }

    private static String checkString(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    throw new JsonException("lone surrogate in a string");
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                throw new JsonException("lone surrogate in a string");
            }
        }
        return s;
    }

    // ---- typed access: each names the field that is wrong ----

    /** object returns v as an object, or throws naming {@code what}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Object v, String what) {
        if (v instanceof Map) {
            return (Map<String, Object>) v;
        }
        throw new JsonException(what + " must be a JSON object");
    }

    /** array returns v as an array, or throws naming {@code what}. */
    @SuppressWarnings("unchecked")
    public static List<Object> array(Object v, String what) {
        if (v instanceof List) {
            return (List<Object>) v;
        }
        throw new JsonException(what + " must be a JSON array");
    }

    /** string returns o[k] as a string. */
    public static String string(Map<String, Object> o, String k) {
        Object v = o.get(k);
        if (v instanceof String) {
            return (String) v;
        }
        throw new JsonException(k + " must be a string");
    }

    /** optString returns o[k] as a string, or null when absent. */
    public static String optString(Map<String, Object> o, String k) {
        return o.containsKey(k) ? string(o, k) : null;
    }

    /** u64 returns o[k] as an unsigned 64-bit integer (a long bit pattern). */
    public static long u64(Map<String, Object> o, String k) {
        return u64(o.get(k), k);
    }

    /** u64 returns v as an unsigned 64-bit integer (a long bit pattern). */
    public static long u64(Object v, String what) {
        if (v instanceof BigDecimal) {
            try {
                BigInteger i = ((BigDecimal) v).toBigIntegerExact();
                if (i.signum() >= 0 && i.bitLength() <= 64) {
                    return i.longValue();
                }
            } catch (ArithmeticException e) {
                // fall through: not an integer
            }
        }
        throw new JsonException(what + " must be an unsigned 64-bit integer");
    }

    /** bool returns o[k] as a boolean. */
    public static boolean bool(Map<String, Object> o, String k) {
        Object v = o.get(k);
        if (v instanceof Boolean) {
            return (Boolean) v;
        }
        throw new JsonException(k + " must be true or false");
    }

    /** onlyKeys refuses any key of o outside {@code allowed} (serde's deny_unknown_fields). */
    public static void onlyKeys(Map<String, Object> o, String what, String... allowed) {
        outer:
        for (String k : o.keySet()) {
            for (String a : allowed) {
                if (a.equals(k)) {
                    continue outer;
                }
            }
            throw new JsonException("unknown field " + k + " in " + what);
        }
    }

    // ---- writing ----

    /**
     * write serializes a tree (Map, List, String, Number, Boolean, NULL or
     * null) compactly, with non-ASCII characters as UTF-8 and no HTML
     * escaping. Keys keep the map's iteration order.
     */
    public static String write(Object v) {
        StringWriter s = new StringWriter();
        try (JsonWriter w = new JsonWriter(s)) {
            w.setHtmlSafe(false);
            w.setSerializeNulls(true);
            w.setLenient(false);
            write(w, v, 0);
        } catch (IOException e) {
            throw new IllegalStateException("StringWriter does not fail", e);
        }
        return s.toString();
    }

    /** quote returns the JSON string literal of s. */
    public static String quote(String s) {
        return write(s);
    }

    private static void write(JsonWriter w, Object v, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new JsonException("JSON nested deeper than " + MAX_DEPTH);
        }
        if (v == null || v == NULL) {
            w.nullValue();
        } else if (v instanceof String) {
            w.value(checkString((String) v));
        } else if (v instanceof Boolean) {
            w.value((Boolean) v);
        } else if (v instanceof BigDecimal || v instanceof BigInteger || v instanceof Long
                || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            w.value((Number) v);
        } else if (v instanceof Map) {
            w.beginObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!(e.getKey() instanceof String)) {
                    throw new JsonException("object keys must be strings");
                }
                w.name(checkString((String) e.getKey()));
                write(w, e.getValue(), depth + 1);
            }
            w.endObject();
        } else if (v instanceof List) {
            w.beginArray();
            for (Object x : (List<?>) v) {
                write(w, x, depth + 1);
            }
            w.endArray();
        } else {
            // Doubles and other types are refused: regledger payloads carry
            // integers and strings, and a float would not round-trip exactly.
            throw new JsonException("cannot write " + v.getClass().getName() + " as JSON");
        }
    }

    /**
     * jsonEquals compares two trees as JSON values: objects by key set
     * (order-free), arrays in order, numbers by numeric value.
     */
    public static boolean jsonEquals(Object a, Object b) {
        if (a instanceof Map && b instanceof Map) {
            Map<?, ?> x = (Map<?, ?>) a;
            Map<?, ?> y = (Map<?, ?>) b;
            if (!x.keySet().equals(y.keySet())) {
                return false;
            }
            for (Object k : x.keySet()) {
                if (!jsonEquals(x.get(k), y.get(k))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof List && b instanceof List) {
            List<?> x = (List<?>) a;
            List<?> y = (List<?>) b;
            if (x.size() != y.size()) {
                return false;
            }
            for (int i = 0; i < x.size(); i++) {
                if (!jsonEquals(x.get(i), y.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof BigDecimal && b instanceof BigDecimal) {
            return ((BigDecimal) a).compareTo((BigDecimal) b) == 0;
        }
        return a != null && a.equals(b);
    }
}
