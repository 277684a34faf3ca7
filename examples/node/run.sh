#!/usr/bin/env bash
# Runs the Node.js example against a LLaVA-ST server.
#   examples/node/run.sh [TARGET] VIDEO "QUESTION"      (TARGET defaults to $LLAVAST_TARGET or 127.0.0.1:50051)
#   examples/node/run.sh --fake VIDEO "QUESTION"         starts client-java's test fake server on a free port first
# Needs Node.js >= 18 and npm (for @grpc/grpc-js and @grpc/proto-loader). Not part of ./mvnw verify.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
[ -d node_modules/@grpc/grpc-js ] || npm install --no-audit --no-fund --silent

fake_pid=""
cleanup() { if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

if [ "${1:-}" = "--fake" ]; then
  shift
  port="${FAKE_PORT:-50151}"
  # one reactor build, so the proto module resolves to proto/target/classes (no install needed)
  (cd "$root" && ./mvnw -B -q -pl client-java -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test >/dev/null)
  cp="$root/client-java/target/test-classes:$root/client-java/target/classes:$(cat "$root/client-java/target/cp.txt")"
  java -cp "$cp" dev.llavast.client.fake.FakeLlavaStServer "$port" "${FAKE_TOKEN_DELAY_MS:-20}" &
  fake_pid=$!
  for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  target="127.0.0.1:$port"
elif [ $# -ge 3 ]; then
  target="$1"; shift
else
  target="${LLAVAST_TARGET:-127.0.0.1:50051}"
fi
node "$here/client.js" --target "$target" --video "$1" --question "$2" --max-tokens "${MAX_TOKENS:-64}"
