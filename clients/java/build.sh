#!/usr/bin/env bash
# Builds the Java client without Maven or Gradle (Maven Central is not reachable here; the only
# jars used are Debian's in /usr/share/java). One javac call per output, skipped when the
# output is newer than every source it comes from.
#
#   ./build.sh          build/sluice-client.jar, build/sluice-client-logback.jar, build/conformance/
#   ./build.sh test     the same, then compiles and runs the JUnit 5 tests (fails on a failure)
#   ./build.sh clean    removes build/
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

JAVA_LIBS="${JAVA_LIBS:-/usr/share/java}"
JUNIT="$JAVA_LIBS/junit-platform-console-standalone.jar"
LOGBACK_CP="$JAVA_LIBS/logback-classic.jar:$JAVA_LIBS/logback-core.jar:$JAVA_LIBS/slf4j-api.jar"
B=build
JAVAC=(javac --release 17 -encoding UTF-8 -Xlint:all,-serial -Werror)

mode="${1:-build}"
case "$mode" in
  build | test) ;;
  clean) rm -rf "$B"; exit 0 ;;
  *) echo "usage: $0 [build|test|clean]" >&2; exit 2 ;;
esac

# stale OUTPUT DIR...: true when OUTPUT is missing or a file under DIR... (or this script) is newer.
stale() {
  local out="$1"; shift
  [[ -e "$out" ]] || return 0
  [[ "$here/build.sh" -nt "$out" ]] && return 0
  [[ -n "$(find "$@" -type f -newer "$out" -print -quit 2>/dev/null)" ]]
}

# compile OUT_DIR CLASSPATH SRC_DIR...: all .java files under the dirs in one javac call.
compile() {
  local out="$1" cp="$2"; shift 2
  rm -rf "$out"
  mkdir -p "$out"
  local list="$out.sources"
  find "$@" -name '*.java' >"$list"
  "${JAVAC[@]}" -d "$out" ${cp:+-cp "$cp"} "@$list"
  rm -f "$list"
}

mkdir -p "$B"

if stale "$B/sluice-client.jar" src/main; then
  echo "javac: core"
  compile "$B/classes/main" "" src/main/java
  printf 'Automatic-Module-Name: dev.sluice.client\nImplementation-Title: sluice-client\nImplementation-Version: 0.1.0\n' >"$B/core.mf"
  jar --create --file "$B/sluice-client.jar" --manifest "$B/core.mf" -C "$B/classes/main" .
fi

if stale "$B/sluice-client-logback.jar" src/logback "$B/sluice-client.jar"; then
  echo "javac: logback"
  compile "$B/classes/logback" "$B/sluice-client.jar:$LOGBACK_CP" src/logback/java
  printf 'Automatic-Module-Name: dev.sluice.client.logback\nImplementation-Title: sluice-client-logback\nImplementation-Version: 0.1.0\n' >"$B/logback.mf"
  jar --create --file "$B/sluice-client-logback.jar" --manifest "$B/logback.mf" -C "$B/classes/logback" .
fi

# The conformance program (clients/conformance/PROGRAM.md), as classes:
#   java -cp build/sluice-client.jar:build/conformance dev.sluice.conformance.Program
if stale "$B/conformance/dev/sluice/conformance/Program.class" conformance "$B/sluice-client.jar"; then
  echo "javac: conformance"
  compile "$B/conformance" "$B/sluice-client.jar" conformance
fi

[[ "$mode" == test ]] || exit 0

# The tests see the package-private classes: they are compiled against the core's classes, not its jar.
TEST_CP="$B/classes/main:$B/sluice-client-logback.jar:$LOGBACK_CP:$JUNIT"
if stale "$B/classes/test/.built" src/test "$B/sluice-client.jar" "$B/sluice-client-logback.jar"; then
  echo "javac: tests"
  compile "$B/classes/test" "$TEST_CP" src/test/java
  touch "$B/classes/test/.built"
fi

echo "junit: running"
java -jar "$JUNIT" \
  --class-path "$B/classes/test:$TEST_CP" \
  --scan-class-path "$B/classes/test" \
  --disable-banner --details=tree --fail-if-no-tests \
  --reports-dir "$B/test-reports"
