#!/usr/bin/env bash
# The pip LibTorch jobs (.ci/run calls both after the main tests on Debian's LibTorch 1.13):
#   bash scripts/ci-torch2.sh cpu    (npm run test:torch2)  torch 2.13 CPU, C++17 (.ci/run: --no-tests)
#   bash scripts/ci-torch2.sh cuda   (npm run test:cuda)    torch 2.14.1 built for CUDA 13,
#        C++20, with the CUDA toolkit from NVIDIA's wheels: every CUDA-only line compiles and
#        links, and the build then runs here, on a machine without a GPU, as it would on a
#        cluster's login node
# Each job:
#   1. a Python venv with that torch and torchvision (scripts/torch-venv.sh, ~/.cache);
#   2. the packed package installed into a temporary project with THTL_PYTHON pointing at
#      that venv, so its install step builds the addon from source against that LibTorch;
#   3. `thtl-native doctor`, `models` and a tiny `train` there: doctor must report the
#      version built and loaded (and, for cuda, "built with CUDA 13.0, no GPU visible");
#      `--device auto` trains on the CPU and says so, `--device cuda` fails in one line
#      before anything is written;
#   4. the native tests and the whole parity suite (all 11 models against torchvision,
#      LayerCAM against its reference) with that build and that venv as the oracle;
#   5. cuda only: the rehearsal of scripts/gpu-check.sh on the CPU
#      (test/e2e/gpu-check-rehearsal.test.ts), reusing this build.
# `--no-tests` stops after step 3 (.ci/run does so for cpu: the cuda job runs the native
# tests and parity suite on a 2.x LibTorch already, and CI has an hour).
set -euo pipefail
flavour=${1:-cpu}
run_tests=1
[ "${2:-}" = --no-tests ] && run_tests=0
cd "$(dirname "$0")/.."
root=$PWD
log() { printf '[%s] %s\n' "torch2 $flavour" "$*" >&2; }
t0=$SECONDS

# ---- 1. the venv ----
venv=$(bash scripts/torch-venv.sh "$flavour")
py="$venv/bin/python"
torch_version=$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')
log "venv ready: $venv (torch $torch_version; $((SECONDS - t0)) s)"

# ---- 2. pack, install into a temporary project (builds against the venv's LibTorch) ----
work=$(mktemp -d "${TMPDIR:-/tmp}/thtl-torch2-XXXXXX")
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/thtl-native-*.tgz)
mkdir "$work/project"
cd "$work/project"
# npm 11 runs the package's install step only when allowed (allowScripts, keyed file:<tarball>).
printf '{ "name": "uses-thtl-torch2", "version": "1.0.0", "private": true, "type": "module", "allowScripts": { "file:%s": true } }\n' "$tarball" > package.json
log "installing $(basename "$tarball") with THTL_PYTHON=$py (builds from source)"
t1=$SECONDS
# THTL_TEST_HOOKS=1 (when the tests run): the source build also makes thtl_native_test.node
# (the addon plus the hooks the tests call), which the tests below load.
THTL_TEST_HOOKS=$run_tests THTL_PYTHON="$py" npm install --no-audit --no-fund --prefer-offline --foreground-scripts "$tarball"
log "install (the source build) took $((SECONDS - t1)) s"
pkg="$work/project/node_modules/thtl-native"
addon="$pkg/build/Release/thtl_native.node"
[ -f "$addon" ] || { log "no source build at $addon"; exit 1; }
test_addon="$pkg/build/Test/thtl_native_test.node"
[ $run_tests = 0 ] || [ -f "$test_addon" ] || { log "no test build at $test_addon"; exit 1; }
grep -q "\"cxxStandard\": $([ "${torch_version%%.*}" -ge 2 ] && [ "$(echo "$torch_version" | cut -d. -f2)" -ge 14 ] && echo 20 || echo 17)" "$pkg/build/Release/thtl_native.json" ||
  { log "the build record does not show the C++ standard this LibTorch needs"; cat "$pkg/build/Release/thtl_native.json" >&2; exit 1; }

# ---- 3. doctor, models, a tiny train ----
cli() { THTL_PYTHON="$py" node "$pkg/bin/thtl-native.js" "$@"; }
doctor=$(cli doctor)
printf '%s\n' "$doctor"
grep -Eq "built against LibTorch ${torch_version//./\\.}" <<<"$doctor" || { log "doctor does not report a build against $torch_version"; exit 1; }
grep -Eq "runs +LibTorch ${torch_version//./\\.}" <<<"$doctor" || { log "doctor does not report LibTorch $torch_version loaded"; exit 1; }
if [ "$flavour" = cuda ]; then
  grep -Eq "built with CUDA 13\.0, no GPU visible" <<<"$doctor" || { log "doctor does not say: built with CUDA 13.0, no GPU visible"; exit 1; }
fi
cli models | grep -q resnet50 || { log "models does not list resnet50"; exit 1; }
cli synth --domain target --n 24 --size 40 --out "$work/data" --quiet
cli train --model resnet18 --data "$work/data" --epochs 1 --batch-size 4 --input-size 32 --device auto --threads 2 \
  --out "$work/run-auto" 2>&1 | tee "$work/train-auto.log"
grep -q "on cpu (--device auto: no GPU visible)" "$work/train-auto.log" || { log "train --device auto does not say it trains on the CPU"; exit 1; }
[ -f "$work/run-auto/final.json" ] || { log "train --device auto left no final.json"; exit 1; }
if cli train --model resnet18 --data "$work/data" --epochs 1 --input-size 32 --device cuda --out "$work/run-cuda" 2> "$work/cuda.err"; then
  log "train --device cuda succeeded on a machine without a GPU"; exit 1
fi
cat "$work/cuda.err" >&2
[ "$(grep -c . "$work/cuda.err")" = 1 ] && grep -q "CUDA is not available" "$work/cuda.err" ||
  { log "train --device cuda did not fail with one line naming CUDA"; exit 1; }
[ ! -e "$work/run-cuda" ] || { log "train --device cuda wrote $work/run-cuda before failing"; exit 1; }

# ---- 4. native tests and parity suite against that build ----
cd "$root"
if [ $run_tests = 0 ]; then log "done in $((SECONDS - t0)) s (tests not run: --no-tests)"; exit 0; fi
log "native tests and parity suite on LibTorch $torch_version"
THTL_ADDON="$test_addon" THTL_TEST_PYTHON="$py" npx vitest run test/native test/parity test/api-docs.test.ts

# ---- 5. the GPU check script, rehearsed on the CPU with this build ----
if [ "$flavour" = cuda ]; then
  log "rehearsal of scripts/gpu-check.sh (no node, npm or npx on its PATH)"
  THTL_REHEARSAL_PYTHON="$py" THTL_REHEARSAL_BUILD="$pkg/build" npx vitest run test/e2e/gpu-check-rehearsal.test.ts
fi
log "done in $((SECONDS - t0)) s"
