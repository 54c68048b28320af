package dev.regledger.client;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * What a verified certificate bundle establishes (see {@link CertificateBundle}).
 * Its fields are the signed payload's, not the bundle's copy.
 */
public final class VerifiedCertificate {
    private final Map<String, Object> fields;
    private final String blockchainNo;
    private final long index;
    private final String signer;
    private final String signerRole;
    private final boolean signerChainAnchored;
    private final List<Long> signerChain;
    private final Long signerKeyRetiredAt;
    private final Long signerRevokedAt;
    private final String status;
    private final long statusSetByIndex;
    private final String statusSigner;
    private final Checkpoint.Verified checkpoint;
    private StatusProof.Verified statusProof;

    VerifiedCertificate(Map<String, Object> fields, String blockchainNo, long index, String signer, String signerRole,
            boolean signerChainAnchored, List<Long> signerChain, Long signerKeyRetiredAt, Long signerRevokedAt,
            String status, long statusSetByIndex, String statusSigner, Checkpoint.Verified checkpoint) {
        this.fields = fields;
        this.blockchainNo = blockchainNo;
        this.index = index;
        this.signer = signer;
        this.signerRole = signerRole;
        this.signerChainAnchored = signerChainAnchored;
        this.signerChain = Collections.unmodifiableList(signerChain);
        this.signerKeyRetiredAt = signerKeyRetiredAt;
        this.signerRevokedAt = signerRevokedAt;
        this.status = status;
        this.statusSetByIndex = statusSetByIndex;
        this.statusSigner = statusSigner;
        this.checkpoint = checkpoint;
    }

    /** fields are the signed product-registered payload (read-only). */
    public Map<String, Object> fields() {
        return fields;
    }

    /** field returns one signed string field (e.g. {@code product_name}), or null. */
    public String field(String name) {
        Object v = fields.get(name);
        return v instanceof String ? (String) v : null;
    }

    /** registrationNo is the 登记号. */
    public String registrationNo() {
        return field("registration_no");
    }

    /** productId is the product's id. */
    public String productId() {
        return field("product_id");
    }

    /** blockchainNo is the verified 区块链编号. */
    public String blockchainNo() {
        return blockchainNo;
    }

    /** index is the registering entry. */
    public long index() {
        return index;
    }

    /** signer is the participant that registered the product. */
    public String signer() {
        return signer;
    }

    /** signerRole is its role. */
    public String signerRole() {
        return signerRole;
    }

    /**
     * signerChainAnchored: the signer history starts at genesis and every
     * entry in it verified with the keys valid at its index. Always true for
     * a verified bundle: one whose history does not start at genesis is
     * refused (FORMATS.md, certificate bundle step 6).
     */
    public boolean signerChainAnchored() {
        return signerChainAnchored;
    }

    /** signerChain are the indexes of the signer history, in order. */
    public List<Long> signerChain() {
        return signerChain;
    }

    /** signerKeyRetiredAt is an included entry that later retired the signing key, if any. */
    public OptionalLong signerKeyRetiredAt() {
        return signerKeyRetiredAt == null ? OptionalLong.empty() : OptionalLong.of(signerKeyRetiredAt);
    }

    /** signerRevokedAt is an included entry that later revoked the signer, if any. */
    public OptionalLong signerRevokedAt() {
        return signerRevokedAt == null ? OptionalLong.empty() : OptionalLong.of(signerRevokedAt);
    }

    /**
     * status is the state that entry {@link #statusSetByIndex()} set
     * (active, suspended, revoked, deregistered), as of that entry.
     */
    public String status() {
        return status;
    }

    /** statusSetByIndex is the entry that set {@link #status()} (the registration itself for active). */
    public long statusSetByIndex() {
        return statusSetByIndex;
    }

    /** statusSigner is the participant that signed the status entry, or null when it is the registration. */
    public String statusSigner() {
        return statusSigner;
    }

    /** withStatusProof attaches a v2 bundle's verified status proof (set once, by the verifier). */
    VerifiedCertificate withStatusProof(StatusProof.Verified p) {
        this.statusProof = p;
        return this;
    }

    /**
     * statusProvenCurrent: the bundle proves no later entry up to the
     * checkpoint changed the status: true exactly for a v2 bundle whose
     * status proof verified. Always false for format v1, which cannot show
     * the absence of later entries; a whole-log audit
     * ({@code regledger-verify audit}) or a verified mirror can.
     */
    public boolean statusProvenCurrent() {
        return statusProof != null;
    }

    /** statusProof is the verified status proof of a v2 bundle, or null for v1. */
    public StatusProof.Verified statusProof() {
        return statusProof;
    }

    /**
     * statusZh is the Chinese status (有效, 暂停, 已撤销登记, 已注销登记): proven current
     * for v2 ({@link #statusProvenCurrent()}), set by entry {@link #statusSetByIndex()} for v1.
     */
    public String statusZh() {
        return statusProof != null ? statusProof.state().statusZh() : StatusProof.labelZh(status);
    }

    /** isProvenActive says the status is proven current and 有效 (what a venue may accept). */
    public boolean isProvenActive() {
        return statusProof != null && statusProof.state().isActive();
    }

    /** checkpoint is the verified checkpoint every proof is for. */
    public Checkpoint.Verified checkpoint() {
        return checkpoint;
    }

    /**
     * statusStatement says in Chinese, then English, what is and is not
     * proven about the status; show it wherever the status is shown.
     */
    public String statusStatement() {
        String n = Long.toUnsignedString(statusSetByIndex);
        String size = Long.toUnsignedString(checkpoint.size());
        if (statusProof != null) {
            return "状态：" + statusZh() + "（由第 " + n + " 号条目设定；已证明为截至检查点（大小 " + size + "）的当前状态） / status "
                    + status + " (set by entry " + n + "; proven current as of the checkpoint of size " + size + ")";
        }
        return "状态 " + status + "：由第 " + n + " 号条目设定（已验证）；未证明为当前状态——截至检查点（大小 " + size
                + "）之前的后续条目可能已更改状态，需全量审计或状态证明。 / status " + status + " was set by entry " + n
                + " (verified); NOT proven current: a later entry below checkpoint size " + size
                + " may have changed it (needs a whole-log audit or a status proof).";
    }

    @Override
    public String toString() {
        return "VerifiedCertificate(" + registrationNo() + ", " + blockchainNo + ", status " + status + " set by entry "
                + Long.toUnsignedString(statusSetByIndex) + (statusProof != null ? ", proven current)" : ", not proven current)");
    }
}
