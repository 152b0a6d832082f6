#!/usr/bin/env bash
# User-space instructions per answer, counted by valgrind's callgrind: a figure that does not
# drift with the machine, for changes smaller than the 10-30 % by which req/s moves between
# runs on these 2-core VMs. For each binary: serve BUNDLE under callgrind, wait for the first
# answer, stop it (SIGTERM) and read the count; then again with DURATION of wrk load at 4
# connections. The count per answer is the difference of the two counts over the difference of
# the requests.
#
#   loadtest/instructions.sh NAME=BINARY [NAME=BINARY ...]
#
# e.g.
#   QUERY='/mirrorlist?repo=R&arch=A&ip=106.150.181.235' \
#     loadtest/instructions.sh before=/tmp/before/mirrorlist after=target/release/mirrorlist
#
# Instructions are not time: they say nothing of cache misses or of mispredicted branches (a
# sort's), so a change that removes some may not be faster; loadtest/RESULTS.md has one.
# Time is for loadtest/run.sh and loadtest/compare.sh.
#
# Environment:
#   QUERY      the request path and query to answer (required; loadtest/run.sh prints the
#              ones it measures)
#   BUNDLE=target/loadtest/default.bundle   (loadtest/run.sh leaves it there)
#   DURATION=4s   PORT=18130   STATS_LOG=1 (the statistics log on, as in production)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
BUNDLE="${BUNDLE:-$root/target/loadtest/default.bundle}"
DURATION="${DURATION:-4s}"
PORT="${PORT:-18130}"
STATS_LOG="${STATS_LOG:-1}"

if [[ $# -eq 0 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
[[ -n "${QUERY:-}" ]] || { echo "error: set QUERY to the path to answer, e.g. '/mirrorlist?repo=R&arch=A&ip=192.0.2.1'" >&2; exit 2; }
[[ -f "$BUNDLE" ]] || { echo "error: no bundle at $BUNDLE (run loadtest/run.sh once, or set BUNDLE)" >&2; exit 2; }
for tool in valgrind callgrind_annotate wrk curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (Debian: apt-get install valgrind wrk curl)" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One run of `binary` under callgrind with `seconds` of load (0: none); prints "instructions requests".
count() {
  local binary="$1" seconds="$2" out="$work/callgrind.out" requests=1
  local log=()
  [[ "$STATS_LOG" == 1 ]] && log=(-l "$work/statistics.log")
  valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" serve --bundle "$BUNDLE" \
    --listen 127.0.0.1 --port "$PORT" --admin-listen none "${log[@]}" >"$work/server.log" 2>&1 &
  local pid=$!
  local up=0
  for _ in $(seq 1 200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$PORT$QUERY"; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.3
  done
  if [[ $up == 0 ]]; then
    kill "$pid" 2>/dev/null || true
    echo "error: $binary did not answer $QUERY on port $PORT; its log:" >&2
    tail -n 20 "$work/server.log" >&2
    exit 1
  fi
  if [[ "$seconds" != 0 ]]; then
    local sent
    sent=$(wrk -t1 -c4 -d"$seconds" "http://127.0.0.1:$PORT$QUERY" | grep -o '[0-9]* requests in' | cut -d' ' -f1)
    requests=$((requests + sent))
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$(grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}') $requests"
}

echo "| variant | instructions per answer | answers counted |"
echo "|---|---:|---:|"
for variant in "$@"; do
  name="${variant%%=*}" binary="${variant#*=}"
  [[ -x "$binary" ]] || { echo "error: $name: $binary is not an executable" >&2; exit 2; }
  idle=$(count "$binary" 0)
  load=$(count "$binary" "$DURATION")
  read -r idle_ir idle_n <<<"$idle"
  read -r load_ir load_n <<<"$load"
  echo "| $name | $(( (load_ir - idle_ir) / (load_n - idle_n) )) | $((load_n - idle_n)) |"
done
