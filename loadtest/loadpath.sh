#!/usr/bin/env bash
# The load path (issue 14): how long a server takes from start to its first answer, and how
# much memory it peaks at, serving MirrorManager's files directly (drop-in, `-c -g --cccsv
# --geoip`) and serving a bundle; the same after one SIGHUP; and `build`'s time and peak.
# One table per dataset (default, and XL unless XL=0).
#
#   loadtest/loadpath.sh [BINARY]        (default: target/release/mirrorlist, built if missing)
#   REF_BIN=/path/to/mirrorlist-server loadtest/loadpath.sh
#
# With REF_BIN, MirrorManager's production server (github.com/adrianreber/mirrorlist-server,
# built with Debian's protobuf-compiler and libpq-dev) is measured on the same files in the same
# run, right after ours: start to first answer and peak memory. It has no reload (SIGHUP ends
# it), so its reload columns are "-": taking new data means a restart, which costs its start.
#
# Peak memory is the kernel's high-water mark of the resident set (VmHWM in /proc/PID/status)
# for a server, and GNU time's "Maximum resident set size" for `build`. Start to first answer is
# wall time from the exec to the first 200 on /mirrorlist, polled every 10 ms.
#
# Environment (all optional): DATA_DIR=loadtest/.data (made with datasets.sh if missing),
# XL=1, PORT=18095, OUT_DIR=target/loadpath, REF_BIN. Every wait is bounded (60 s).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DATA_DIR="${DATA_DIR:-$here/.data}"
XL="${XL:-1}"
PORT="${PORT:-18095}"
OUT_DIR="${OUT_DIR:-$root/target/loadpath}"
bin="${1:-$root/target/release/mirrorlist}"
REF_BIN="${REF_BIN:-}"
[[ -z "$REF_BIN" || -x "$REF_BIN" ]] || { echo "error: REF_BIN=$REF_BIN is not an executable" >&2; exit 2; }
mkdir -p "$OUT_DIR"
say() { echo "== $*" >&2; }

[[ -x /usr/bin/time ]] || { echo "error: GNU time is needed (apt-get install time)" >&2; exit 2; }
if [[ ! -x "$bin" ]]; then
  say "building $bin"
  (cd "$root" && cargo build --release --bin mirrorlist) >&2
fi
datasets=(default)
[[ "$XL" == 1 ]] && datasets+=(xl)
for ds in "${datasets[@]}"; do
  [[ -f "$DATA_DIR/$ds/mirrorlist_cache.proto" ]] || "$here/datasets.sh" "$DATA_DIR" >&2
done

now_ms() { date +%s%3N; }
hwm_mb() { awk '$1 == "VmHWM:" { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
rss_mb() { awk '$1 == "VmRSS:" { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

pid=""
stop() { [[ -n "$pid" ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; pid=""; }
trap stop EXIT

# start_server <name> <command...>: runs the command as a server on $PORT, waits for its first
# 200, sets started="start_ms hwm_mb rss_mb" and leaves the server running as $pid.
start_server() {
  local name="$1"
  shift
  local t0 t1 path="/mirrorlist?repo=fedora-42&arch=x86_64"
  t0=$(now_ms)
  "$@" >"$OUT_DIR/$name.out" 2>"$OUT_DIR/$name.err" &
  pid=$!
  local up=0
  for _ in $(seq 1 6000); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")" == 200 ]] && { up=1; break; }
    kill -0 "$pid" 2>/dev/null || { echo "error: $name exited; see $OUT_DIR/$name.err" >&2; exit 1; }
    sleep 0.01
  done
  ((up)) || { echo "error: $name gave no 200 on $path within 60 s" >&2; exit 1; }
  t1=$(now_ms)
  started="$((t1 - t0)) $(hwm_mb "$pid") $(rss_mb "$pid")"
}

# serve <name> <args...>: prints "start_ms hwm_mb rss_mb reload_ms hwm_after_reload_mb"
measure_serve() {
  local name="$1"
  shift
  start_server "$name" "$bin" serve --port "$PORT" "$@"
  kill -HUP "$pid"
  local r0 r1
  r0=$(now_ms)
  local reloaded=0
  for _ in $(seq 1 6000); do
    [[ "$(metric 'mirrorlist_reloads_total{result="ok"}')" == 2 ]] && { reloaded=1; break; }
    sleep 0.01
  done
  ((reloaded)) || { echo "error: $name did not reload within 60 s" >&2; exit 1; }
  r1=$(now_ms)
  echo "$started $((r1 - r0)) $(hwm_mb "$pid")"
  stop
}

# The production server on the same files: "start_ms hwm_mb rss_mb".
measure_ref() {
  local name="$1" d="$2"
  mkdir -p "$OUT_DIR/ref-log"
  start_server "$name" "$REF_BIN" --listen 127.0.0.1 --port "$PORT" \
    -c "$d/mirrorlist_cache.proto" -g "$d/global_netblocks.txt" --cccsv "$d/country_continent.csv" \
    --geoip "$d/GeoIP2-Country-synthetic.mmdb" -l "$OUT_DIR/ref-log/mirrorlist.log"
  echo "$started"
  stop
}

{
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $bin"
  echo
  echo "| data | what | start to first answer ms | peak RSS MB (start) | RSS MB after start | SIGHUP to installed ms | peak RSS MB (start + one reload) |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for ds in "${datasets[@]}"; do
    d="$DATA_DIR/$ds"
    mm=(-c "$d/mirrorlist_cache.proto" -g "$d/global_netblocks.txt" --cccsv "$d/country_continent.csv" --geoip "$d/GeoIP2-Country-synthetic.mmdb")
    say "$ds: build"
    b="$OUT_DIR/$ds.bundle"
    b0=$(now_ms)
    /usr/bin/time -v "$bin" build --mm-cache "${mm[1]}" --global-netblocks "${mm[3]}" --cccsv "${mm[5]}" \
      --geoip "${mm[7]}" -o "$b" 2>"$OUT_DIR/build-$ds.time" >/dev/null
    b1=$(now_ms)
    build_peak=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$OUT_DIR/build-$ds.time")
    say "$ds: drop-in"
    read -r s h r rl hr <<<"$(measure_serve "dropin-$ds" "${mm[@]}")"
    echo "| $ds | serve, MirrorManager's files (drop-in) | $s | $h | $r | $rl | $hr |"
    say "$ds: bundle"
    read -r s h r rl hr <<<"$(measure_serve "bundle-$ds" --bundle "$b")"
    echo "| $ds | serve --bundle | $s | $h | $r | $rl | $hr |"
    if [[ -n "$REF_BIN" ]]; then
      say "$ds: production server"
      read -r s h r <<<"$(measure_ref "ref-$ds" "$d")"
      echo "| $ds | production server, same files | $s | $h | $r | - | - |"
    fi
    echo "| $ds | build (bundle $(($(stat -c %s "$b") / 1048576)) MB) | $((b1 - b0)) (wall) | $build_peak | - | - | - |"
  done
} | tee "$OUT_DIR/summary.md"
