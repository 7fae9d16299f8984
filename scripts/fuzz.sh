#!/usr/bin/env bash
# Fuzzes the project's parsers of untrusted files with libFuzzer (fuzz/: one harness each
# for the pickle interpreter, the zip reader, whole .pth files, safetensors and the image
# decoders), under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   bash scripts/fuzz.sh                 # every harness for 60 s (CI runs --seconds 20)
#   bash scripts/fuzz.sh --seconds 3600 --only pickle,pth     # a longer campaign
#
# Each harness first replays its regression files (test/fixtures/fuzz/<harness>/), then
# fuzzes from seeds made fresh (torch.save files, safetensors, JPEG and PNG images from
# test/fixtures/make_weights.py and PIL) plus those files. A finding (a crash, a sanitizer
# report, an exception other than the project's UserError, a leak, more than 2 GiB of
# memory, or 10 s on one input) stops the script with a non-zero exit; the input is
# copied to test/fixtures/fuzz/<harness>/ as a new regression file, to check in with the
# fix. Needs clang with libFuzzer (Debian: clang-14, libclang-rt-14-dev), LibTorch,
# libjpeg, libpng, and python3 with torch and PIL for the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=60
only=pickle,zip,pth,safetensors,image
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: scripts/fuzz.sh [--seconds N] [--only pickle,zip,pth,safetensors,image]" >&2; exit 2 ;;
  esac
done
log() { printf '[fuzz] %s\n' "$*" >&2; }

cxx=${CXX:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14 clang++-15 clang++-16; do
    if command -v "$c" >/dev/null; then cxx=$c; break; fi
  done
fi
[ -n "$cxx" ] || { log "no clang++ found: install clang and its libFuzzer runtime (Debian: apt-get install clang-14 libclang-rt-14-dev)"; exit 1; }
python=${THTL_TEST_PYTHON:-/usr/bin/python3}

build=${THTL_FUZZ_BUILD:-$root/build-fuzz}  # git-ignored (build-*/), one per checkout
mkdir -p "$build"
log "building the harnesses with $cxx in $build"
CXX=$cxx cmake -S fuzz -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1 || { tail -50 "$build/build.log" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/thtl-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
log "making seeds"
"$python" test/fixtures/make_weights.py make "$work/weights" >/dev/null
"$python" - "$work" <<'EOF'
import glob, os, sys, zipfile
import numpy as np
from PIL import Image
work = sys.argv[1]
for d in ("pickle", "zip", "pth", "safetensors", "image"):
    os.makedirs(os.path.join(work, "seeds", d), exist_ok=True)
seeds = lambda d, name: os.path.join(work, "seeds", d, name)
for f in glob.glob(os.path.join(work, "weights", "*")):
    name, data = os.path.basename(f), open(f, "rb").read()
    if len(data) > 1 << 20:
        continue
    if name.endswith(".safetensors"):
        open(seeds("safetensors", name), "wb").write(data)
    elif data[:2] == b"PK":
        for d in ("zip", "pth"):
            open(seeds(d, name), "wb").write(data)
        try:
            with zipfile.ZipFile(f) as z:
                for n in z.namelist():
                    if n.endswith(".pkl"):
                        open(seeds("pickle", name + "-" + n.replace("/", "_")), "wb").write(z.read(n))
        except Exception:
            pass
rng = np.random.default_rng(0)
for i, (mode, fmt) in enumerate([("RGB", "JPEG"), ("L", "JPEG"), ("CMYK", "JPEG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("P", "PNG"), ("L", "PNG"), ("1", "PNG")]):
    pixels = (rng.random((11 + i, 17 + 2 * i, 3)) * 255).astype("uint8")
    Image.fromarray(pixels, "RGB").convert(mode).save(seeds("image", f"seed{i}.{fmt.lower()}"), fmt)
Image.fromarray((rng.random((24, 20, 3)) * 255).astype("uint8")).save(seeds("image", "progressive.jpg"), "JPEG", progressive=True)
Image.fromarray((rng.random((9, 7)) * 65535).astype("uint16")).save(seeds("image", "sixteen.png"), "PNG")
EOF

status=0
summary=()
IFS=, read -ra harnesses <<<"$only"
for h in "${harnesses[@]}"; do
  bin="$build/fuzz_$h"
  [ -x "$bin" ] || { log "unknown harness '$h' (pickle, zip, pth, safetensors, image)"; exit 2; }
  regress="$root/test/fixtures/fuzz/$h"
  mkdir -p "$work/corpus/$h" "$work/findings/$h"
  opts=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10)
  export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    log "$h: replaying $(ls "$regress" | wc -l) regression file(s)"
    if ! "$bin" "${opts[@]}" "$regress"/* >"$work/findings/$h/replay.log" 2>&1; then
      tail -40 "$work/findings/$h/replay.log" >&2
      log "$h: a regression file fails again"
      exit 1
    fi
  fi
  log "$h: fuzzing for $seconds s"
  dirs=("$work/corpus/$h" "$work/seeds/$h")
  [ -d "$regress" ] && dirs+=("$regress")
  set +e
  "$bin" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/findings/$h/" \
    "${dirs[@]}" >"$work/findings/$h/run.log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/findings/$h/run.log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/findings/$h/run.log" | grep -o '[0-9]*$' || echo '?')
  found=$(find "$work/findings/$h" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  summary+=("$(printf '%-12s %12s executions %8s/s  %s finding(s)' "$h" "$runs" "$rate" "$found")")
  if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
    status=1
    grep -E 'ERROR|SUMMARY|fuzz:|==[0-9]+==' "$work/findings/$h/run.log" | head -20 >&2 || true
    mkdir -p "$regress"
    for f in "$work/findings/$h"/crash-* "$work/findings/$h"/leak-* "$work/findings/$h"/oom-* "$work/findings/$h"/timeout-*; do
      [ -f "$f" ] || continue
      cp "$f" "$regress/"
      log "$h: finding saved as test/fixtures/fuzz/$h/$(basename "$f") (fix it, then check the file in)"
    done
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
