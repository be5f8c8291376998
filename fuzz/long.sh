#!/usr/bin/env bash
# The long fuzzing run whose figures are in docs/HARDENING.md: every target at once, niced, for
# LONG_SECONDS (default 3600) each, corpora kept in fuzz/corpus/TARGET between runs, logs in
# fuzz/logs/TARGET.log (libFuzzer's status lines: executions, coverage, features).
#   nice -n 19 fuzz/long.sh [TARGET...]
# FUZZ_SANITIZER=address|none (default address); FUZZ_RUNS=N stops each target after N
# executions instead (whichever of the two limits comes first).
set -euo pipefail
cd "$(dirname "$0")"
# A finding prints one backtrace, fast (symbolizing a full one under ASan can outlast -timeout).
export RUST_BACKTRACE=0
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(mvt_decode style_parse expr_eval render tile_path)
declare -A MAX_LEN=([mvt_decode]=131072 [style_parse]=65536 [expr_eval]=4096 [render]=65536 [tile_path]=4096)
# nightly when installed, else stable with its unstable flags unlocked (as fuzz/ci.sh).
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    TOOLCHAIN=(+nightly)
else
    TOOLCHAIN=()
    export RUSTC_BOOTSTRAP=1
fi
cargo "${TOOLCHAIN[@]}" fuzz build --sanitizer "${FUZZ_SANITIZER:-address}" >/dev/null
[[ -d corpus ]] || python3 seed.py
mkdir -p logs artifacts
for t in "${TARGETS[@]}"; do
    target/x86_64-unknown-linux-gnu/release/"$t" -rss_limit_mb=2560 -timeout=120 -print_final_stats=1 \
        -max_len="${MAX_LEN[$t]}" -max_total_time="${LONG_SECONDS:-3600}" -runs="${FUZZ_RUNS:--1}" \
        -artifact_prefix="artifacts/$t-" "corpus/$t" "regressions/$t" >"logs/$t.log" 2>&1 &
done
wait
