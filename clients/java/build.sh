#!/usr/bin/env bash
# Builds the regledger Java client with plain javac/jar (no Maven or Gradle
# needed) against Debian's jars, then runs its JUnit 5 tests; any failure
# fails the script.
#
#   clients/java/build.sh            compile, jar, run the tests
#   BUILD_DIR=/tmp/x build.sh        put every output under /tmp/x
#   SKIP_TESTS=1 build.sh            compile and jar only
#   SKIP_TEST_RUN=1 build.sh         also compile the tests (LiveScenario), without running them
#
# Needs: openjdk-17-jdk(-headless), libbcprov-java, libgoogle-gson-java, junit5
# (Debian bookworm: apt-get install -y openjdk-17-jdk-headless libbcprov-java libgoogle-gson-java junit5).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${BUILD_DIR:-$here/build}"
version="0.1.0"
J="${JAVA_LIBS:-/usr/share/java}"

need() {
  if [ ! -f "$1" ]; then
    echo "error: $1 not found: install $2 (apt-get install -y $2)" >&2
    exit 2
  fi
}
command -v javac >/dev/null || { echo "error: javac not found: install openjdk-17-jdk-headless" >&2; exit 2; }
need "$J/bcprov.jar" libbcprov-java
need "$J/gson.jar" libgoogle-gson-java
deps="$J/bcprov.jar:$J/gson.jar"

rm -rf "$out/classes" "$out/test-classes"
mkdir -p "$out/classes" "$out/test-classes"

echo "== javac (main)"
find "$here/src/main/java" -name '*.java' > "$out/main-sources.txt"
javac --release 17 -encoding UTF-8 -Xlint:all,-path -Werror -d "$out/classes" -cp "$deps" @"$out/main-sources.txt"
jar --create --file "$out/regledger-client-$version.jar" -C "$out/classes" .
echo "built $out/regledger-client-$version.jar"

if [ "${SKIP_TESTS:-}" = 1 ]; then
  exit 0
fi

need "$J/junit-jupiter-api.jar" junit5
need "$J/junit-platform-console-standalone.jar" junit5
tdeps="$deps:$J/junit-jupiter-api.jar:$J/junit-jupiter-params.jar:$J/apiguardian-api.jar:$J/opentest4j.jar"

echo "== javac (tests)"
find "$here/src/test/java" -name '*.java' > "$out/test-sources.txt"
javac --release 17 -encoding UTF-8 -Xlint:all,-path,-processing -Werror -d "$out/test-classes" \
  -cp "$out/classes:$tdeps" @"$out/test-sources.txt"

if [ "${SKIP_TEST_RUN:-}" = 1 ]; then
  exit 0
fi

echo "== tests"
# The vectors are read from the repository (offline): schemas/vectors and ledger/tests/vectors.
repo="$(cd "$here/../.." && pwd)"
java -Dregledger.repo="$repo" -jar "$J/junit-platform-console-standalone.jar" \
  --class-path "$out/classes:$out/test-classes:$tdeps" \
  --scan-class-path "$out/test-classes" \
  --fail-if-no-tests --disable-banner --details=summary --details-theme=ascii
