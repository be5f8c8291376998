#!/usr/bin/env bash
# The arm64 Lambda package checked as Graviton runs it, emulated by qemu-user: builds it with
# `./build.sh lambda arm64` (the host cross-compiled with zig, the renderer precompiled for
# aarch64 by this machine's host), then starts its `bootstrap` against the Lambda Runtime API
# emulator of tests/lambda.rs (`arm64_package_cold_start_under_qemu`): the cold start must
# deserialize the shipped artifact, and its tiles must equal this machine's byte for byte.
# Not part of ./test.sh: a second full build of the host, for another architecture, would
# double CI's time; run it when the Lambda packaging, the engine or the renderer changes.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v qemu-aarch64 >/dev/null || [[ ! -e /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 ]]; then
    echo "==> installing qemu-user and an aarch64 glibc (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user libc6-arm64-cross libgcc-s1-arm64-cross >/dev/null
fi
./build.sh lambda arm64
cargo test --release -p rasterzen --test lambda -- --ignored --exact arm64_package_cold_start_under_qemu --nocapture
