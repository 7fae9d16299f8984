#!/usr/bin/env bash
# The GPU check, in one call on a machine with a CUDA GPU, PyTorch and no Node.js:
#   1. Node, node_modules and (when missing) libjpeg/libpng/zlib from .device/
#      (made here by scripts/device-pack.sh; carried with dist/);
#   2. the addon built against that PyTorch's LibTorch (CUDA) into build-gpu/;
#   3. the parity suite (11 models, LayerCAM) with the models on the GPU, and the CUDA tests;
#   4. one short `train` on the GPU (synthetic CE-NBI-like data), then the same with
#      --precision fp16 --channels-last (autocast with loss scaling);
#   5. the side-by-side benchmark against the machine's PyTorch (benchmarks/vs-pytorch.mjs:
#      ResNet50 at batch 256 with AMP, then every model at batch 32), cut off after
#      GPU_CHECK_BENCH_S seconds (default 150) keeping the rows measured;
#   6. a JSON summary: $OUT/gpu-check.json (or .device/gpu-check.json).
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU: how the script is tested on a
# machine without a GPU. THTL_PYTHON picks the Python (default: python3). Run it as
#   run(command="bash scripts/gpu-check.sh", carry=[".device", "dist"])
# after `npm run build:ts && bash scripts/device-pack.sh` here. Each step's time lands in the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
device=${GPU_CHECK_DEVICE:-cuda}
py=${THTL_PYTHON:-$(command -v python3 || command -v python)}
summary_dir=${OUT:-$root/.device}
mkdir -p "$summary_dir" .device
logdir=$(mktemp -d "${TMPDIR:-/tmp}/thtl-gpu-check-XXXXXX")
steps="$logdir/steps.tsv"
: > "$steps"
t_start=$SECONDS
log() { printf '[gpu-check %4ds] %s\n' "$((SECONDS - t_start))" "$*" >&2; }

# step NAME CMD...: runs CMD with its output in $logdir/NAME.log (tail shown on failure)
step() {
  local name=$1; shift
  local t0=$SECONDS
  log "$name"
  if "$@" > "$logdir/$name.log" 2>&1; then
    printf '%s\tok\t%d\n' "$name" "$((SECONDS - t0))" >> "$steps"
    return 0
  fi
  printf '%s\tfailed\t%d\n' "$name" "$((SECONDS - t0))" >> "$steps"
  log "$name FAILED; last lines of its log:"
  tail -40 "$logdir/$name.log" >&2
  return 1
}

unpack() {
  if [ -f .device/node.tar.xz ]; then
    mkdir -p .device/node/bin
    tar -C .device/node/bin -xJf .device/node.tar.xz
    export PATH="$root/.device/node/bin:$PATH"
  fi
  command -v node >/dev/null || { echo "no node: run scripts/device-pack.sh where Node is, and carry .device"; return 1; }
  if [ ! -d node_modules ] && [ -f .device/node_modules.tar.xz ]; then tar -xJf .device/node_modules.tar.xz; fi
  [ -d node_modules/cmake-js ] || { echo "no node_modules (carry .device with node_modules.tar.xz)"; return 1; }
  [ -f dist/lib/cli.js ] || { echo "no dist/ (carry dist, built by npm run build:ts)"; return 1; }
  # libjpeg, libpng, zlib: the system's when it has their headers, else the carried ones.
  # (GPU_CHECK_SYSROOT=1 takes the carried ones anyway: how that path is tested.)
  if [ "${GPU_CHECK_SYSROOT:-0}" = 1 ] || [ ! -f /usr/include/jpeglib.h ] || [ ! -f /usr/include/png.h ] || [ ! -f /usr/include/zlib.h ]; then
    tar -C .device -xJf .device/sysroot.tar.xz
    export CMAKE_PREFIX_PATH="$root/.device/sysroot${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export LD_LIBRARY_PATH="$root/.device/sysroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "using the carried sysroot for libjpeg/libpng/zlib"
  fi
  node --version
  if [ "$device" = cuda ]; then
    "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' || { echo "PyTorch ($py) sees no CUDA device"; return 1; }
  fi
  "$py" -c "import sys; sys.path.insert(0, 'test/fixtures'); from oracle_env import torchvision; import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'torchvision', torchvision.__version__)"
}

build() {
  rm -rf build-gpu
  THTL_PYTHON="$py" node node_modules/cmake-js/bin/cmake-js compile --out build-gpu
}

addon="$root/build-gpu/Release/thtl_native.node"
export THTL_ADDON="$addon"  # every later step (tests, synth, train) uses this build

doctor() {
  THTL_PYTHON="$py" node bin/thtl-native.js doctor
}

parity() {
  THTL_TEST_PYTHON="$py" THTL_TEST_DEVICE="$device" npx vitest run test/parity test/native/gpu.test.ts
}

train() {
  local data="$logdir/data"
  node bin/thtl-native.js synth --domain target --n 96 --size 96 --out "$data" --quiet &&
    node bin/thtl-native.js train --model resnet50 --data "$data" --epochs 3 --batch-size 16 \
      --input-size 96 --device "$device" --out "$logdir/run" &&
    node bin/thtl-native.js train --model resnet50 --data "$data" --epochs 2 --batch-size 16 \
      --input-size 96 --device "$device" --out "$logdir/run-amp" --channels-last \
      --precision "$([ "$device" = cpu ] && echo bf16 || echo fp16)"
}

bench() {
  local out="${OUT:-$root/.device}" limit=${GPU_CHECK_BENCH_S:-150}
  local sides=native,native_amp_cl,eager,amp_cl batch_small=32 batch_big=256 models=""
  if [ "$device" = cpu ]; then batch_small=4; batch_big=8; models="--models resnet18,mobilenet_v2"; fi
  timeout "$((limit / 3))" node benchmarks/vs-pytorch.mjs --device "$device" --python "$py" --threads 0 --reps 3 \
    --models resnet50 --batch "$batch_big" --amp-dtype bf16 --sides "$sides" --json "$out/vs-pytorch-big.json"
  timeout "$((limit * 2 / 3))" node benchmarks/vs-pytorch.mjs --device "$device" --python "$py" --threads 0 --reps 3 \
    $models --batch "$batch_small" --sides "$sides" --json "$out/vs-pytorch-small.json"
  [ -s "$out/vs-pytorch-big.json" ] || [ -s "$out/vs-pytorch-small.json" ]
}

ok=1
if step unpack unpack && step build build && step doctor doctor; then
  step parity parity || ok=0
  step train train || ok=0
  step bench bench || ok=0
else
  ok=0
fi

# ---- summary ----
"$py" - "$logdir" "$summary_dir/gpu-check.json" "$device" "$ok" "$((SECONDS - t_start))" <<'EOF'
import json, os, re, subprocess, sys
logdir, out, device, ok, seconds = sys.argv[1:6]
def read(name):
    p = os.path.join(logdir, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""
steps = [dict(zip(("name", "status", "seconds"), l.split("\t"))) for l in read("steps.tsv").splitlines() if l]
for s in steps:
    s["seconds"] = int(s["seconds"])
parity_log = read("parity.log")
summary = {
    "ok": ok == "1" and all(s["status"] == "ok" for s in steps) and len(steps) == 6,
    "device": device,
    "seconds": int(seconds),
    "steps": steps,
    "parity_max_abs_diff": {m: float(v) for m, v in re.findall(r"^(\w+) parity max abs diff (\S+)", parity_log, re.M)},
    "layercam_max_abs_diff": {m: max(float(a), float(b)) for m, a, b in re.findall(r"^(\w+) LayerCAM max abs diff: predicted (\S+), given (\S+)", parity_log, re.M)},
    "tests": (re.findall(r"Tests\s+(.*)", parity_log) or [""])[-1].strip(),
    "skipped": re.findall(r"SKIPPED[^\n]*", parity_log),
}
try:
    import torch
    summary["torch"] = torch.__version__
    summary["cuda"] = torch.version.cuda
    summary["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
except Exception as e:  # noqa: BLE001
    summary["torch"] = f"not importable: {e}"
summary["doctor"] = read("doctor.log").strip().splitlines()
final = os.path.join(logdir, "run", "final.json")
if os.path.exists(final):
    f = json.load(open(final))
    summary["train"] = {"model": "resnet50", "epochs": f.get("epochsRun"), "s_per_epoch": f.get("avgEpochSeconds"),
                        "test_accuracy": (f.get("test") or {}).get("accuracy")}
for part in ("big", "small"):
    p = os.path.join(os.path.dirname(out), f"vs-pytorch-{part}.json")
    if os.path.exists(p):
        b = json.load(open(p))
        summary[f"bench_{part}"] = {"batch": b["batch"], "rows": [{"model": r["model"], "images_per_s": r["images_per_s"],
                                    "ratio_vs_eager": r["ratio_vs_eager"]} for r in b["rows"]]}
json.dump(summary, open(out, "w"), indent=2)
print(json.dumps(summary, indent=2))
EOF
rm -rf "$logdir/data"
[ "$ok" = 1 ]
