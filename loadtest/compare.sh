#!/usr/bin/env bash
# Before/after on the request path: the same requests against several builds or settings of our
# server, in one run, each variant measured several times in turn (A B C A B C ...) so that the
# machine's drift (up to 30 % between runs minutes apart on these 2-core VMs) lands on all of
# them alike. Prints one table: req/s and p99 per variant and request, and the ratio of each
# variant to the first one.
#
#   loadtest/compare.sh NAME=BINARY[:FLAGS] NAME=BINARY[:FLAGS] ...
#
# e.g.
#   loadtest/compare.sh before=/tmp/before/mirrorlist after=target/release/mirrorlist \
#     'health=target/release/mirrorlist:--health @HEALTH@'
#
# `@HEALTH@` in the flags stands for a health file made here for the measured answer's hosts
# (a tenth of them down, a tenth stale).
# Each variant serves the default dataset's bundle, built by its own binary, on 127.0.0.1:$PORT. Requests (from
# the dataset, as loadtest/run.sh picks them):
#   mirrorlist  a client GeoIP does not know: the global list (~180 hosts)
#   metalink    the same client and repository (~75 KB), default Accept (version 3)
#   mixed       every path of the generator's requests.txt in turn (mixed.lua)
#   redirect    the mirrorlist request with redirect=1 (a 302), when REQUESTS names it
#
# Environment (all optional):
#   DURATION=8s  ROUNDS=3  CONNS=100  WRK_THREADS=2  WARMUP=2s  PORT=18090
#   REQUESTS="mirrorlist metalink mixed"   which of the requests above, in this order
#   DATA_DIR=loadtest/.data  (default/ is made with loadtest/datasets.sh if missing)
#   STATS_LOG=1  run every variant with -l (the statistics log on, as in production)
#   OUT_DIR=target/loadtest-compare
# Every run is bounded by DURATION; the whole takes about
# variants x requests x ROUNDS x (DURATION + WARMUP).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DURATION="${DURATION:-8s}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-100}"
WRK_THREADS="${WRK_THREADS:-2}"
WARMUP="${WARMUP:-2s}"
PORT="${PORT:-18090}"
DATA_DIR="${DATA_DIR:-$here/.data}"
STATS_LOG="${STATS_LOG:-1}"
OUT_DIR="${OUT_DIR:-$root/target/loadtest-compare}"
mkdir -p "$OUT_DIR"
say() { echo "== $*" >&2; }

(($# >= 1)) || { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
names=() bins=() flags=()
for spec in "$@"; do
  name="${spec%%=*}"
  rest="${spec#*=}"
  bin="${rest%%:*}"
  flag=""
  [[ "$rest" == *:* ]] && flag="${rest#*:}"
  [[ -x "$bin" ]] || { echo "error: $name: $bin is not an executable" >&2; exit 2; }
  names+=("$name") bins+=("$bin") flags+=("$flag")
done

command -v wrk >/dev/null || { echo "error: wrk is needed (apt-get install wrk)" >&2; exit 2; }
d="$DATA_DIR/default"
if [[ ! -f "$d/mirrorlist_cache.proto" ]]; then
  say "generating the datasets into $DATA_DIR"
  "$here/datasets.sh" "$DATA_DIR" >&2
fi
# One bundle per variant, each built by its own binary: the bundle format may differ between
# builds (a newer format version is refused by an older reader and the other way round).
bundles=()
for i in "${!names[@]}"; do
  bundles[$i]="$OUT_DIR/${names[$i]}.bundle"
  say "building ${bundles[$i]} with ${bins[$i]}"
  "${bins[$i]}" build --mm-cache "$d/mirrorlist_cache.proto" --global-netblocks "$d/global_netblocks.txt" \
    --cccsv "$d/country_continent.csv" --geoip "$d/GeoIP2-Country-synthetic.mmdb" -o "${bundles[$i]}" \
    2>"$OUT_DIR/build-${names[$i]}.log"
done
bundle="${bundles[0]}"

trace() { "${bins[0]}" query --bundle "$bundle" --ip "$2" "$1" 2>/dev/null | grep -E '^# +[0-9]+\. host' || true; }
plain_ip=""
while read -r kind _ ip; do
  [[ "$kind" == unknown ]] || continue
  if [[ -z "$(trace "/mirrorlist?repo=fedora-42&arch=x86_64" "$ip" | grep -v ': global$')" ]]; then
    plain_ip="$ip"
    break
  fi
done <"$d/clients.txt"
[[ -n "$plain_ip" ]] || { echo "error: no client in clients.txt gets only the global list" >&2; exit 1; }
best="" best_d=100000 best_n=0
for ra in $(grep -o 'repo=[^&]*&arch=[^&]*' "$d/requests.txt" | sort | uniq -c | sort -rn | head -60 | awk '{print $2}'); do
  n=$(trace "/mirrorlist?$ra" "$plain_ip" | wc -l)
  dist=$((n > 180 ? n - 180 : 180 - n))
  if ((dist < best_d)); then best="$ra" best_d=$dist best_n=$n; fi
done
read -r -a requests <<<"${REQUESTS:-mirrorlist metalink mixed}"
declare -A target=(
  [mirrorlist]="/mirrorlist?$best&ip=$plain_ip"
  [metalink]="/metalink?$best&ip=$plain_ip"
  [redirect]="/mirrorlist?$best&ip=$plain_ip&redirect=1"
  [mixed]="@mixed"
)
say "mirrorlist: ${target[mirrorlist]} ($best_n hosts)"

# `@HEALTH@` in a variant's flags: a health file for the measured answer's hosts, every tenth
# down and every tenth (offset five) stale, valid for a day, the others current.
health="$OUT_DIR/health.json"
trace "${target[mirrorlist]%%&ip=*}" "$plain_ip" | awk '{print $5}' | python3 -c '
import json, sys, time
now = int(time.time())
names = [l.strip() for l in sys.stdin if l.strip()]
def state(i): return "down" if i % 10 == 0 else "stale" if i % 10 == 5 else "current"
hosts = {n: {"state": state(i), "reason": "compare.sh", "since": now - 60, "checked_at": now - 1, "failures": 0} for i, n in enumerate(names)}
json.dump({"format": 1, "generated_at": now - 1, "valid_until": now + 86400, "snapshot_generated_at": 0,
           "source": "compare.sh", "round": 1, "hosts": hosts}, sys.stdout)
' >"$health"
for i in "${!flags[@]}"; do flags[$i]="${flags[$i]//@HEALTH@/$health}"; done

pid=""
stop() { [[ -n "$pid" ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; pid=""; }
trap stop EXIT
start() { # index
  local i="$1" log=()
  [[ "$STATS_LOG" == 1 ]] && log=(-l "$OUT_DIR/${names[$i]}.stats.log")
  # shellcheck disable=SC2086 # the flags are words
  "${bins[$i]}" serve --bundle "${bundles[$i]}" --port "$PORT" "${log[@]}" ${flags[$i]} \
    >"$OUT_DIR/${names[$i]}.out" 2>"$OUT_DIR/${names[$i]}.err" &
  pid=$!
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "error: ${names[$i]} exited; see $OUT_DIR/${names[$i]}.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "error: ${names[$i]} did not start" >&2
  exit 1
}

results="$OUT_DIR/results.tsv"
printf 'variant\trequest\tround\trequests\tseconds\terrors\tnon2xx\tp99_us\n' >"$results"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!names[@]}"; do
    start "$i"
    wrk -t "$WRK_THREADS" -c "$CONNS" -d "$WARMUP" "http://127.0.0.1:$PORT${target[mirrorlist]}" >/dev/null
    for req in "${requests[@]}"; do
      args=(-t "$WRK_THREADS" -c "$CONNS" -d "$DURATION" --timeout 5s)
      if [[ "${target[$req]}" == @mixed ]]; then
        args+=(-s "$here/mixed.lua" "http://127.0.0.1:$PORT")
      else
        args+=(-s "$here/report.lua" "http://127.0.0.1:$PORT${target[$req]}")
      fi
      out=$(MIXED_REQUESTS="$d/requests.txt" wrk "${args[@]}")
      line=$(grep '^RESULT ' <<<"$out") || { echo "error: wrk gave no result: $out" >&2; exit 1; }
      declare -A r=()
      for kv in ${line#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${names[$i]}" "$req" "$round" "${r[requests]}" \
        "$(awk -v u="${r[duration_us]}" 'BEGIN{printf "%.3f", u/1e6}')" \
        "$((r[connect] + r[read] + r[write] + r[timeout]))" "${r[status]}" "${r[p99]}" >>"$results"
      say "round $round ${names[$i]} $req: $(awk -v n="${r[requests]}" -v u="${r[duration_us]}" 'BEGIN{printf "%.0f req/s", n/(u/1e6)}') p99=${r[p99]}us"
    done
    stop
  done
done

{
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, wrk -t$WRK_THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, statistics log $([[ $STATS_LOG == 1 ]] && echo on || echo off), 127.0.0.1"
  echo "mirrorlist/metalink: $best ip=$plain_ip ($best_n hosts); mixed: $d/requests.txt"
  echo
  awk -F'\t' -v first="${names[0]}" '
    NR == 1 { next }
    { key = $1 SUBSEP $2; n[key] += $4; s[key] += $5; e[key] += $6 + $7
      if ($8 > p99[key]) p99[key] = $8
      if (!($1 in seenv)) { seenv[$1] = 1; order[++nv] = $1 }
      if (!($2 in seenr)) { seenr[$2] = 1; reqs[++nr] = $2 } }
    END {
      print "| variant | request | req/s (all rounds) | worst p99 ms | errors + non-2xx | req/s vs " first " |"
      print "|---|---|---:|---:|---:|---:|"
      for (j = 1; j <= nr; j++) for (i = 1; i <= nv; i++) {
        k = order[i] SUBSEP reqs[j]; b = first SUBSEP reqs[j]
        printf "| %s | %s | %.0f | %.2f | %d | %.3f |\n", order[i], reqs[j], n[k] / s[k], p99[k] / 1000, e[k], (n[k] / s[k]) / (n[b] / s[b])
      }
    }' "$results"
  echo
  echo "raw: $results"
} | tee "$OUT_DIR/summary.txt"
