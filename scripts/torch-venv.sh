#!/usr/bin/env bash
# Makes (once) and prints the path of a Python venv holding one of the pip LibTorch builds
# the CI jobs build and test against, outside the repository (~/.cache/thtl-native):
#   cpu    torch 2.13.0+cpu, torchvision 0.28.0 (the oracle), numpy, pillow, scikit-learn
#   cuda   torch 2.14.1 built for CUDA 13 (C++20 headers), torchvision 0.29.1, the same
#          oracle packages, and the CUDA 13 toolkit as NVIDIA's wheels (nvcc, headers,
#          cuBLAS/cuSPARSE/cuSOLVER/cuDNN/NCCL), which is what CMake compiles the CUDA
#          branches against on a machine without a GPU (a cluster's login node)
# Usage: bash scripts/torch-venv.sh cpu|cuda   (progress on stderr, the venv on stdout)
# Packages come from the locations pip is configured with (`pip config list`), named
# explicitly: pip's default index may be unreachable. THTL_CI_TORCH, THTL_CI_TORCHVISION
# and THTL_CI_VENV override the versions and the folder; THTL_CI_BASE_PYTHON the Python.
set -euo pipefail
flavour=${1:?usage: torch-venv.sh cpu|cuda}
root=$(cd "$(dirname "$0")/.." && pwd)
base_python=${THTL_CI_BASE_PYTHON:-/usr/bin/python3}
case $flavour in
  cpu) torch_version=${THTL_CI_TORCH:-2.13.0+cpu}; vision_version=${THTL_CI_TORCHVISION:-0.28.0} ;;
  cuda) torch_version=${THTL_CI_TORCH:-2.14.1}; vision_version=${THTL_CI_TORCHVISION:-0.29.1} ;;
  *) echo "torch-venv.sh: unknown flavour '$flavour' (expected cpu or cuda)" >&2; exit 2 ;;
esac
venv=${THTL_CI_VENV:-$HOME/.cache/thtl-native/venv-torch-$torch_version-$flavour}
. "$root/scripts/pip-args.sh"
log() { printf '[torch-venv %s] %s\n' "$flavour" "$*" >&2; }

# torchvision through the oracle's import shim (a CUDA torchvision's C++ ops do not load
# without a GPU; its model builders do).
check="import sys; sys.path.insert(0, '$root/test/fixtures'); from oracle_env import torchvision; import torch, sklearn, PIL"
check="$check; v = torch.__version__; sys.exit(not (v == '$torch_version' or v.startswith('$torch_version+')) or (torch.version.cuda is None) != ('$flavour' == 'cpu'))"
if "$venv/bin/python" -c "$check" 2>/dev/null && { [ "$flavour" = cpu ] || [ -f "$venv/.thtl-cuda-ready" ]; }; then
  printf '%s\n' "$venv"
  exit 0
fi

t0=$SECONDS
log "creating $venv (torch $torch_version, torchvision $vision_version)"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$base_python" -m venv "$venv"
pip_config_args "$base_python"
pip=("$venv/bin/pip" install "${pip_args[@]}")

if [ "$flavour" = cpu ]; then
  "${pip[@]}" "torch==$torch_version" numpy pillow scikit-learn
else
  # torch's own dependency list names cuda-bindings and triton, which a build needs neither
  # of (and the local store lacks cuda-bindings): torch alone, then the rest by name.
  "${pip[@]}" --no-deps "torch==$torch_version"
  "${pip[@]}" filelock 'typing-extensions>=4.10.0' 'setuptools>=77.0.3' 'sympy>=1.13.3' 'networkx>=2.5.1' \
    jinja2 'fsspec>=0.8.5' numpy pillow scikit-learn \
    'cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx,nvcc,cccl,crt]==13.0.3' \
    'nvidia-cudnn-cu13==9.24.0.43' 'nvidia-cusparselt-cu13==0.8.1' 'nvidia-nccl-cu13==2.30.7' 'nvidia-nvshmem-cu13==3.4.5' \
    nvidia-cuda-nvcc nvidia-cuda-crt nvidia-cuda-cccl nvidia-nvvm nvidia-cuda-runtime
fi
# torchvision's wheel pins its own torch build: keep the one just installed.
"${pip[@]}" --no-deps "torchvision==$vision_version"
"$venv/bin/python" -c "$check" || { log "the venv does not import torch $torch_version with torchvision"; exit 1; }
[ "$flavour" = cpu ] || touch "$venv/.thtl-cuda-ready"
log "ready in $((SECONDS - t0)) s ($(du -sh "$venv" | cut -f1))"
printf '%s\n' "$venv"
