package dev.regledger.client;

/**
 * VerificationException: something a node or a file presented does not
 * verify against the trusted log descriptor. {@link #part()} names the
 * part that failed (e.g. {@code entry.inclusion_proof},
 * {@code checkpoint}, {@code certificate.product_name}).
 *
 * <p>Never retry on it as on a network error: it is evidence that the node,
 * or something between it and you, presents data the log did not sign.
 */
public class VerificationException extends RegledgerException {
    private static final long serialVersionUID = 1L;

    private final String part;
    private final String reason;

    /** VerificationException naming the failing part and the reason. */
    public VerificationException(String part, String reason) {
        super("验证失败 verification failed: " + part + ": " + reason);
        this.part = part;
        this.reason = reason;
    }

    /** part is the failing part of the document. */
    public String part() {
        return part;
    }

    /** reason says why it failed. */
    public String reason() {
        return reason;
    }

    /** within re-raises this failure as part of a larger document ({@code prefix.part}). */
    public VerificationException within(String prefix) {
        VerificationException e = new VerificationException(prefix + "." + part, reason);
        e.initCause(this);
        return e;
    }
}
