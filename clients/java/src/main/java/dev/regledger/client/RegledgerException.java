package dev.regledger.client;

/**
 * RegledgerException is the base of every error this library throws:
 * {@link ProblemException} (the node refused, RFC 9457),
 * {@link VerificationException} (an answer did not verify: treat the node
 * as misbehaving) and {@link TransportException} (no answer).
 * Unchecked, as Spring services expect.
 */
public class RegledgerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** RegledgerException with a message. */
    public RegledgerException(String message) {
        super(message);
    }

    /** RegledgerException with a message and cause. */
    public RegledgerException(String message, Throwable cause) {
        super(message, cause);
    }
}
