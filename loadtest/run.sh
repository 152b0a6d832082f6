#!/usr/bin/env bash
# Load test (issue 6): our server against the smallest hyper server (examples/baseline.rs), with
# wrk, on 127.0.0.1, and one table at the end.
#
#   loadtest/run.sh
#
# It builds both in release, reuses or generates the synthetic MirrorManager datasets
# (loadtest/datasets.sh, or gen_mm_dataset.py directly), builds the bundles, picks the
# requests, then starts our server and the baseline in turn and runs wrk at 10, 100 and 400
# connections for:
#
#   mirrorlist  a plain client whose answer has ~180 hosts (an address GeoIP does not know, so
#               the global list; the repo whose global list is closest to 180 hosts)
#   metalink    the same client and repo (~75 KB)
#   netblock    mirrorlist for a client inside a host netblock (from clients.txt)
#   mixed       every path of the generator's requests.txt in turn (mixed.lua)
#   eu-mirrorlist, eu-metalink   issue 14's request: a plain client in Europe (AT, else the
#               first of DE FR NL SE CZ PL IT ES GB in clients.txt), whose answer is its
#               GeoIP country and its continent; the repo whose answer is closest to 180 hosts
#
# and, on the XL dataset, the same four at 100 connections (cost must not grow with the data).
# The baseline answers a fixed body the size of our mirrorlist answer to every path (a second
# one answers a body the size of the metalink answer, that answer's own ceiling). They run alongside, with one URL and with
# mixed.lua, just before our runs at each connection count, so that each of our rows is
# compared with a baseline run under the same wrk load and the same background.
# Client addresses go in `ip=` (loopback peers are trusted by default).
#
# Environment (all optional):
#   DURATION=10s       length of each measured run         CONNS="10 100 400"
#   WRK_THREADS=2      wrk threads                          WARMUP=2s (per server start)
#   DATA_DIR=loadtest/.data   holds default/ and xl/ (made if missing)
#   MM_GENERATOR=loadtest/generator/gen_mm_dataset.py   the dataset generator
#   XL=1               also run the XL dataset (0: skip; it is ~45 MB to generate)
#   STATS_LOG=1        our server writes the statistics log (-l), as in production (0: off)
#   PORT=18080 BASE_PORT=18081 BASE_ML_PORT=18082   ports for our server, the baseline, and
#                      the baseline with a metalink-sized body
#   BASE_EU_PORT=18083 BASE_EU_ML_PORT=18084   the baselines with the EU answers' sizes
#   NICE=-10           niceness of the servers and wrk when run as root (0: leave as is), so
#                      that background work on the machine disturbs the figures less
#   CARGO_TARGET_DIR   where cargo builds (default: target/)
#   OUT_DIR=$CARGO_TARGET_DIR/loadtest   bundles, logs, results.tsv, table.md
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-10 100 400}"
WRK_THREADS="${WRK_THREADS:-2}"
WARMUP="${WARMUP:-2s}"
DATA_DIR="${DATA_DIR:-$here/.data}"
XL="${XL:-1}"
STATS_LOG="${STATS_LOG:-1}"
PORT="${PORT:-18080}"
BASE_PORT="${BASE_PORT:-18081}"
BASE_ML_PORT="${BASE_ML_PORT:-18082}"
BASE_EU_PORT="${BASE_EU_PORT:-18083}"
BASE_EU_ML_PORT="${BASE_EU_ML_PORT:-18084}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
NICE="${NICE:--10}"
[[ $(id -u) -eq 0 ]] || NICE=0
run_nice=()
[[ "$NICE" == 0 ]] || run_nice=(nice -n "$NICE")
OUT_DIR="${OUT_DIR:-$CARGO_TARGET_DIR/loadtest}"
generator="${MM_GENERATOR:-$here/generator/gen_mm_dataset.py}"
mkdir -p "$OUT_DIR"
say() { echo "== $*" >&2; }

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  say "installing wrk"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get install -y wrk >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 2; }

# ---------------------------------------------------------------- build
say "building release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$root" && cargo build --release --bin mirrorlist --example baseline) >&2
bin="$CARGO_TARGET_DIR/release/mirrorlist"
baseline="$CARGO_TARGET_DIR/release/examples/baseline"

# ---------------------------------------------------------------- data
datasets=(default)
[[ "$XL" == 1 ]] && datasets+=(xl)
for ds in "${datasets[@]}"; do
  [[ -f "$DATA_DIR/$ds/mirrorlist_cache.proto" ]] && continue
  [[ -f "$generator" ]] || { echo "error: $DATA_DIR/$ds is missing and MM_GENERATOR ($generator) is not a file" >&2; exit 2; }
  if [[ -x "$here/datasets.sh" ]]; then
    say "generating datasets into $DATA_DIR (loadtest/datasets.sh)"
    MM_GENERATOR="$generator" "$here/datasets.sh" "$DATA_DIR" >&2
    break
  fi
  say "generating $DATA_DIR/$ds"
  extra=()
  [[ "$ds" == xl ]] && extra=(--packages-dirs)
  python3 "$generator" --out-dir "$DATA_DIR/$ds" "${extra[@]}" >&2
done
for ds in "${datasets[@]}"; do
  d="$DATA_DIR/$ds"
  b="$OUT_DIR/$ds.bundle"
  if [[ ! -f "$b" || "$d/mirrorlist_cache.proto" -nt "$b" || "$bin" -nt "$b" ]]; then
    say "building $b"
    "$bin" build --mm-cache "$d/mirrorlist_cache.proto" --global-netblocks "$d/global_netblocks.txt" \
      --cccsv "$d/country_continent.csv" --geoip "$d/GeoIP2-Country-synthetic.mmdb" -o "$b" 2>"$OUT_DIR/build-$ds.log"
  fi
done

# ---------------------------------------------------------------- requests
bundle="$OUT_DIR/default.bundle"
# Hosts listed for a request, and the groups they came from (from `mirrorlist query`).
trace() { "$bin" query --bundle "$bundle" --ip "$2" "$1" 2>/dev/null | grep -E '^# +[0-9]+\. host' || true; }
say "picking requests"
plain_ip=""
while read -r kind _ ip; do
  [[ "$kind" == unknown ]] || continue
  # Unknown to GeoIP, and no ASN or netblock hosts: the global list only.
  if [[ -z "$(trace "/mirrorlist?repo=fedora-42&arch=x86_64" "$ip" | grep -v ': global$')" ]]; then
    plain_ip="$ip"
    break
  fi
done <"$DATA_DIR/default/clients.txt"
[[ -n "$plain_ip" ]] || { echo "error: no client in clients.txt gets only the global list" >&2; exit 1; }
# Of the 60 repo/arch pairs requests.txt asks for most, the one whose answer for client $1 is
# closest to 180 hosts; prints "repo=R&arch=A HOSTS".
closest_to_180() {
  local ra n d pick="" pick_d=100000 pick_n=0
  for ra in $(grep -o 'repo=[^&]*&arch=[^&]*' "$DATA_DIR/default/requests.txt" | sort | uniq -c | sort -rn | head -60 | awk '{print $2}'); do
    n=$(trace "/mirrorlist?$ra" "$1" | wc -l)
    d=$((n > 180 ? n - 180 : 180 - n))
    if ((d < pick_d)); then pick="$ra"; pick_d=$d; pick_n=$n; fi
  done
  echo "$pick $pick_n"
}
read -r best best_n < <(closest_to_180 "$plain_ip")
netblock_ip=""
while read -r kind _ ip; do
  [[ "$kind" == netblock ]] || continue
  if trace "/mirrorlist?$best" "$ip" | grep -q ': netblock$'; then
    netblock_ip="$ip"
    break
  fi
done <"$DATA_DIR/default/clients.txt"
[[ -n "$netblock_ip" ]] || { echo "error: no netblock client of clients.txt gets a netblock host for $best" >&2; exit 1; }
netblock_n=$(trace "/mirrorlist?$best" "$netblock_ip" | wc -l)
eu_ip="" eu_cc=""
for cc in AT DE FR NL SE CZ PL IT ES GB; do
  eu_ip=$(awk -v cc="$cc" '$1 == "plain" && $2 == cc {print $3; exit}' "$DATA_DIR/default/clients.txt")
  if [[ -n "$eu_ip" ]]; then eu_cc=$cc; break; fi
done
[[ -n "$eu_ip" ]] || { echo "error: no plain European client in clients.txt" >&2; exit 1; }
read -r eu_best eu_n < <(closest_to_180 "$eu_ip")
eu_ml_path="/mirrorlist?$eu_best&ip=$eu_ip"
eu_mk_path="/metalink?$eu_best&ip=$eu_ip"
ml_path="/mirrorlist?$best&ip=$plain_ip"
mk_path="/metalink?$best&ip=$plain_ip"
nb_path="/mirrorlist?$best&ip=$netblock_ip"
mixed_file="$DATA_DIR/default/requests.txt"
say "mirrorlist: $ml_path ($best_n hosts)"
say "netblock:   $nb_path ($netblock_n hosts)"
say "eu:         $eu_ml_path ($eu_n hosts, $eu_cc)"
say "mixed:      $(grep -c '^/' "$mixed_file") paths of $mixed_file"

# ---------------------------------------------------------------- running
clk=$(getconf CLK_TCK)
pids=()
stop_servers() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_servers EXIT

start_server() { # name port command... (sets started_pid)
  local name="$1" port="$2"
  shift 2
  "${run_nice[@]}" "$@" >"$OUT_DIR/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      return 0
    fi
    kill -0 "$started_pid" 2>/dev/null || { echo "error: $name exited; see $OUT_DIR/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "error: $name did not start listening on $port" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy ticks of the whole machine (all CPUs): everything but idle and iowait.
machine_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

results="$OUT_DIR/results.tsv"
printf 'server\tdataset\trequest\tconns\trequests\tseconds\tbytes\terrors\tnon2xx\tp50_us\tp99_us\tmax_us\tcpu_ticks\trss_anon_kb\trss_file_kb\twrk_cpu_s\tmachine_ticks\n' >"$results"

measure() { # server pid dataset request conns port path|@mixed
  local server="$1" pid="$2" ds="$3" req="$4" conns="$5" port="$6" target="$7" out t0 t1
  local args=(-t "$WRK_THREADS" -c "$conns" -d "$DURATION" --timeout 5s)
  if [[ "$target" == @mixed ]]; then
    args+=(-s "$here/mixed.lua" "http://127.0.0.1:$port")
  else
    args+=(-s "$here/report.lua" "http://127.0.0.1:$port$target")
  fi
  local m0 m1 wrk_cpu TIMEFORMAT='%U %S'
  # The statistics log starts each run empty (it is opened for appending), so it stays small.
  [[ "$server" == baseline || ! -f "$OUT_DIR/statistics.log" ]] || : >"$OUT_DIR/statistics.log"
  t0=$(cpu_ticks "$pid")
  m0=$(machine_ticks)
  # `time` reports wrk's own CPU (user, system) on stderr; the output goes to a file.
  wrk_cpu=$( { time MIXED_REQUESTS="$mixed_file" "${run_nice[@]}" wrk "${args[@]}" >"$OUT_DIR/wrk.out"; } 2>&1 | tail -1)
  m1=$(machine_ticks)
  t1=$(cpu_ticks "$pid")
  out=$(cat "$OUT_DIR/wrk.out")
  local line
  line=$(grep '^RESULT ' <<<"$out") || { echo "error: wrk gave no result: $out" >&2; exit 1; }
  local -A r=()
  for kv in ${line#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$server" "$ds" "$req" "$conns" "${r[requests]}" \
    "$(awk -v u="${r[duration_us]}" 'BEGIN{printf "%.3f", u/1e6}')" "${r[bytes]}" \
    "$((r[connect] + r[read] + r[write] + r[timeout]))" "${r[status]}" \
    "${r[p50]}" "${r[p99]}" "${r[max]}" "$((t1 - t0))" \
    "$(status_kb "$pid" RssAnon)" "$(status_kb "$pid" RssFile)" \
    "$(awk '{print $1 + $2}' <<<"$wrk_cpu")" "$((m1 - m0))" >>"$results"
  say "$server $ds $req c=$conns: $(awk -v n="${r[requests]}" -v u="${r[duration_us]}" 'BEGIN{printf "%.0f req/s", n/(u/1e6)}') p99=${r[p99]}us"
}

warm() { "${run_nice[@]}" wrk -t "$WRK_THREADS" -c 100 -d "$WARMUP" "http://127.0.0.1:$1$2" >/dev/null; }

admin=()
"$bin" serve --help | grep -q -- '--admin-listen' && admin=(--admin-listen none)

# The baseline and our server run side by side (the idle one costs nothing), and each of our
# runs comes right after the baseline run it is compared with, so a change in what else the
# machine is doing shows in both.
# The answers' sizes, from our server on the default bundle: each baseline sends as many bytes.
start_server mirrorlist-size "$PORT" "$bin" serve --bundle "$OUT_DIR/default.bundle" --port "$PORT" "${admin[@]}"
ml_bytes=$(curl -s "http://127.0.0.1:$PORT$ml_path" | wc -c)
mk_bytes=$(curl -s "http://127.0.0.1:$PORT$mk_path" | wc -c)
eu_ml_bytes=$(curl -s "http://127.0.0.1:$PORT$eu_ml_path" | wc -c)
eu_mk_bytes=$(curl -s "http://127.0.0.1:$PORT$eu_mk_path" | wc -c)
kill "$started_pid"
wait "$started_pid" 2>/dev/null || true
pids=()
say "mirrorlist answer: $ml_bytes bytes; metalink answer: $mk_bytes bytes"
start_server baseline "$BASE_PORT" "$baseline" "$BASE_PORT" "$ml_bytes"
base_pid=$started_pid
warm "$BASE_PORT" "$ml_path"
start_server baseline-metalink "$BASE_ML_PORT" "$baseline" "$BASE_ML_PORT" "$mk_bytes"
base_ml_pid=$started_pid
warm "$BASE_ML_PORT" "$mk_path"
start_server baseline-eu "$BASE_EU_PORT" "$baseline" "$BASE_EU_PORT" "$eu_ml_bytes"
base_eu_pid=$started_pid
warm "$BASE_EU_PORT" "$eu_ml_path"
start_server baseline-eu-metalink "$BASE_EU_ML_PORT" "$baseline" "$BASE_EU_ML_PORT" "$eu_mk_bytes"
base_eu_ml_pid=$started_pid
warm "$BASE_EU_ML_PORT" "$eu_mk_path"
# As in production, our server writes MirrorManager's statistics line for every answer.
stats=()
if [[ "$STATS_LOG" == 1 ]]; then
  stats=(-l "$OUT_DIR/statistics.log")
fi
for ds in "${datasets[@]}"; do
  say "mirrorlist on $ds"
  start_server "mirrorlist-$ds" "$PORT" "$bin" serve --bundle "$OUT_DIR/$ds.bundle" --port "$PORT" "${admin[@]}" "${stats[@]}"
  our_pid=$started_pid
  warm "$PORT" "$ml_path"
  conns_here="$CONNS"
  [[ "$ds" == default ]] || conns_here=100
  for c in $conns_here; do
    measure baseline "$base_pid" - url "$c" "$BASE_PORT" "$ml_path"
    measure mirrorlist "$our_pid" "$ds" mirrorlist "$c" "$PORT" "$ml_path"
    measure baseline "$base_ml_pid" - url-metalink "$c" "$BASE_ML_PORT" "$mk_path"
    measure mirrorlist "$our_pid" "$ds" metalink "$c" "$PORT" "$mk_path"
    measure mirrorlist "$our_pid" "$ds" netblock "$c" "$PORT" "$nb_path"
    measure baseline "$base_pid" - mixed "$c" "$BASE_PORT" @mixed
    measure mirrorlist "$our_pid" "$ds" mixed "$c" "$PORT" @mixed
    measure baseline "$base_eu_pid" - url-eu "$c" "$BASE_EU_PORT" "$eu_ml_path"
    measure mirrorlist "$our_pid" "$ds" eu-mirrorlist "$c" "$PORT" "$eu_ml_path"
    measure baseline "$base_eu_ml_pid" - url-eu-metalink "$c" "$BASE_EU_ML_PORT" "$eu_mk_path"
    measure mirrorlist "$our_pid" "$ds" eu-metalink "$c" "$PORT" "$eu_mk_path"
  done
  kill "$our_pid"
  wait "$our_pid" 2>/dev/null || true
  pids=("$base_pid" "$base_ml_pid" "$base_eu_pid" "$base_eu_ml_pid")
done
stop_servers

# ---------------------------------------------------------------- table
table="$OUT_DIR/table.md"
# Each of our rows is compared with the latest baseline row of its kind before it.
awk -F'\t' -v clk="$clk" '
  NR == 1 { next }
  { rows[++n] = $0 }
  END {
    print "| server | data | request | conns | req/s | p50 ms | p99 ms | max ms | errors | non-2xx | server CPU % | server CPU us/req | wrk CPU % | other CPU % | RSS anon MB | RSS file MB | req/s vs baseline | p99 vs baseline |"
    print "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      split(rows[i], f, "\t")
      rps = f[5] / f[6]
      if (f[1] == "baseline") { base_rps[f[3], f[4]] = rps; base_p99[f[3], f[4]] = f[11] }
      cpu = f[13] / clk
      kind = (f[3] == "mixed") ? "mixed" : (f[3] == "metalink") ? "url-metalink" : \
        (f[3] == "eu-mirrorlist") ? "url-eu" : (f[3] == "eu-metalink") ? "url-eu-metalink" : "url"
      ratio = "-"; p99r = "-"
      if (f[1] != "baseline" && base_rps[kind, f[4]] > 0) {
        ratio = sprintf("%.2f", rps / base_rps[kind, f[4]])
        p99r = sprintf("%.2f", f[11] / base_p99[kind, f[4]])
      }
      other = 100 * (f[17] / clk - cpu - f[16]) / f[6]
      if (other < 0) other = 0
      printf "| %s | %s | %s | %d | %.0f | %.2f | %.2f | %.2f | %d | %d | %.0f | %.1f | %.0f | %.0f | %.1f | %.1f | %s | %s |\n",
        f[1], f[2], f[3], f[4], rps, f[10] / 1000, f[11] / 1000, f[12] / 1000, f[8], f[9],
        100 * cpu / f[6], 1e6 * cpu / f[5], 100 * f[16] / f[6], other, f[14] / 1024, f[15] / 1024, ratio, p99r
    }
  }' "$results" >"$table"

{
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, wrk -t$WRK_THREADS -d$DURATION, all on 127.0.0.1"
  echo "mirrorlist/metalink: $best, ip=$plain_ip ($best_n hosts); netblock: ip=$netblock_ip ($netblock_n hosts); mixed: $mixed_file"
  echo "eu-mirrorlist/eu-metalink: $eu_best, ip=$eu_ip ($eu_cc, $eu_n hosts: its country and continent)"
  echo "statistics log: $([[ "$STATS_LOG" == 1 ]] && echo on || echo off)."
  echo "baseline 'url' rows: the mirrorlist answer's size ($ml_bytes B); 'url-metalink': the metalink answer's size ($mk_bytes B);"
  echo "'url-eu' and 'url-eu-metalink': the EU answers' sizes ($eu_ml_bytes B, $eu_mk_bytes B);"
  echo "'mixed' rows: mixed.lua paths. Each of our rows is compared with the baseline row of its kind above it. CPU % is of one core"
  echo "($(nproc) cores: $(($(nproc) * 100))% in all); 'other' is the machine's busy time less the server and wrk."
  echo
  cat "$table"
  # Flat cost: the same request on XL against default, at 100 connections.
  awk -F'\t' -v clk="$clk" '
    NR > 1 && $1 == "mirrorlist" && $4 == 100 {
      rps[$2, $3] = $5 / $6; us[$2, $3] = 1e6 * $13 / clk / $5; seen[$3] = 1
    }
    END {
      line = ""
      for (r in seen) if ((("xl", r) in rps) && (("default", r) in rps))
        line = line sprintf("%s%s: req/s %+.0f%%, server CPU/req %+.0f%%", line == "" ? "" : "; ", r,
          100 * (rps["xl", r] / rps["default", r] - 1), 100 * (us["xl", r] / us["default", r] - 1))
      if (line != "") print "\nXL against default at 100 connections: " line
    }' "$results"
  echo
  echo "raw: $results"
} | tee "$OUT_DIR/summary.txt"
