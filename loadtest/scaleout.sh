#!/usr/bin/env bash
# Scale-out through HAProxy: two mirrorlist instances on loopback behind HAProxy
# (loadtest/haproxy/haproxy.cfg), wrk through HAProxy for DURATION seconds, and a new bundle
# rolled to both instances (--watch) in the middle of the run. Reports requests/s, errors
# (non-2xx/3xx answers and socket errors, which must be 0), that both instances installed the
# new bundle, and that the client address the instances logged is the one HAProxy forwarded
# (X-Forwarded-For), not HAProxy's own address nor the one the client tried to spoof.
#
# Usage: loadtest/scaleout.sh [DURATION]     (default 20 seconds)
#
# Installs Debian's haproxy and wrk if missing (needs root then). Builds the release binary.
# Uses loopback ports 18080 (HAProxy), 18081-18082 (instances, which differ only in --port and
# their log file; each answers /readyz and, to local peers, /metrics on its own port), 18090
# (HAProxy stats) and source address 127.0.0.3. Every wait is bounded; the
# work directory (logs, bundles, wrk output) is printed and kept.
set -euo pipefail

duration="${1:-20}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d /tmp/mirrorlist-scaleout.XXXXXX)"
bin="$root/target/release/mirrorlist"
pids=()

exec 3>&2 # errors reach the terminal even from commands whose output is discarded
say() { printf '%s\n' "$*"; }
die() { say "error: $*" >&3; exit 1; }
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# Polls "$@" (a command) every 0.1 s until it succeeds, for at most $limit seconds.
wait_until() {
  local limit="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}

metric() { # metric ADMIN_PORT NAME -> value of an unlabelled series (or the sum of a family)
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v n="$2" '
    { name = $1; sub(/\{.*/, "", name) }
    name == n { s += $2; found = 1 }
    END { if (found) printf "%.0f\n", s; else exit 1 }'
}

# --- tools --------------------------------------------------------------------------------
need=()
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
  say "installing ${need[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

say "== building (release)"
(cd "$root" && timeout 1800 cargo build --release --quiet)

# --- bundle and instances -----------------------------------------------------------------
say "== work directory: $work"
"$bin" build --source "$root/data" -o "$work/mirrorlist.bundle" >"$work/build1.out" 2>&1 \
  || die "bundle build failed: $(cat "$work/build1.out")"
old_generated="$(awk -F' *= *' '$1 == "generated_at" { print $2; exit }' "$root/data/mirrors.toml")"

for i in 1 2; do
  name=$([[ $i == 1 ]] && echo a || echo b)
  "$bin" serve --bundle "$work/mirrorlist.bundle" --watch \
    --listen 127.0.0.1 --port "1808$i" \
    --trusted-proxy 127.0.0.3/32 -l "$work/$name.log" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
done
for i in 1 2; do
  wait_until 60 "instance $i to be ready" curl -fsS "http://127.0.0.1:1808$i/readyz"
done

haproxy -f "$here/haproxy/haproxy.cfg" -db >"$work/haproxy.out" 2>"$work/haproxy.err" &
haproxy_pid=$!
pids+=("$haproxy_pid")
both_up() {
  local csv
  kill -0 "$haproxy_pid" 2>/dev/null || die "haproxy exited: $(cat "$work/haproxy.err")"
  csv="$(curl -fsS 'http://127.0.0.1:18090/stats;csv')" || return 1
  [[ "$(printf '%s\n' "$csv" | awk -F, '$1 == "instances" && ($2 == "a" || $2 == "b") && $18 == "UP"' | wc -l)" == 2 ]]
}
wait_until 60 "HAProxy to see both instances UP" both_up
curl -fsS -o /dev/null -H 'X-Forwarded-For: 192.0.2.7' \
  'http://127.0.0.1:18080/mirrorlist?repo=fedora-42&arch=x86_64' || die "no answer through HAProxy"

# --- load, with a bundle roll in the middle -----------------------------------------------
cat >"$work/mix.lua" <<'LUA'
-- A mix of mirrorlist and metalink requests; every request also carries an X-Forwarded-For
-- the client made up, which the instances must ignore (it does not come from HAProxy).
wrk.headers["X-Forwarded-For"] = "192.0.2.7"
local paths = {
  "/mirrorlist?repo=fedora-42&arch=x86_64",
  "/metalink?repo=fedora-42&arch=x86_64",
  "/mirrorlist?repo=fedora-41&arch=aarch64",
  "/mirrorlist?repo=fedora-40&arch=x86_64&country=de",
  "/metalink?repo=fedora-41&arch=x86_64",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA

say "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run; $(haproxy -v | head -1 | cut -d' ' -f1-3); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
say "== wrk through HAProxy for ${duration}s (2 threads, 64 connections)"
timeout $((duration + 60)) wrk -t2 -c64 -d"${duration}s" --latency -s "$work/mix.lua" \
  http://127.0.0.1:18080 >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")

sleep $((duration / 2))
new_generated=$((old_generated + 3600))
mkdir -p "$work/data2"
cp "$root"/data/*.toml "$root"/data/*.csv "$root"/data/*.txt "$work/data2/" 2>/dev/null || true
sed -i "s/^generated_at = .*/generated_at = $new_generated/" "$work/data2/mirrors.toml"
roll_started=$(date +%s%3N)
# `build` writes a temporary file and renames it over the bundle both instances watch.
"$bin" build --source "$work/data2" -o "$work/mirrorlist.bundle" >"$work/build2.out" 2>&1 \
  || die "second bundle build failed: $(cat "$work/build2.out")"
rolled() {
  [[ "$(metric 18081 mirrorlist_snapshot_generated_timestamp_seconds)" == "$new_generated" &&
     "$(metric 18082 mirrorlist_snapshot_generated_timestamp_seconds)" == "$new_generated" ]]
}
wait_until 30 "both instances to install the new bundle" rolled
roll_took=$(($(date +%s%3N) - roll_started))

wait "$wrk_pid" || die "wrk failed: $(cat "$work/wrk.txt")"

# --- report -------------------------------------------------------------------------------
rps="$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")"
total="$(awk '/requests in/ { print $1 }' "$work/wrk.txt")"
non2xx="$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' "$work/wrk.txt")"
non2xx="${non2xx:-0}"
sockerr="$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$work/wrk.txt")"
sockerr="${sockerr:-0}"
errors=$((non2xx + sockerr))

say ""
say "== wrk"
cat "$work/wrk.txt"
say ""
say "== instances"
fail=0
for i in 1 2; do
  name=$([[ $i == 1 ]] && echo a || echo b)
  port=$((18080 + i))
  served="$(metric "$port" mirrorlist_requests_total)"
  ok="$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '$1 == "mirrorlist_reloads_total{result=\"ok\"}" { print $2 }')"
  failed="$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '$1 == "mirrorlist_reloads_total{result=\"failed\"}" { print $2 }')"
  seq="$(metric "$port" mirrorlist_snapshot_sequence)"
  gen="$(metric "$port" mirrorlist_snapshot_generated_timestamp_seconds)"
  dropped="$(metric "$port" mirrorlist_stats_log_lines_dropped_total)"
  # The statistics log's first field is the client address the instance resolved.
  ips="$(awk -F'; ' '{ print $1 }' "$work/$name.log" | sort | uniq -c | awk '{ printf "%s %s x%s; ", $2, $3, $1 }')"
  other_ips="$(awk -F'; ' '$1 != "IP: 127.0.0.1"' "$work/$name.log" | wc -l)"
  lines="$(wc -l <"$work/$name.log")"
  say "instance $name: $served requests; reloads ok $ok, failed $failed; snapshot sequence $seq, generated_at $gen; stats log $lines lines (dropped $dropped): ${ips}"
  ((other_ips == 0 && lines > 0)) || { say "  FAIL: client addresses other than 127.0.0.1 in $name.log"; fail=1; }
  [[ "$gen" == "$new_generated" && "$seq" == 2 ]] || { say "  FAIL: instance $name did not install the new bundle"; fail=1; }
  [[ "$failed" == 0 ]] || { say "  FAIL: instance $name had a failed reload"; fail=1; }
done
say ""
say "== HAProxy (per server: sessions, connection errors, response errors, retries, redispatches)"
curl -fsS 'http://127.0.0.1:18090/stats;csv' |
  awk -F, '$1 == "instances" && ($2 == "a" || $2 == "b") { printf "server %s: %s sessions, econ %s, eresp %s, wretr %s, wredis %s, status %s\n", $2, $8, $14, $15, $16, $17, $18 }'
say ""
say "== summary"
say "requests/s: $rps ($total requests in ${duration}s through HAProxy, 2 instances; load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
say "errors: $errors (non-2xx/3xx: $non2xx, socket errors: $sockerr)"
say "bundle roll: generated_at $old_generated -> $new_generated installed by both instances within ${roll_took} ms of the build starting (build included), mid-run"
say "client address seen by the instances: 127.0.0.1 (forwarded by HAProxy from 127.0.0.3; the client's own X-Forwarded-For: 192.0.2.7 ignored)"
((errors == 0)) || { say "FAIL: errors during the run"; fail=1; }
rm -f "$work/a.log" "$work/b.log" # large; the counts are above
((fail == 0)) && say "PASS" || { say "FAIL"; exit 1; }
