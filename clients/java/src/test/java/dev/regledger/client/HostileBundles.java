package dev.regledger.client;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * HostileBundles writes the {@link RequireSm2Cases} bundles for the Rust
 * verifier (tests/tests/java_client.rs): for each case
 * {@code <name>.bundle.json} and {@code <name>.log.json}, and in
 * {@code verdicts.json} this client's verdict (the refused part, or null).
 *
 * <p>Usage: {@code HostileBundles <out dir>}
 */
public final class HostileBundles {
    private HostileBundles() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: HostileBundles <out dir>");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        Map<String, Object> verdicts = new LinkedHashMap<>();
        for (RequireSm2Cases.Case c : RequireSm2Cases.all()) {
            byte[] b = Codec.utf8(Json.write(c.bundle));
            Files.write(out.resolve(c.name + ".bundle.json"), b);
            Files.write(out.resolve(c.name + ".log.json"), Codec.utf8(c.log.descriptorJson()));
            Object verdict;
            try {
                CertificateBundle.verify(b, c.log.descriptor());
                verdict = Json.NULL;
            } catch (VerificationException e) {
                verdict = e.part();
            }
            verdicts.put(c.name, verdict);
        }
        Files.write(out.resolve("verdicts.json"), Codec.utf8(Json.write(verdicts)));
    }
}
