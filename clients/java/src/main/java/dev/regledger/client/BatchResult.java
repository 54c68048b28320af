package dev.regledger.client;

import java.util.Optional;

/**
 * BatchResult is the outcome of one envelope of
 * {@link RegledgerClient#submitBatch}: a verified {@link Receipt} (the
 * same checks as {@link RegledgerClient#submit}), or the problem the node
 * answered for that envelope alone. One refused envelope refuses nothing
 * else of its batch.
 */
public final class BatchResult {
    private final Receipt receipt;
    private final ProblemException problem;

    BatchResult(Receipt receipt, ProblemException problem) {
        this.receipt = receipt;
        this.problem = problem;
    }

    /** ok says the envelope is logged (a receipt, possibly of a replay). */
    public boolean ok() {
        return receipt != null;
    }

    /** receipt is the verified receipt, if the envelope is logged. */
    public Optional<Receipt> receipt() {
        return Optional.ofNullable(receipt);
    }

    /** problem is why the node refused the envelope, if it did. */
    public Optional<ProblemException> problem() {
        return Optional.ofNullable(problem);
    }

    @Override
    public String toString() {
        return ok() ? receipt.toString() : "refused: " + problem.getMessage();
    }
}
