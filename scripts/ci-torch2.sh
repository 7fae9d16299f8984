#!/usr/bin/env bash
# The LibTorch 2.x job (`npm run test:torch2`; .ci/run calls it after the main tests):
#   1. a Python venv with pip's CPU torch 2.13 and torchvision, outside the repository
#      (~/.cache/thtl-native), from the package locations pip is configured with;
#   2. the packed package installed into a temporary project with THTL_PYTHON pointing at
#      that venv, so its install step builds the addon from source against torch 2.13;
#   3. `thtl-native doctor` there, which must report 2.13 built and loaded;
#   4. the native tests and the whole parity suite (all 11 models against torchvision,
#      LayerCAM against its reference) with that addon and that venv as the oracle.
# THTL_CI_TORCH / THTL_CI_TORCHVISION pick other versions; THTL_CI_VENV another venv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
torch_version=${THTL_CI_TORCH:-2.13.0+cpu}
vision_version=${THTL_CI_TORCHVISION:-0.28.0}
venv=${THTL_CI_VENV:-$HOME/.cache/thtl-native/venv-torch-$torch_version}
base_python=${THTL_CI_BASE_PYTHON:-/usr/bin/python3}
log() { printf '[torch2] %s\n' "$*" >&2; }
t0=$SECONDS

# ---- 1. the venv ----
# torchvision through the oracle's import shim (its CUDA wheel's C++ ops do not load on a CPU machine).
oracle_import="import sys; sys.path.insert(0, '$root/test/fixtures'); from oracle_env import torchvision; import torch, sklearn, PIL"
if ! "$venv/bin/python" -c "$oracle_import; sys.exit(torch.__version__ != '$torch_version')" 2>/dev/null; then
  log "creating $venv (torch $torch_version, torchvision $vision_version)"
  rm -rf "$venv"
  "$base_python" -m venv "$venv"
  # pip's default index may be unreachable here: the configured locations go first, explicitly.
  pip_args=()
  first=1
  for url in $("$base_python" -m pip config get global.index-url 2>/dev/null || true) $("$base_python" -m pip config get global.extra-index-url 2>/dev/null || true); do
    if [ $first = 1 ]; then pip_args+=(--index-url "$url"); first=0; else pip_args+=(--extra-index-url "$url"); fi
  done
  for dir in $("$base_python" -m pip config get global.find-links 2>/dev/null || true); do pip_args+=(--find-links "$dir"); done
  "$venv/bin/pip" install -q "${pip_args[@]}" "torch==$torch_version" numpy pillow scikit-learn
  # torchvision's wheel pins a torch without the +cpu tag: keep the one just installed.
  "$venv/bin/pip" install -q "${pip_args[@]}" --no-deps "torchvision==$vision_version"
fi
py="$venv/bin/python"
log "venv ready: $("$py" -c "$oracle_import; print('torch', torch.__version__, 'torchvision', torchvision.__version__)") ($((SECONDS - t0)) s)"

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
# THTL_TEST_HOOKS=1: the source build also makes thtl_native_test.node (the addon plus the
# hooks the tests call), which the tests below load.
THTL_TEST_HOOKS=1 THTL_PYTHON="$py" npm install --no-audit --no-fund --prefer-offline --foreground-scripts "$tarball"
log "install took $((SECONDS - t1)) s"
addon="$work/project/node_modules/thtl-native/build/Release/thtl_native.node"
[ -f "$addon" ] || { log "no source build at $addon"; exit 1; }
test_addon="${addon%.node}_test.node"
[ -f "$test_addon" ] || { log "no test build at $test_addon"; exit 1; }

# ---- 3. doctor ----
doctor=$(THTL_PYTHON="$py" npx thtl-native doctor)
printf '%s\n' "$doctor"
want=${torch_version%%+*}
grep -Eq "built against LibTorch ${want//./\\.}" <<<"$doctor" || { log "doctor does not report a build against $want"; exit 1; }
grep -Eq "runs +LibTorch ${want//./\\.}" <<<"$doctor" || { log "doctor does not report LibTorch $want loaded"; exit 1; }

# ---- 4. native tests and parity suite against that build ----
cd "$root"
log "native tests and parity suite on LibTorch $want"
THTL_ADDON="$test_addon" THTL_TEST_PYTHON="$py" npx vitest run test/native test/parity test/api-docs.test.ts
log "done in $((SECONDS - t0)) s"
