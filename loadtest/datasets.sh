#!/usr/bin/env bash
# (Re)generates the two synthetic MirrorManager datasets the scale figures in RESULTS.md use:
#
#   OUT_DIR/default   Fedora-scale cache (~6 MB, 4 218 directories)
#   OUT_DIR/xl        the same plus Packages/<letter> subdirectories (--packages-dirs, ~45 MB,
#                     37 194 directories)
#
# Each holds mirrorlist_cache.proto, global_netblocks.txt, country_continent.csv,
# GeoIP2-Country-synthetic.mmdb, clients.txt, requests.txt and manifest.json. The generator is
# deterministic (fixed seed): running this twice gives byte-identical files.
#
# Usage: loadtest/datasets.sh [-g GENERATOR] [OUT_DIR]
#   GENERATOR  path to gen_mm_dataset.py (default $MM_GENERATOR, else loadtest/generator/)
#   OUT_DIR    default: loadtest/.data/ (git-ignored)
#   PYTHON     environment: the interpreter to use (default python3)
#
# The generator needs protobuf, grpcio-tools, mmdb-writer and netaddr. If they are missing they
# are installed with pip; if pip refuses (an externally managed Python), into a venv in
# OUT_DIR/.venv instead.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
generator="${MM_GENERATOR:-$here/generator/gen_mm_dataset.py}"
while getopts "g:h" opt; do
  case "$opt" in
    g) generator="$OPTARG" ;;
    h) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-g GENERATOR] [OUT_DIR]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
out="${1:-$here/.data}"

if [[ -z "$generator" ]]; then
  echo "error: give the generator's path: $0 -g /path/to/gen_mm_dataset.py, or set MM_GENERATOR" >&2
  exit 2
fi
if [[ ! -f "$generator" ]]; then
  echo "error: $generator: no such file" >&2
  exit 2
fi
mkdir -p "$out"

py="${PYTHON:-python3}"
deps=(protobuf grpcio-tools mmdb-writer netaddr)
have_deps() { "$1" -c 'import google.protobuf, grpc_tools, mmdb_writer, netaddr' >/dev/null 2>&1; }
if ! have_deps "$py"; then
  echo "installing the generator's Python dependencies: ${deps[*]}" >&2
  if ! "$py" -m pip install --quiet "${deps[@]}" || ! have_deps "$py"; then
    echo "pip refused; using a venv in $out/.venv" >&2
    [[ -x "$out/.venv/bin/python" ]] || "$py" -m venv "$out/.venv"
    py="$out/.venv/bin/python"
    have_deps "$py" || "$py" -m pip install --quiet "${deps[@]}"
  fi
fi

gen() {
  local name="$1"
  shift
  echo "generating $out/$name ..." >&2
  rm -rf "${out:?}/$name"
  "$py" "$generator" --out-dir "$out/$name" "$@"
  echo "  $(du -sh "$out/$name/mirrorlist_cache.proto" | cut -f1) mirrorlist_cache.proto" >&2
}
gen default
gen xl --packages-dirs
echo "done: $out/default $out/xl" >&2
