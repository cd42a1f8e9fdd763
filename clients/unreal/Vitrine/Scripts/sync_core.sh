#!/bin/sh
# Copies the C++ client core (clients/cpp) into Source/Vitrine/VitrineCore and generates its
# stubs with the protoc + grpc_cpp_plugin that match the gRPC the plugin links (TurboLink's).
#   PROTOC=/path/to/protoc GRPC_CPP_PLUGIN=/path/to/grpc_cpp_plugin Scripts/sync_core.sh
# Run from clients/unreal/Vitrine in a vitrine clone; then copy the plugin into a project's
# Plugins/ folder. The copy is the same code the ctest suite tests (clients/cpp/tests).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/../../.." && pwd)
dst=${VITRINE_CORE_DEST:-"$here/Source/Vitrine/VitrineCore"}  # the override is for tests
protoc=${PROTOC:-protoc}
plugin=${GRPC_CPP_PLUGIN:-$(command -v grpc_cpp_plugin)}
rm -rf "$dst/include" "$dst/src" "$dst/gen"
mkdir -p "$dst/gen"
cp -R "$repo/clients/cpp/include" "$repo/clients/cpp/src" "$dst/"
"$protoc" -I "$repo/protos" --cpp_out "$dst/gen" --grpc_out "$dst/gen" \
  --plugin=protoc-gen-grpc="$plugin" "$repo/protos/vitrine/v1/assets.proto"
"$protoc" -I "$repo/clients/cpp/proto" --cpp_out "$dst/gen" \
  "$repo/clients/cpp/proto/google/rpc/status.proto"
for f in $(find "$dst/gen" -name '*.pb.cc'); do mv "$f" "${f%.cc}.cpp"; done  # UBT builds .cpp
echo "core synced into $dst"
