package dev.regledger.client;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Verifies a status proof ({@code regledger-status-proof/v2} or {@code /v1},
 * {@code GET /v1/status/{kind}/{id}}, schemas/FORMATS.md "Status proof"): as of a
 * cosigned checkpoint of size N, the registry object {@code kind}/{@code id}
 * has this state, or no such object exists (不存在).
 *
 * <p>What is checked, in order: the checkpoint against the pinned log.json
 * (log key, origin, witness quorum); the key is built here from
 * {@code kind} and {@code id} (after checking {@code id} against the
 * identifier grammar), never taken from the document; the state root is
 * the checkpoint's state line ({@link StateLine}, v2) or, in a v1 proof,
 * the state entry's, leaf N−1, a v2 leaf included at N (and the state line
 * too, if the checkpoint has one, must say what it says); the state map
 * proof of that key leads to that state root, with the record (presence) or without it
 * (absence); the record parses strictly as the key's record; the state it
 * shows is derived here, and the document's {@code state} must equal it, so
 * an edited status is refused rather than believed.
 */
public final class StatusProof {
    private StatusProof() {}

    /** FORMAT names the status proof format of a checkpoint with a state line. */
    public static final String FORMAT = "regledger-status-proof/v2";

    /** FORMAT_V1 names the format of a checkpoint without one: it carries leaf N-1. */
    public static final String FORMAT_V1 = "regledger-status-proof/v1";

    /** MAX_STATUS_BYTES bounds a status document. */
    public static final int MAX_STATUS_BYTES = 1 << 20;

    /** China Standard Time: the registry's dates are China dates. */
    static final ZoneOffset CHINA = ZoneOffset.ofHours(8);

    private static final Pattern NUMBER = Pattern.compile("[A-Z0-9]+(-[A-Z0-9]+)*");
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?");

    private static VerificationException fail(String part, String reason) {
        return new VerificationException(part, reason);
    }

    /**
     * stateKey is the state map key of {@code kind}/{@code id}
     * ({@code regno/}, {@code participant/}, {@code resource/},
     * {@code agreement/}, {@code credential/}), after checking {@code id}
     * against the identifier grammar of the kind.
     *
     * @throws VerificationException (part {@code kind} or {@code id})
     */
    public static String stateKey(String kind, String id) {
        String prefix;
        boolean number;
        switch (kind) {
            case "product":
                prefix = "regno/";
                number = true;
                break;
            case "credential":
                prefix = "credential/";
                number = true;
                break;
            case "participant":
            case "resource":
            case "agreement":
                prefix = kind + "/";
                number = false;
                break;
            default:
                throw fail("kind", "unknown kind " + kind + " (product, participant, resource, agreement, credential)");
        }
        if (id.isEmpty() || id.length() > 64 || !(number ? NUMBER : ID).matcher(id).matches()) {
            throw fail("id", number ? "not a 登记号/授权编号: upper-case ASCII letters and digits in groups joined by"
                    + " single '-', 1-64 bytes" : "not an identifier: ASCII letters, digits, '-', '_', '.', starting and"
                    + " ending with a letter or digit, 1-64 bytes");
        }
        return prefix + id;
    }

    /** labelZh is the Chinese label of a state name. */
    static String labelZh(String status) {
        switch (status) {
            case "approved":
                return "已审核待登记";
            case "active":
                return "有效";
            case "suspended":
                return "暂停";
            case "terminated":
                return "已终止";
            case "revoked":
                return "已撤销登记";
            case "deregistered":
                return "已注销登记";
            default:
                throw fail("record", "unknown status " + status);
        }
    }

    /** State is the state a status proof shows: what a venue acts on. */
    public static final class State {
        private final String status;
        private final String statusZh;
        private final Long setBy;
        private final Long statusIndex;
        private final String productId;

        State(String status, String statusZh, Long setBy, Long statusIndex, String productId) {
            this.status = status;
            this.statusZh = statusZh;
            this.setBy = setBy;
            this.statusIndex = statusIndex;
            this.productId = productId;
        }

        static State absent() {
            return new State("absent", "不存在", null, null, null);
        }

        /**
         * status is {@code active}, {@code suspended}, {@code revoked},
         * {@code deregistered}, {@code terminated}, {@code expired},
         * {@code not-yet-valid} or {@code absent}.
         */
        public String status() {
            return status;
        }

        /** statusZh is its Chinese label (有效, 暂停, 已撤销登记, 已注销登记, 不存在, …). */
        public String statusZh() {
            return statusZh;
        }

        /** setBy is the entry that last wrote the object (null: absent). */
        public Long setBy() {
            return setBy;
        }

        /** statusIndex is the entry that set a product's status (products only). */
        public Long statusIndex() {
            return statusIndex;
        }

        /** productId is the product a 登记号 names (products only). */
        public String productId() {
            return productId;
        }

        /** isActive says the state is 有效. */
        public boolean isActive() {
            return "active".equals(status);
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof State)) {
                return false;
            }
            State s = (State) o;
            return status.equals(s.status) && statusZh.equals(s.statusZh) && Objects.equals(setBy, s.setBy)
                    && Objects.equals(statusIndex, s.statusIndex) && Objects.equals(productId, s.productId);
        }

        @Override
        public int hashCode() {
            return Objects.hash(status, setBy);
        }

        @Override
        public String toString() {
            return statusZh + " (" + status + ")" + (setBy == null ? "" : ", set by entry " + Long.toUnsignedString(setBy));
        }
    }

    /** Verified is what a verified status proof establishes. */
    public static final class Verified {
        private final String kind;
        private final String id;
        private final State state;
        private final Map<String, Object> record;
        private final Checkpoint.Verified checkpoint;
        private final List<Long> witnessTimes;
        private final long stateTimeMs;

        Verified(String kind, String id, State state, Map<String, Object> record, Checkpoint.Verified checkpoint,
                List<Long> witnessTimes, long stateTimeMs) {
            this.kind = kind;
            this.id = id;
            this.state = state;
            this.record = record;
            this.checkpoint = checkpoint;
            this.witnessTimes = Collections.unmodifiableList(witnessTimes);
            this.stateTimeMs = stateTimeMs;
        }

        /** kind is what the proof is about ({@code product}, {@code participant}, …). */
        public String kind() {
            return kind;
        }

        /** id is the object's id (the 登记号 for a product). */
        public String id() {
            return id;
        }

        /** state is the proven state as of the checkpoint. */
        public State state() {
            return state;
        }

        /** record is the object's parsed record ({@code set_by}, {@code object}), or null when absent. */
        public Map<String, Object> record() {
            return record;
        }

        /** checkpoint is the verified checkpoint the state is proven at. */
        public Checkpoint.Verified checkpoint() {
            return checkpoint;
        }

        /** stateTimeMs is the integrated time of the state entry (leaf N−1). */
        public long stateTimeMs() {
            return stateTimeMs;
        }

        /**
         * freshAsOf is the time the checkpoint is known to be current at: with
         * witnesses (quorum ≥ 1), the quorum-th newest verified cosignature
         * timestamp; without, the state entry's integrated time.
         */
        public Instant freshAsOf(int quorum) {
            if (quorum == 0 || witnessTimes.size() < quorum) {
                return Instant.ofEpochMilli(stateTimeMs);
            }
            List<Long> t = new ArrayList<>(witnessTimes);
            t.sort(Collections.reverseOrder());
            return Instant.ofEpochSecond(t.get(quorum - 1));
        }

        /**
         * requireFresh refuses a checkpoint older than {@code maxAge} at
         * {@code now}, so that a stale but genuine proof cannot pass as current.
         *
         * @throws VerificationException (part {@code checkpoint}) if it is older
         */
        public void requireFresh(int quorum, Duration maxAge, Instant now) {
            Instant t = freshAsOf(quorum);
            if (t.plus(maxAge).isBefore(now)) {
                throw fail("checkpoint", "stale: current as of " + t + ", older than the allowed " + maxAge
                        + " (检查点过旧)");
            }
        }

        /** statement says in Chinese, then English, what is proven. */
        public String statement() {
            String n = Long.toUnsignedString(checkpoint.size());
            return "状态：" + state.statusZh() + "（已证明：截至检查点，大小 " + n + "） / status: " + state.status()
                    + " (proven current as of the checkpoint of size " + n + ")";
        }
    }

    /**
     * verify checks a status document (the JSON bytes as served) against
     * {@code d}.
     *
     * @throws VerificationException naming the first member that fails
     */
    public static Verified verify(byte[] json, LogDescriptor d) {
        try {
            return verifyParsed(Json.object(Json.parse(json, MAX_STATUS_BYTES), "status proof"), d);
        } catch (VerificationException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw fail("status proof", e.getMessage());
        }
    }

    static Verified verifyParsed(Map<String, Object> p, LogDescriptor d) {
        Json.onlyKeys(p, "status proof", "format", "origin", "kind", "id", "checkpoint", "state_entry", "map_proof",
                "record", "state");
        boolean v2 = FORMAT.equals(p.get("format"));
        if (!v2 && !FORMAT_V1.equals(p.get("format"))) {
            throw fail("format", "unknown format " + p.get("format"));
        }
        if (!d.origin().equals(p.get("origin"))) {
            throw fail("origin", "not the log of this descriptor");
        }
        String kind = Json.string(p, "kind");
        String id = Json.string(p, "id");
        String key = stateKey(kind, id);
        Checkpoint.Verified vc = d.verifyCheckpoint(Json.string(p, "checkpoint"));
        Checkpoint cp = vc.checkpoint();
        StateLine line = StateLine.of(cp);
        byte[] root;
        long timeMs;
        if (v2) {
            // The state root the log key signed in the checkpoint itself.
            if (p.containsKey("state_entry")) {
                throw fail("state_entry", "not part of a v2 status proof (its state root is the checkpoint's)");
            }
            if (line == null) {
                throw fail("checkpoint", "has no state line (regledger-state): a v2 status proof needs one");
            }
            root = line.root();
            timeMs = line.timeMs();
        } else {
            Leaf leaf = stateEntry(p, d, cp);
            root = leaf.stateRoot();
            timeMs = leaf.integratedTimeMs();
            if (line != null && !line.says(root, timeMs)) {
                throw fail("checkpoint", "its state line says another state than its last leaf commits to");
            }
        }
        return verifyAgainst(p, d, vc, kind, id, key, root, timeMs);
    }

    /** stateEntry checks a v1 proof's state entry: leaf N-1, v2, included at N. */
    private static Leaf stateEntry(Map<String, Object> p, LogDescriptor d, Checkpoint cp) {
        if (!p.containsKey("state_entry")) {
            throw fail("state_entry", "a v1 status proof carries its state entry");
        }
        Map<String, Object> e = Json.object(p.get("state_entry"), "state_entry");
        if (e.containsKey("envelope")) {
            throw fail("state_entry.envelope", "not part of a state entry");
        }
        Json.onlyKeys(e, "state_entry", "index", "leaf", "inclusion_proof");
        long index = Json.u64(e, "index");
        if (cp.size() == 0 || index != cp.size() - 1) {
            throw fail("state_entry.index", "must be the last entry of the checkpoint, "
                    + Long.toUnsignedString(cp.size() == 0 ? 0 : cp.size() - 1));
        }
        byte[] leafBytes;
        try {
            leafBytes = Codec.unb64(Json.string(e, "leaf"));
        } catch (IllegalArgumentException x) {
            throw fail("state_entry.leaf", "not base64");
        }
        Leaf leaf;
        try {
            leaf = Leaf.parse(leafBytes);
        } catch (VerificationException x) {
            throw fail("state_entry.leaf", x.getMessage());
        }
        if (leaf.index() != index) {
            throw fail("state_entry.leaf", "says another index");
        }
        if (leaf.stateRoot() == null) {
            throw fail("state_entry.leaf", "a v1 leaf commits to no state (the log has logged no entry since its upgrade)");
        }
        List<byte[]> proof = new ArrayList<>();
        for (Object h : Json.array(e.get("inclusion_proof"), "state_entry.inclusion_proof")) {
            try {
                proof.add(Codec.unb64((String) h));
            } catch (RuntimeException x) {
                throw fail("state_entry.inclusion_proof", "not base64 hashes");
            }
        }
        try {
            Merkle.verifyInclusion(d.suite(), index, cp.size(), d.suite().leafHash(leafBytes), proof, cp.root());
        } catch (Merkle.ProofException x) {
            throw fail("state_entry.inclusion_proof", x.reason());
        }
        return leaf;
    }

    private static Verified verifyAgainst(Map<String, Object> p, LogDescriptor d, Checkpoint.Verified vc,
            String kind, String id, String key, byte[] root, long timeMs) {
        // The map proof of the key built here, against the state root.
        StateMap.Proof mp;
        try {
            mp = StateMap.Proof.parse(Codec.unb64(Json.string(p, "map_proof")));
        } catch (StateMap.ProofException x) {
            throw fail("map_proof", x.getMessage());
        } catch (IllegalArgumentException x) {
            throw fail("map_proof", "not base64");
        }
        LocalDate asOf = Instant.ofEpochMilli(timeMs).atOffset(CHINA).toLocalDate();
        byte[] keyBytes = Codec.utf8(key);
        State state;
        Map<String, Object> record = null;
        if (!p.containsKey("record")) {
            try {
                StateMap.verifyAbsence(d.suite(), root, keyBytes, mp);
            } catch (StateMap.ProofException x) {
                throw fail("map_proof", x.getMessage());
            }
            state = State.absent();
        } else {
            byte[] r;
            try {
                r = Codec.unb64(Json.string(p, "record"));
            } catch (IllegalArgumentException x) {
                throw fail("record", "not base64");
            }
            try {
                StateMap.verifyPresence(d.suite(), root, keyBytes, r, mp);
            } catch (StateMap.ProofException x) {
                throw fail("map_proof", x.getMessage());
            }
            record = parseRecord(r);
            state = derive(kind, id, record, asOf);
        }
        State shown = parseState(p.get("state"));
        if (!shown.equals(state)) {
            throw fail("state", "the document says " + shown.statusZh() + " (" + shown.status()
                    + "), the proven record shows " + state.statusZh() + " (" + state.status() + ")");
        }
        return new Verified(kind, id, state, record, vc, witnessTimes(vc), timeMs);
    }

    /** witnessTimes are the cosignature timestamps of the verified witnesses. */
    static List<Long> witnessTimes(Checkpoint.Verified vc) {
        List<Long> out = new ArrayList<>();
        SignedNote n = SignedNote.parse(Codec.utf8(vc.note()));
        for (NoteKeys.VerifierKey w : vc.witnesses()) {
            for (SignedNote.Signature s : n.signatures()) {
                if (s.name().equals(w.name()) && s.keyId() == w.keyId() && s.sig().length >= 8) {
                    out.add(Codec.u64(s.sig(), 0));
                    break;
                }
            }
        }
        return out;
    }

    /**
     * parseRecord reads a record strictly: {@code {"set_by": n, "object":
     * {"type": …, "value": …}}}, with no other member, in the canonical form
     * the node writes (compact, in this order: re-serialising it gives the
     * same bytes).
     */
    static Map<String, Object> parseRecord(byte[] r) {
        Map<String, Object> rec;
        try {
            rec = Json.object(Json.parse(r, StateMap.MAX_PROOF_LEN * 16), "record");
        } catch (IllegalArgumentException x) {
            throw fail("record", "not a state record: " + x.getMessage());
        }
        Json.onlyKeys(rec, "record", "set_by", "object");
        Json.u64(rec, "set_by");
        Map<String, Object> o = Json.object(rec.get("object"), "record.object");
        Json.onlyKeys(o, "record.object", "type", "value");
        Json.string(o, "type");
        Json.object(o.get("value"), "record.object.value");
        if (!Json.write(rec).equals(new String(r, java.nio.charset.StandardCharsets.UTF_8))) {
            throw fail("record", "not in canonical form");
        }
        return rec;
    }

    private static LocalDate date(Map<String, Object> o, String k) {
        try {
            return LocalDate.parse(Json.string(o, k));
        } catch (DateTimeParseException x) {
            throw fail("record", k + " is not a date");
        }
    }

    /** derive is the state a record shows for {@code kind}/{@code id} on the China date {@code asOf}. */
    static State derive(String kind, String id, Map<String, Object> rec, LocalDate asOf) {
        long setBy = Json.u64(rec, "set_by");
        Map<String, Object> o = Json.object(rec.get("object"), "record.object");
        String type = Json.string(o, "type");
        Map<String, Object> v = Json.object(o.get("value"), "record.object.value");
        String want;
        switch (kind) {
            case "product":
                want = "registration-no";
                break;
            default:
                want = kind;
        }
        if (!want.equals(type)) {
            throw fail("record", "the record is of " + type + ", not the " + kind + " " + id);
        }
        switch (kind) {
            case "product": {
                String s = Json.string(v, "status");
                return new State(s, labelZh(s), setBy, Json.u64(v, "status_index"), Json.string(v, "product_id"));
            }
            case "participant": {
                if (!id.equals(v.get("id"))) {
                    throw fail("record", "the record is of participant " + v.get("id") + ", not the participant " + id);
                }
                Object revoked = v.get("revoked_index");
                return revoked == null || revoked == Json.NULL ? new State("active", "有效", setBy, null, null)
                        : new State("revoked", "已撤销", setBy, null, null);
            }
            case "resource": {
                Map<String, Object> f = Json.object(v.get("fields"), "record.fields");
                if (!id.equals(f.get("id"))) {
                    throw fail("record", "the record is of resource " + f.get("id") + ", not the resource " + id);
                }
                String s = Json.string(v, "status");
                return new State(s, labelZh(s), setBy, null, null);
            }
            case "agreement": {
                Map<String, Object> f = Json.object(v.get("fields"), "record.fields");
                if (!id.equals(f.get("id"))) {
                    throw fail("record", "the record is of agreement " + f.get("id") + ", not the agreement " + id);
                }
                String s = Json.string(v, "status");
                if ("active".equals(s) && asOf.isAfter(date(f, "term_end"))) {
                    return new State("expired", "已到期", setBy, null, null);
                }
                return new State(s, labelZh(s), setBy, null, null);
            }
            default: {
                if (!id.equals(v.get("credential_no"))) {
                    throw fail("record", "the record is of credential " + v.get("credential_no")
                            + ", not the credential " + id);
                }
                if (asOf.isBefore(date(v, "valid_from"))) {
                    return new State("not-yet-valid", "未生效", setBy, null, null);
                }
                if (asOf.isAfter(date(v, "valid_until"))) {
                    return new State("expired", "已到期", setBy, null, null);
                }
                return new State("active", "有效", setBy, null, null);
            }
        }
    }

    static State parseState(Object json) {
        Map<String, Object> s = Json.object(json, "state");
        Json.onlyKeys(s, "state", "status", "status_zh", "set_by", "status_index", "product_id");
        return new State(Json.string(s, "status"), Json.string(s, "status_zh"),
                s.containsKey("set_by") ? Json.u64(s, "set_by") : null,
                s.containsKey("status_index") ? Json.u64(s, "status_index") : null,
                s.containsKey("product_id") ? Json.string(s, "product_id") : null);
    }
}
