#!/usr/bin/env bash
# Makes (once) and prints the Python of a venv holding the `tensorboard` package, outside
# the repository (~/.cache/thtl-native/venv-tensorboard), for test/e2e/tensorboard.test.ts:
# it reads the TensorBoard event files a run writes (lib/util/tensorboard.ts) back with
# TensorBoard's own reader (test/fixtures/tb_read.py). .ci/run calls it before the tests.
# Usage: bash scripts/tb-venv.sh   (progress on stderr, the venv's python on stdout)
# Packages come from the locations pip is configured with (`pip config list`), named
# explicitly (pip's default index is never asked); a venv that already imports tensorboard is
# reused as it is, so a second call takes well under a second.
# THTL_TB_VENV overrides the folder, THTL_CI_BASE_PYTHON the Python (default /usr/bin/python3).
set -euo pipefail
base_python=${THTL_CI_BASE_PYTHON:-/usr/bin/python3}
venv=${THTL_TB_VENV:-$HOME/.cache/thtl-native/venv-tensorboard}
py="$venv/bin/python"
log() { printf '[tb-venv] %s\n' "$*" >&2; }
. "$(dirname "${BASH_SOURCE[0]}")/pip-args.sh"
check="from tensorboard.backend.event_processing import event_accumulator"

if [ -f "$venv/.thtl-ready" ] && "$py" -c "$check" 2>/dev/null; then
  printf '%s\n' "$py"
  exit 0
fi

t0=$SECONDS
log "creating $venv (tensorboard from the local package store)"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$base_python" -m venv "$venv"
# the configured indexes only (scripts/pip-args.sh): without a network, this works or fails fast
pip_config_args "$base_python" no-index
"$venv/bin/pip" install "${pip_args[@]}" tensorboard
"$py" -c "$check" || { log "the venv does not import tensorboard's event_accumulator"; exit 1; }
touch "$venv/.thtl-ready"
log "ready in $((SECONDS - t0)) s ($(du -sh "$venv" | cut -f1))"
printf '%s\n' "$py"
