#!/usr/bin/env bash
# Builds, on a machine with Rust and Debian's package archive, what a GPU node without either
# needs to measure tbs-batch: a release binary without debug information (a fraction of the
# release profile's size) and the Vulkan loader as x86-64 Debian packages, in DIR (default
# .node, which git ignores). Carry DIR to the node with the working tree and run
# benches/gpu-node.sh there; the node's GPU driver provides the rest.
#
#     benches/gpu-node-pack.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.node}"
mkdir -p "$dir/debs"

# A target directory of its own, so the usual release build keeps its debug information.
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
  cargo build --release --quiet --target-dir target/node
cp target/node/release/tbs-batch "$dir/tbs-batch"

# The loader for x86-64, whatever this machine's architecture, from package lists of its own.
lists="$(mktemp -d)"
mkdir -p "$lists/partial"
apt=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "Dir::State::Lists=$lists"
  -o "Dir::Cache=$lists/cache")
# As root, apt would hand the downloads to its own user, which cannot write these folders.
if [ "$(id -u)" = 0 ]; then apt+=(-o APT::Sandbox::User=root); fi
apt-get "${apt[@]}" update -qq
rm -f "$dir"/debs/*.deb
(cd "$dir/debs" && apt-get "${apt[@]}" download -qq libvulkan1)
rm -rf "$lists"

du -sh "$dir/tbs-batch" "$dir/debs"/*.deb
echo "carry $dir to the node; there: benches/gpu-node.sh OUT_DIR"
