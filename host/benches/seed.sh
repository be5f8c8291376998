#!/usr/bin/env bash
# Local seed throughput: `rasterzen seed` of the embedded Florence archive (every zoom, PNG 512,
# default style, wasm engine unless told otherwise) into a fresh fs cache, RUNS times at each
# --concurrency given; prints wall-clock tiles/s and the CPU the process used (user + sys), so
# a run on a shared machine shows how many cores it actually got.
#   host/benches/seed.sh "1 2 4" 3 [more seed options, e.g. --zooms 0-15 or --engine native]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/rasterzen
concurrencies=${1:-"1 2 4"}
runs=${2:-3}
shift 2 || true
for c in $concurrencies; do
  for i in $(seq 1 "$runs"); do
    d=$(mktemp -d "${TMPDIR:-/tmp}/rasterzen-seed-bench.XXXXXX")
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    read -r user0 sys0 < <(awk '{print $14, $15}' /proc/self/stat)
    XDG_CACHE_HOME="$d/xdg" "$bin" seed --cache "fs:$d/cache" --concurrency "$c" --progress none \
        --log-level warn --summary "$d/summary.json" "$@" > /dev/null &
    pid=$!
    cpu=0
    while kill -0 "$pid" 2>/dev/null; do
      cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo "$cpu")
      sleep 0.05
    done
    wait "$pid"
    end=$(date +%s.%N)
    python3 - "$d/summary.json" "$start" "$end" "$cpu" "$c" "$i" "$load" <<'PY'
import json, sys, os
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
cpu = float(sys.argv[4]) / os.sysconf("SC_CLK_TCK")
tiles = s["rendered"] + s["empty"]
print(f"concurrency {sys.argv[5]} run {sys.argv[6]} (load {sys.argv[7]}): {tiles} tiles in {wall:.2f} s = "
      f"{tiles / wall:.1f} tiles/s; CPU {cpu:.2f} s = {cpu / wall:.2f} cores, {1000 * cpu / tiles:.1f} ms a tile")
PY
    rm -rf "$d"
  done
done
