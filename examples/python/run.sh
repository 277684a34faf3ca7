#!/usr/bin/env bash
# Runs the Python example against a LLaVA-ST server.
#   examples/python/run.sh [TARGET] VIDEO "QUESTION"    (TARGET defaults to $LLAVAST_TARGET or 127.0.0.1:50051)
# Needs Python 3 with grpcio and protobuf (pip: grpcio protobuf grpcio-tools; Debian: python3-grpcio
# python3-protobuf protobuf-compiler protobuf-compiler-grpc). Generates the stubs on first run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import grpc, google.protobuf' 2>/dev/null; then
    py="$candidate"
    break
  fi
done
if [ -z "$py" ]; then
  echo "need Python 3 with grpcio and protobuf (pip install grpcio protobuf, or apt-get install python3-grpcio python3-protobuf)" >&2
  exit 2
fi
[ -f "$here/gen/llavast/v1/generation_pb2.py" ] || bash "$here/gen_stubs.sh" >&2
if [ $# -ge 3 ]; then
  target="$1"; shift
else
  target="${LLAVAST_TARGET:-127.0.0.1:50051}"
fi
exec "$py" "$here/client.py" --target "$target" --video "$1" --question "$2" --max-new-tokens "${MAX_NEW_TOKENS:-64}"
