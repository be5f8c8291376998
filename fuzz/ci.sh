#!/usr/bin/env bash
# Bounded fuzzing for CI (./test.sh runs it): builds every target with cargo-fuzz (libFuzzer,
# nightly or stable with RUSTC_BOOTSTRAP; no sanitizer unless FUZZ_SANITIZER says so), replays the regression corpus (fuzz/regressions/TARGET: every
# crash, hang or OOM ever found, plus hand-made hostile inputs), then fuzzes each target for
# FUZZ_SECONDS (default 20) from the seed corpus made from the repository's fixtures.
# Any crash, invariant failure, timeout or OOM fails the run, naming the input.
#   fuzz/ci.sh [TARGET...]          FUZZ_SECONDS=N to change the time per target
set -euo pipefail
cd "$(dirname "$0")"
# A finding prints one backtrace, fast (symbolizing a full one under ASan can outlast -timeout).
export RUST_BACKTRACE=0
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(mvt_decode style_parse expr_eval render tile_path)
SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
# CI mode builds without AddressSanitizer by default (FUZZ_SANITIZER=address to change): the
# targets are safe Rust, so ASan finds little here that a panic or the budgets do not, and
# leaving it out halves the build and doubles the executions. fuzz/long.sh keeps ASan.
SANITIZER="${FUZZ_SANITIZER:-none}"

# cargo fuzz passes nightly-only flags (-Zsanitizer=address). A nightly toolchain is used when
# the machine has one; else the stable toolchain, told to accept them (RUSTC_BOOTSTRAP=1: the
# same compiler, its unstable flags unlocked; stable ships the sanitizer runtimes too).
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    TOOLCHAIN=(+nightly)
else
    TOOLCHAIN=()
    export RUSTC_BOOTSTRAP=1
fi
if ! cargo "${TOOLCHAIN[@]}" fuzz --version >/dev/null 2>&1; then
    echo "fuzz/ci.sh: cargo-fuzz is missing (cargo install cargo-fuzz --locked; .ci/run does this)" >&2
    exit 1
fi

# The limits every run shares: the render deadline's budget (×3 for the sanitizer), and
# libFuzzer's own memory ceiling (the targets check the 512 MiB render budget themselves).
COMMON=(-rss_limit_mb=2560 -timeout=60 -print_final_stats=1)
declare -A MAX_LEN=([mvt_decode]=131072 [style_parse]=65536 [expr_eval]=4096 [render]=65536 [tile_path]=4096)

cargo "${TOOLCHAIN[@]}" fuzz build --sanitizer "$SANITIZER" >/dev/null
BIN=target/x86_64-unknown-linux-gnu/release
python3 seed.py
mkdir -p artifacts
for t in "${TARGETS[@]}"; do
    if [[ -n "$(ls -A "regressions/$t" 2>/dev/null)" ]]; then
        n="$(ls "regressions/$t" | wc -l)"
        # Files as arguments: libFuzzer runs each once; a crash or invariant failure exits non-zero.
        if ! "$BIN/$t" "${COMMON[@]}" "regressions/$t"/* >"artifacts/replay-$t.log" 2>&1; then
            tail -n 40 "artifacts/replay-$t.log" >&2
            echo "fuzz/ci.sh: $t: a regression input fails again (rerun: fuzz/$BIN/$t fuzz/regressions/$t/*)" >&2
            exit 1
        fi
        echo "==> $t: $n regression input(s) replayed, all pass"
    fi
    echo "==> $t: fuzzing for ${SECONDS_PER_TARGET}s"
    work="$(mktemp -d)"
    cp corpus/"$t"/* "$work"/ 2>/dev/null || true
    log="$work.log"
    if ! "$BIN/$t" "${COMMON[@]}" -max_len="${MAX_LEN[$t]}" -max_total_time="$SECONDS_PER_TARGET" \
        -artifact_prefix="artifacts/$t-" "$work" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz/ci.sh: $t: a finding (see fuzz/artifacts/$t-*); add it to fuzz/regressions/$t once fixed" >&2
        rm -rf "$work"
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE' "$log" | tr '\n' ' '
    echo
    rm -rf "$work" "$log"
done
echo "fuzz/ci.sh: ${#TARGETS[@]} target(s): no finding"
