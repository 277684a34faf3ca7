#!/usr/bin/env bash
# Generates the Python stubs of llavast.v1 into examples/python/gen from proto/src/main/proto.
# With pip:   python3 -m grpc_tools.protoc (package grpcio-tools) does the same.
# On Debian:  apt-get install protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
protos="${PROTO_DIR:-$here/../../proto/src/main/proto}"
out="$here/gen"
rm -rf "$out" && mkdir -p "$out"
if python3 -c 'import grpc_tools' 2>/dev/null; then
  python3 -m grpc_tools.protoc -I "$protos" --python_out="$out" --grpc_python_out="$out" "$protos"/llavast/v1/*.proto
else
  plugin="$(command -v grpc_python_plugin || true)"
  if ! command -v protoc >/dev/null || [ -z "$plugin" ]; then
    echo "need protoc and grpc_python_plugin (Debian: protobuf-compiler protobuf-compiler-grpc) or grpcio-tools" >&2
    exit 2
  fi
  protoc -I "$protos" --python_out="$out" --grpc_python_out="$out" --plugin=protoc-gen-grpc_python="$plugin" \
    "$protos"/llavast/v1/*.proto
fi
touch "$out/llavast/__init__.py" "$out/llavast/v1/__init__.py"
echo "stubs in $out"
