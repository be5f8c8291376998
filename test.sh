#!/usr/bin/env bash
# Runs every test: builds first (./build.sh), then the Rust tests (unit, conformance,
# reference images, parity with MapLibre GL JS's committed references, CLI end-to-end), then
# the preview page in a real browser (Chromium driven by playwright-core, against
# `rasterzen serve`), MapLibre GL JS and OpenLayers on a config's second map, and the parity oracle itself (MapLibre GL JS in Chromium). Tests run in release mode to share
# build.sh's artifacts.
set -euo pipefail
cd "$(dirname "$0")"
./build.sh all
./build.sh test-renderers   # a second, visibly different renderer and two hostile ones
cargo test --release --workspace --no-fail-fast
# Bounded fuzzing: every target's regressions replayed, then FUZZ_SECONDS (30) of fuzzing each.
fuzz/ci.sh
(cd tests/browser && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
node --test --test-reporter=spec tests/browser/preview.test.mjs
# Real map clients (MapLibre GL JS, OpenLayers) on the second map of examples/maps.toml.
node --test --test-reporter=spec tests/browser/clients.test.mjs
# The parity oracle (MapLibre GL JS in Chromium) still makes its committed references, byte for byte.
(cd tests/parity && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
node --test --test-reporter=spec tests/parity/oracle.test.mjs
# The label oracle (MapLibre GL JS's placed labels) still makes its committed JSON, exactly (~25 s).
node --test --test-reporter=spec tests/parity/labels.test.mjs
