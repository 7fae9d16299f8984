#!/usr/bin/env bash
# The GPU check, in one call on a machine with a CUDA GPU, PyTorch and no Node.js:
#   1. unpack  Node and node_modules (and, where the machine lacks their headers, libjpeg,
#              libpng and zlib) from .device/ (made here by scripts/device-pack.sh, carried
#              with dist/) into a scratch folder: .device/ stays as packed;
#   2. build   the addon and its test build against that PyTorch's LibTorch (CUDA), into
#              build-gpu/ (GPU_CHECK_BUILD_DIR=<folder holding Release/> reuses a build);
#   3. doctor  `thtl-native doctor` with that build;
#   4. parity  the parity suite (11 models, LayerCAM) with the models on the GPU, and the
#              CUDA tests (training on cuda vs cpu, the GPU batch path bit for bit, the
#              CUDA random stream across a checkpoint);
#   5. train   one short `train` on the GPU (synthetic CE-NBI-like data), then the same
#              with --precision fp16 --channels-last (autocast with loss scaling);
#   6. bench   the side-by-side benchmark against the machine's PyTorch
#              (benchmarks/vs-pytorch.mjs): ResNet50 at batch 256, every side alone on the
#              GPU in turn (peak memory per side), then every model at batch 32.
# Each step runs under a timeout cut from one deadline, GPU_CHECK_DEADLINE_S (default 480
# s, inside the device tool's 10 minutes per call); a step that runs out is recorded as
# timed out and the check goes on to the next one while time is left.
# gpu-check.json and each step's log land under $OUT (the folder the device tool brings
# back; ./gpu-check-out without it) after every step and on any exit, so a run cut short
# still reports what it did.
#
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU, smaller (the parity tests whose names
# match GPU_CHECK_PARITY, default resnet18's and resnet50's LayerCAM; resnet18 for train;
# mobilenet_v2 and resnet18 for bench): how the
# script is rehearsed on a machine without a GPU (test/e2e/gpu-check-rehearsal.test.ts).
# THTL_PYTHON picks the Python (default: python3). Run it as
#   run(command="bash scripts/gpu-check.sh", carry=[".device", "dist"])
# after `npm run build:ts && bash scripts/device-pack.sh` here.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
device=${GPU_CHECK_DEVICE:-cuda}
deadline=${GPU_CHECK_DEADLINE_S:-480}
py=${THTL_PYTHON:-$(command -v python3 || command -v python || echo python3)}
out=${OUT:-$root/gpu-check-out}
logs="$out/gpu-check-logs"
mkdir -p "$logs"
: > "$logs/steps.tsv"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/thtl-gpu-check-XXXXXX")
t_start=$SECONDS
ok=1
finished=0
log() { printf '[gpu-check %4ds] %s\n' "$((SECONDS - t_start))" "$*" >&2; }
left() { echo $((deadline - (SECONDS - t_start))); }

# ---- the summary: written after every step and on exit ----
summary() {
  "$py" - "$logs" "$out/gpu-check.json" "$device" "$ok" "$((SECONDS - t_start))" "$deadline" "$finished" "$scratch" <<'EOF' || printf '{"ok": false, "error": "the summary could not be written by %s"}\n' "$py" > "$out/gpu-check.json"
import json, os, re, sys
logs, path, device, ok, seconds, deadline, finished, scratch = sys.argv[1:9]
def read(name):
    p = os.path.join(logs, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""
steps = [dict(zip(("name", "status", "seconds"), l.split("\t"))) for l in read("steps.tsv").splitlines() if l]
for s in steps:
    s["seconds"] = int(s["seconds"])
names = ["unpack", "build", "doctor", "parity", "train", "bench"]
parity_log = read("parity.log")
summary = {
    "ok": ok == "1" and finished == "1" and [s["name"] for s in steps] == names and all(s["status"] == "ok" for s in steps),
    "finished": finished == "1",
    "device": device,
    "seconds": int(seconds),
    "deadline_s": int(deadline),
    "steps": steps,
    "parity_max_abs_diff": {m: float(v) for m, v in re.findall(r"^(\w+) parity max abs diff (\S+)", parity_log, re.M)},
    "layercam_max_abs_diff": {m: max(float(a), float(b)) for m, a, b in re.findall(r"^(\w+) LayerCAM max abs diff: predicted (\S+), given (\S+)", parity_log, re.M)},
    "tests": (re.findall(r"Tests\s+(.*)", parity_log) or [""])[-1].strip(),
    "skipped": sorted(set(re.findall(r"SKIPPED[^\n]*", parity_log))),
    "doctor": read("doctor.log").strip().splitlines(),
}
try:
    import torch
    summary["torch"] = torch.__version__
    summary["cuda"] = torch.version.cuda
    summary["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
except Exception as e:  # noqa: BLE001
    summary["torch"] = f"not importable: {e}"
for name in ("run", "run-amp"):
    final = os.path.join(scratch, name, "final.json")
    if os.path.exists(final):
        f = json.load(open(final))
        summary["train" if name == "run" else "train_amp"] = {
            "epochs": f.get("epochsRun"), "s_per_epoch": f.get("avgEpochSeconds"),
            "test_accuracy": (f.get("test") or {}).get("accuracy")}
for part in ("big", "small"):
    p = os.path.join(logs, f"vs-pytorch-{part}.json")
    if os.path.exists(p):
        try:
            b = json.load(open(p))
        except ValueError:
            continue
        keep = ("model", "seconds", "images_per_s", "ratio_vs_eager", "peak_rss_mb", "peak_gpu_mb", "peak_gpu_used_mb", "failed")
        summary[f"bench_{part}"] = {"batch": b["batch"], "rows": [{k: r[k] for k in keep if k in r} for r in b["rows"]]}
tmp = path + ".tmp"
json.dump(summary, open(tmp, "w"), indent=2)
os.replace(tmp, path)
EOF
}

on_exit() {
  summary
  rm -rf "$scratch"
  log "summary: $out/gpu-check.json (ok=$(grep -o '"ok": [a-z]*' "$out/gpu-check.json" | head -1 | cut -d' ' -f2))"
}
trap on_exit EXIT
trap 'log "interrupted"; exit 143' TERM INT

# step NAME BUDGET CMD...: CMD under a timeout of BUDGET seconds (less if the deadline is
# nearer), its output in $logs/NAME.log (the tail shown on failure).
step() {
  local name=$1 budget=$2; shift 2
  local t0=$SECONDS remaining
  remaining=$(( $(left) - 5 ))
  if [ "$remaining" -lt 10 ]; then
    log "$name skipped: the deadline (${deadline} s) is reached"
    printf '%s\tskipped\t0\n' "$name" >> "$logs/steps.tsv"
    ok=0
    return 1
  fi
  [ "$budget" -gt "$remaining" ] && budget=$remaining
  log "$name (at most ${budget} s)"
  timeout --kill-after=10 "$budget" "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  local status=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; elif [ $rc -ne 0 ]; then status=failed; fi
  printf '%s\t%s\t%d\n' "$name" "$status" "$((SECONDS - t0))" >> "$logs/steps.tsv"
  if [ "$status" != ok ]; then
    ok=0
    log "$name: $status (exit $rc); last lines of its log:"
    tail -40 "$logs/$name.log" >&2
  fi
  summary
  [ "$status" = ok ]
}

# ---- the steps; functions run in this shell's environment, under `timeout` through bash -c ----
export root py device scratch logs
unpack() {
  set -e
  if [ -f .device/node.tar.xz ]; then
    mkdir -p "$scratch/node/bin"
    tar -C "$scratch/node/bin" -xJf .device/node.tar.xz
  fi
  # node_modules beside the tree (git-ignored; kept on the machine for a second call)
  if [ ! -d node_modules ] && [ -f .device/node_modules.tar.xz ]; then tar -xJf .device/node_modules.tar.xz; fi
  if [ "${GPU_CHECK_SYSROOT:-0}" = 1 ] || [ ! -f /usr/include/jpeglib.h ] || [ ! -f /usr/include/png.h ] || [ ! -f /usr/include/zlib.h ]; then
    tar -C "$scratch" -xJf .device/sysroot.tar.xz
    echo "using the carried sysroot for libjpeg/libpng/zlib"
  fi
}

# What unpack made, for the steps after it (each runs in a child shell).
use_unpacked() {
  if [ -x "$scratch/node/bin/node" ]; then export PATH="$scratch/node/bin:$PATH"; fi
  if [ -d "$scratch/sysroot" ]; then
    export CMAKE_PREFIX_PATH="$scratch/sysroot${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export LD_LIBRARY_PATH="$scratch/sysroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
}

check_tools() {
  set -e
  command -v node >/dev/null || { echo "no node: run scripts/device-pack.sh where Node is, and carry .device"; return 1; }
  [ -f node_modules/cmake-js/bin/cmake-js ] || { echo "no node_modules (carry .device with node_modules.tar.xz)"; return 1; }
  [ -f node_modules/vitest/vitest.mjs ] || { echo "no vitest in node_modules (repack .device)"; return 1; }
  [ -f dist/lib/cli.js ] || { echo "no dist/ (carry dist, built by npm run build:ts)"; return 1; }
  node --version
  if [ "$device" = cuda ]; then
    "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' || { echo "PyTorch ($py) sees no CUDA device"; return 1; }
  fi
  "$py" -c "import sys; sys.path.insert(0, 'test/fixtures'); from oracle_env import torchvision; import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'torchvision', torchvision.__version__)"
}

build() {
  set -e
  if [ -n "${GPU_CHECK_BUILD_DIR:-}" ]; then
    echo "reusing the build in $GPU_CHECK_BUILD_DIR"
    [ -f "$GPU_CHECK_BUILD_DIR/Release/thtl_native.node" ] && [ -f "$GPU_CHECK_BUILD_DIR/Test/thtl_native_test.node" ]
    return 0
  fi
  rm -rf build-gpu
  THTL_TEST_HOOKS=1 THTL_PYTHON="$py" node node_modules/cmake-js/bin/cmake-js compile --out build-gpu
}

doctor() {
  THTL_PYTHON="$py" node bin/thtl-native.js doctor
}

parity() {
  local filter=()
  if [ "$device" = cpu ]; then filter=(-t "${GPU_CHECK_PARITY:-resnet18|resnet50: maps}"); fi
  THTL_ADDON="$test_addon" THTL_TEST_PYTHON="$py" THTL_TEST_DEVICE="$device" \
    node node_modules/vitest/vitest.mjs run test/parity test/native/gpu.test.ts test/native/normalise.test.ts "${filter[@]}"
}

train() {
  set -e
  local data="$scratch/data" model=resnet50 epochs=3 n=96 amp=fp16
  if [ "$device" = cpu ]; then model=resnet18; epochs=1; n=24; amp=bf16; fi
  node bin/thtl-native.js synth --domain target --n "$n" --size 96 --out "$data" --quiet
  node bin/thtl-native.js train --model "$model" --data "$data" --epochs "$epochs" --batch-size 16 \
    --input-size 96 --device "$device" --out "$scratch/run"
  node bin/thtl-native.js train --model "$model" --data "$data" --epochs 2 --batch-size 16 \
    --input-size 96 --device "$device" --out "$scratch/run-amp" --channels-last --precision "$amp"
}

bench() {
  local limit=$1 small=32 big=256 models="" sides=native,native_amp_cl,eager,amp_cl
  if [ "$device" = cpu ]; then small=4; big=8; models="--models resnet18"; fi
  # ResNet50 at batch 256: one side alive at a time (four at once would not fit one GPU)
  timeout "$((limit / 2))" node benchmarks/vs-pytorch.mjs --device "$device" --python "$py" --threads 0 --reps 3 --warmup 1 \
    --models "$([ "$device" = cpu ] && echo mobilenet_v2 || echo resnet50)" --batch "$big" --amp-dtype "$([ "$device" = cpu ] && echo bf16 || echo fp16)" \
    --sides "$sides" --one-at-a-time --json "$logs/vs-pytorch-big.json"
  timeout "$((limit / 2))" node benchmarks/vs-pytorch.mjs --device "$device" --python "$py" --threads 0 --reps 3 \
    $models --batch "$small" --sides "$sides" --one-at-a-time --json "$logs/vs-pytorch-small.json"
  [ -s "$logs/vs-pytorch-big.json" ] || [ -s "$logs/vs-pytorch-small.json" ]
}

export -f unpack check_tools build doctor parity train bench
if step unpack 120 bash -c unpack; then
  use_unpacked
  build_dir=${GPU_CHECK_BUILD_DIR:-$root/build-gpu}
  export test_addon="$build_dir/Test/thtl_native_test.node"
  export THTL_ADDON="$build_dir/Release/thtl_native.node"  # doctor, train, bench; the tests use the test build
  if step build 300 bash -c 'check_tools && build' && step doctor 60 bash -c doctor; then
    step parity 240 bash -c parity
    step train 120 bash -c train
    bench_budget=$(( $(left) - 10 ))
    [ "$bench_budget" -gt 200 ] && bench_budget=200
    step bench "$bench_budget" bash -c "bench $bench_budget"
  fi
fi
finished=1
[ "$ok" = 1 ]
