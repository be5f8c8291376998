#!/usr/bin/env bash
# Builds Rasterzen from a fresh clone, installing what it needs (rustup target, wasm-tools,
# wasm-bindgen-cli, the preview page's npm packages).
#   ./build.sh [component|web|host|lambda [arm64]|all]      (default: all)
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

# Renderers for the tests only: a visibly different version and two hostile ones (see the
# test-* features in render-wasm/Cargo.toml). Never published anywhere but test registries.
build_test_renderers() {
    need_wasm_target
    need_wasm_tools
    mkdir -p target/test-renderers
    local variant features version
    for variant in variant:test-variant:0.2.0-variant loop:test-hostile-loop:0.2.0-hostile-loop memory:test-hostile-memory:0.2.0-hostile-memory; do
        IFS=: read -r name features version <<<"$variant"
        say "building test renderer $name ($version)"
        RASTERZEN_VERSION="$version" cargo build -p rasterzen-render --lib --target wasm32-unknown-unknown \
            --profile wasm --features "component,$features"
        wasm-tools component new "$CORE" -o "target/test-renderers/$name.wasm"
    done
}

# AWS Lambda (custom runtime `provided.al2023`; deploy/template.yaml deploys it): everything
# `all` builds, then the host as `bootstrap` in target/lambda/rasterzen-lambda.zip with the
# renderer precompiled for the function's CPU beside it.
#   ./build.sh lambda           x86_64, built natively (on an x86_64 machine)
#   ./build.sh lambda arm64     Graviton, cross-compiled with zig through cargo-zigbuild (both
#                               installed on first use: `cargo install`, pip's `ziglang`)
# The binary links glibc dynamically; provided.al2023 has glibc 2.34, so no symbol may be newer
# (zig links against exactly 2.34; the check below holds both builds to it).
LAMBDA_GLIBC=2.34
CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
build_lambda() {
    local arch="${1:-x86_64}"
    case "$arch" in
        x86_64 | amd64)
            if [[ "$(uname -m)" != x86_64 ]]; then
                echo "build.sh lambda: builds the x86_64 function on an x86_64 machine (this one is $(uname -m)); ./build.sh lambda arm64 cross-compiles" >&2
                exit 1
            fi
            build_component
            build_web
            build_host
            package_lambda target/release/rasterzen x86_64
            ;;
        arm64 | aarch64)
            build_component
            build_web
            # The host of this machine precompiles the renderer for the function's CPU.
            build_host
            need_zigbuild
            say "cross-compiling the host for aarch64 (cargo zigbuild, glibc $LAMBDA_GLIBC)"
            # Stripped by the linker: this machine's `strip` may not know aarch64.
            CARGO_PROFILE_RELEASE_STRIP=symbols cargo zigbuild --release -p rasterzen \
                --target "aarch64-unknown-linux-gnu.$LAMBDA_GLIBC"
            package_lambda target/aarch64-unknown-linux-gnu/release/rasterzen aarch64
            ;;
        *)
            echo "build.sh lambda: unknown architecture '$arch' (x86_64 or arm64)" >&2
            exit 2
            ;;
    esac
}

need_zigbuild() {
    if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
        say "installing the aarch64-unknown-linux-gnu target"
        rustup target add aarch64-unknown-linux-gnu
    fi
    if ! python3 -m ziglang version >/dev/null 2>&1; then
        say "installing zig $ZIGLANG_VERSION (pip install ziglang)"
        python3 -m pip install --quiet "ziglang==$ZIGLANG_VERSION"
    fi
    if ! cargo zigbuild --help >/dev/null 2>&1; then
        say "installing cargo-zigbuild $CARGO_ZIGBUILD_VERSION (cargo install, ~1 min once)"
        cargo install cargo-zigbuild --locked --version "$CARGO_ZIGBUILD_VERSION"
    fi
}

# package_lambda BINARY ARCH: the zip, after checking the glibc the binary needs.
package_lambda() {
    local bin="$1" arch="$2" dir=target/lambda
    if ! command -v zip >/dev/null || ! command -v readelf >/dev/null; then
        say "installing zip and binutils (apt-get)"
        apt-get update -qq && apt-get install -y -qq zip binutils >/dev/null
    fi
    if [[ "$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')" != *"$([[ $arch == x86_64 ]] && echo X86-64 || echo AArch64)"* ]]; then
        echo "build.sh lambda: $bin is not an $arch executable" >&2
        exit 1
    fi
    local newest
    newest="$(readelf --dyn-syms -W "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
    if [[ "$(printf '%s\n%s\n' "$newest" "$LAMBDA_GLIBC" | sort -V | tail -1)" != "$LAMBDA_GLIBC" ]]; then
        echo "build.sh lambda: $bin needs glibc $newest; provided.al2023 has $LAMBDA_GLIBC" >&2
        exit 1
    fi
    rm -rf "$dir/package" "$dir/rasterzen-lambda.zip"
    mkdir -p "$dir/package"
    cp "$bin" "$dir/package/bootstrap"
    if [[ $arch == x86_64 ]]; then strip "$dir/package/bootstrap"; fi
    chmod 755 "$dir/package/bootstrap"
    # The renderer precompiled for the function's portable baseline (x86-64-v2 or Armv8.1-A): a
    # cold start deserializes it (milliseconds) instead of compiling it (~0.5 s) in a sandbox
    # whose /tmp starts empty. This machine's host makes it, for the other architecture too.
    target/release/rasterzen renderer precompile --arch "$arch" --out "$dir/package/compiled" >/dev/null
    (cd "$dir/package" && zip -q -X -9 -r ../rasterzen-lambda.zip bootstrap compiled)
    say "$dir/rasterzen-lambda.zip: $(wc -c < "$dir/rasterzen-lambda.zip") bytes (bootstrap $(wc -c < "$dir/package/bootstrap") bytes, $arch, needs glibc $newest <= $LAMBDA_GLIBC; deploy with Architecture=$([[ $arch == x86_64 ]] && echo x86_64 || echo arm64))"
}

case "${1:-all}" in
    component) build_component ;;
    web) build_web ;;
    host) build_host ;;
    lambda) build_lambda "${2:-x86_64}" ;;
    test-renderers) build_test_renderers ;;
    all) build_component; build_web; build_host ;;
    *) echo "usage: $0 [component|web|host|lambda|test-renderers|all]" >&2; exit 2 ;;
esac
