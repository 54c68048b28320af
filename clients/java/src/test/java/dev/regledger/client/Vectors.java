package dev.regledger.client;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Vectors loads the repository's test vectors (offline) for the tests. */
final class Vectors {
    private Vectors() {}

    static Path repo() {
        String r = System.getProperty("regledger.repo");
        if (r == null) {
            throw new IllegalStateException("run the tests with -Dregledger.repo=<repository root> (build.sh does)");
        }
        return Path.of(r);
    }

    static Map<String, Object> load(String rel) {
        try {
            byte[] b = Files.readAllBytes(repo().resolve(rel));
            return Json.object(Json.parse(b, 16 << 20), rel);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Object> obj(Map<String, Object> o, String... path) {
        Map<String, Object> cur = o;
        for (String k : path) {
            cur = Json.object(cur.get(k), k);
        }
        return cur;
    }

    static List<Object> arr(Map<String, Object> o, String k) {
        return Json.array(o.get(k), k);
    }

    static String s(Map<String, Object> o, String k) {
        return Json.string(o, k);
    }

    static byte[] hex(Map<String, Object> o, String k) {
        return Codec.unhex(s(o, k));
    }

    static List<byte[]> hexList(Object l) {
        List<byte[]> out = new ArrayList<>();
        for (Object x : Json.array(l, "list")) {
            out.add(Codec.unhex((String) x));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> m(Object o) {
        return (Map<String, Object>) o;
    }
}
