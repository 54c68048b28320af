package dev.regledger.client;

/**
 * TransportException: no usable answer after every retry (connection
 * refused, timeouts, 5xx without a problem body). For a submission the
 * outcome is unknown; submitting the very same signed envelope again is
 * always safe, because the node answers a repeat of logged content with
 * {@code replayed-envelope} and the client turns that into the receipt.
 */
public class TransportException extends RegledgerException {
    private static final long serialVersionUID = 1L;

    /** TransportException with a message and the last cause. */
    public TransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
