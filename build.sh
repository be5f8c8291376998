#!/usr/bin/env bash
# Builds Rasterzen from a fresh clone, installing what it needs (rustup target, wasm-tools,
# wasm-bindgen-cli, the preview page's npm packages).
#   ./build.sh [component|web|host|all]      (default: all)
# Produces target/rasterzen-renderer.wasm (the renderer component, no imports), the browser
# build of the same renderer for the preview page (www/pkg, www/vendor) and
# target/release/rasterzen (the host, with that component and www/ built in).
set -euo pipefail
cd "$(dirname "$0")"

WASM_TOOLS_VERSION=1.263.0
# Must equal render-wasm's `wasm-bindgen = "=…"` pin.
WASM_BINDGEN_VERSION=0.2.130
CORE=target/wasm32-unknown-unknown/wasm/rasterzen_render.wasm

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_wasm_target() {
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "installing the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
}

need_wasm_tools() {
    if ! command -v wasm-tools >/dev/null || [[ "$(wasm-tools --version)" != *"$WASM_TOOLS_VERSION"* ]]; then
        say "installing wasm-tools $WASM_TOOLS_VERSION (cargo install, ~3 min once)"
        cargo install wasm-tools --locked --version "$WASM_TOOLS_VERSION"
    fi
}

need_wasm_bindgen() {
    if ! command -v wasm-bindgen >/dev/null || [[ "$(wasm-bindgen --version)" != *" $WASM_BINDGEN_VERSION" ]]; then
        say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, ~2 min once)"
        # Not --locked: its lockfile pins a crate version the registry lacks.
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
    fi
}

need_npm() {
    if ! command -v npm >/dev/null; then
        echo "build.sh: npm is needed for the preview page's packages (apt-get install nodejs npm)" >&2
        exit 1
    fi
}

build_component() {
    need_wasm_target
    need_wasm_tools
    say "building the renderer component"
    cargo build -p rasterzen-render --lib --target wasm32-unknown-unknown --profile wasm --features component
    wasm-tools component new "$CORE" -o target/rasterzen-renderer.wasm
    wasm-tools validate --features all target/rasterzen-renderer.wasm
    # The sandbox promise: the component imports nothing at all.
    if wasm-tools component wit target/rasterzen-renderer.wasm | grep -E '^\s*import ' ; then
        echo "build.sh: the renderer component has imports (above); it must have none" >&2
        exit 1
    fi
    say "target/rasterzen-renderer.wasm: $(wc -c < target/rasterzen-renderer.wasm) bytes, no imports"
}

# The preview page (www/): the same renderer crate built for the browser with wasm-bindgen
# (www/pkg), and the page's npm packages copied to www/vendor, so the host serves everything
# itself (no CDN). Same crate, same profile, same +simd128 as the component: same bytes.
build_web() {
    need_wasm_target
    need_wasm_bindgen
    need_npm
    say "building the renderer for the browser (www/pkg)"
    cargo build -p rasterzen-render --lib --target wasm32-unknown-unknown --profile wasm --features web
    # The component build writes the same core module path: bind it right away.
    rm -rf www/pkg
    wasm-bindgen --target web --no-typescript --out-dir www/pkg "$CORE"
    say "installing the preview page's npm packages (www/package-lock.json)"
    (cd www && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
    rm -rf www/vendor
    mkdir -p www/vendor
    cp www/node_modules/leaflet/dist/leaflet.js www/node_modules/leaflet/dist/leaflet.css www/vendor/
    say "www/pkg/rasterzen_render_bg.wasm: $(wc -c < www/pkg/rasterzen_render_bg.wasm) bytes; www/vendor: leaflet $(node -p 'require("./www/node_modules/leaflet/package.json").version')"
}

build_host() {
    say "building the host (target/release/rasterzen)"
    cargo build --release -p rasterzen
}

case "${1:-all}" in
    component) build_component ;;
    web) build_web ;;
    host) build_host ;;
    all) build_component; build_web; build_host ;;
    *) echo "usage: $0 [component|web|host|all]" >&2; exit 2 ;;
esac
