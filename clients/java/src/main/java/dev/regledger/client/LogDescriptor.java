package dev.regledger.client;

import dev.regledger.client.NoteKeys.VerifierKey;
import dev.regledger.client.SignedNote.NoteException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A log descriptor ({@code log.json}, CONTRACT.md): what a client needs
 * to trust a log and nothing secret. Configure it from a file you obtained
 * out of band (from the data authority, or pinned at first deployment); a
 * descriptor fetched from the node you are checking proves nothing about
 * that node.
 */
public final class LogDescriptor {
    /** MAX_DESCRIPTOR_BYTES bounds log.json; MAX_WITNESSES bounds its witness list. */
    public static final int MAX_DESCRIPTOR_BYTES = 64 * 1024, MAX_WITNESSES = 99;

    private final String origin;
    private final VerifierKey logKey;
    private final HashSuite suite;
    private final List<VerifierKey> witnesses;
    private final int quorum;
    private final String profile;

    private LogDescriptor(String origin, VerifierKey logKey, HashSuite suite, List<VerifierKey> witnesses,
            int quorum, String profile) {
        this.origin = origin;
        this.logKey = logKey;
        this.suite = suite;
        this.witnesses = Collections.unmodifiableList(witnesses);
        this.quorum = quorum;
        this.profile = profile;
    }

    /**
     * parse reads and checks log.json: known fields only, a known hash
     * suite, a log key named by the origin (SM2 for an sm3 log, with SM2
     * witnesses), parseable witness keys
     * and a quorum no larger than the witness list.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static LogDescriptor parse(byte[] json) {
        Map<String, Object> o = Json.object(Json.parse(json, MAX_DESCRIPTOR_BYTES), "log.json");
        Json.onlyKeys(o, "log.json", "origin", "log_vkey", "hash", "witnesses", "quorum", "profile");
        String origin = Json.string(o, "origin");
        HashSuite suite = HashSuite.fromName(Json.string(o, "hash"));
        VerifierKey logKey;
        try {
            logKey = VerifierKey.parse(Json.string(o, "log_vkey"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("log_vkey is not a valid verifier key: " + e.getMessage());
        }
        if (logKey.keyType().isCosignature()) {
            throw new IllegalArgumentException("log_vkey must be a log key (Ed25519 type 0x01, or SM2), not a witness key");
        }
        // An sm3 log is signed and cosigned with SM2 only (D19): a client reading its
        // log.json is never led to trust an Ed25519 signature on an sm3 log.
        boolean sm3 = suite == HashSuite.SM3;
        if (sm3 && logKey.keyType() != NoteKeys.KeyType.SM2) {
            throw new IllegalArgumentException("an sm3 log's key is SM2 (0xff regledger/sm2-note/v1), this one is "
                    + logKey.keyType());
        }
        if (!logKey.name().equals(origin)) {
            throw new IllegalArgumentException("log_vkey name " + logKey.name() + " differs from origin " + origin);
        }
        List<VerifierKey> ws = new ArrayList<>();
        if (o.containsKey("witnesses")) {
            List<Object> l = Json.array(o.get("witnesses"), "witnesses");
            if (l.size() > MAX_WITNESSES) {
                throw new IllegalArgumentException("more than " + MAX_WITNESSES + " witnesses");
            }
            for (int i = 0; i < l.size(); i++) {
                if (!(l.get(i) instanceof String)) {
                    throw new IllegalArgumentException("witness key " + i + " is not a string");
                }
                VerifierKey w;
                try {
                    w = VerifierKey.parse((String) l.get(i));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("witness key " + i + " is not a valid verifier key: "
                            + e.getMessage());
                }
                if (sm3 && w.keyType() != NoteKeys.KeyType.SM2_COSIGNATURE_V1) {
                    throw new IllegalArgumentException("witness key " + i + ": an sm3 log's witnesses cosign with SM2"
                            + " (0xff regledger/sm2-cosignature/v1), this key is " + w.keyType());
                }
                ws.add(w);
            }
        }
        long quorum = o.containsKey("quorum") ? Json.u64(o, "quorum") : 0;
        if (Long.compareUnsigned(quorum, ws.size()) > 0) {
            throw new IllegalArgumentException("quorum " + Long.toUnsignedString(quorum) + " is larger than the "
                    + ws.size() + " witnesses listed");
        }
        return new LogDescriptor(origin, logKey, suite, ws, (int) quorum, Json.string(o, "profile"));
    }

    /** origin is the log's checkpoint origin. */
    public String origin() {
        return origin;
    }

    /** logKey verifies checkpoints. */
    public VerifierKey logKey() {
        return logKey;
    }

    /** suite is the log's hash suite. */
    public HashSuite suite() {
        return suite;
    }

    /** witnesses are the witness keys (k-of-n with {@link #quorum()}). */
    public List<VerifierKey> witnesses() {
        return witnesses;
    }

    /** quorum is how many distinct witnesses must cosign. */
    public int quorum() {
        return quorum;
    }

    /** profile is the policy profile fixed in genesis. */
    public String profile() {
        return profile;
    }

    /**
     * verifyCheckpoint checks a signed checkpoint note: the grammar, a valid
     * signature by the log key, the origin, and at least {@link #quorum()}
     * distinct witnesses of the descriptor with valid cosignatures.
     * Signatures by other keys are ignored; a signature by a listed key
     * that fails refuses the checkpoint.
     *
     * @throws VerificationException (part {@code checkpoint}) otherwise
     */
    public Checkpoint.Verified verifyCheckpoint(String note) {
        List<VerifierKey> known = new ArrayList<>(witnesses.size() + 1);
        known.add(logKey);
        known.addAll(witnesses);
        SignedNote.Opened opened;
        try {
            opened = SignedNote.open(Codec.utf8(note), known);
        } catch (NoteException e) {
            if (e.kind() == NoteException.Kind.NO_VERIFIED_SIGNATURE) {
                throw new VerificationException("checkpoint", "not signed by the log key " + logKey.name());
            }
            throw e.within("checkpoint");
        }
        if (!opened.isVerifiedBy(logKey)) {
            throw new VerificationException("checkpoint", "not signed by the log key " + logKey.name());
        }
        Checkpoint cp = Checkpoint.parse(opened.note().text());
        if (!cp.origin().equals(origin)) {
            throw new VerificationException("checkpoint",
                    "origin " + cp.origin() + " is not the log's origin " + origin);
        }
        Set<VerifierKey> got = new LinkedHashSet<>();
        for (VerifierKey w : witnesses) {
            if (opened.isVerifiedBy(w)) {
                got.add(w);
            }
        }
        if (got.size() < quorum) {
            throw new VerificationException("checkpoint", "witness quorum not met: " + got.size() + " of "
                    + quorum + " required cosignatures (见证人联署不足)");
        }
        return new Checkpoint.Verified(cp, note, new ArrayList<>(got));
    }
}
