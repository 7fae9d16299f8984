"""PyTorch side of benchmarks/vs-pytorch.mjs: one model, one variant, driven over stdin.

usage: python vs_pytorch.py MODEL SIZE BATCH THREADS VARIANT DEVICE AMP_DTYPE IMAGE [IMAGE ...]

VARIANT: eager (fp32, NCHW), channels_last (fp32, model and input channels_last),
amp_cl (channels_last with torch.autocast around forward and loss, the usual "AMP +
channels_last" recipe; AMP_DTYPE bf16, or fp16 with a GradScaler), compile (eager's fp32
NCHW with model = torch.compile(model), the default inductor backend) or compile_amp_cl
(amp_cl with the model compiled). Only the model is compiled; the optimizer step stays
eager, as users write it. The compile variants need torch.compile (PyTorch 2.0 or later):
on a 1.x torch they exit at once with a one-line message on stderr. DEVICE: cpu or
cuda[:N]; on CUDA each step is timed between two synchronisations.
The images are the same files the native side trains on, resized (bilinear, antialiased)
and normalised with ImageNet's mean and std. Protocol, one JSON object per line:
  prints {"ready": true, "firstStepSeconds": s} after a warm-up step, s being the time of
  that first step (for the compile variants it includes the compilation, which happens
  there: the forward graph at the first call, the backward graph at the first backward);
  "step" -> one forward + backward + Adam step, prints {"seconds": s};
  "end"  -> prints {"maxRssMB": peak resident memory of this process} and exits.
"""
import ctypes
import json
import os
import resource
import sys
import time

import numpy
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
from oracle_env import torchvision  # noqa: E402  (torchvision, also from a CUDA-only wheel on a CPU machine)
from PIL import Image  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def inductor_vec_isa():
    """The vector instruction set inductor's CPU kernels use ("scalar" when none).

    Inductor's vectorised CPU kernels call Sleef functions (exp, erf, ...) that
    libtorch_cpu exports, and leave them undefined in the kernel libraries it builds. In
    torch 2.13 on Linux neither place it loads those libraries can resolve them:
    - its instruction-set probe loads a test library in a child process that does not load
      libtorch_cpu, so every probe fails and inductor falls back to scalar loops (measured
      on an AVX-512 CPU: 1.5-2.5x slower than eager);
    - this process loaded libtorch_cpu with RTLD_LOCAL (torch's default), so a vectorised
      kernel that calls exp (softmax, sigmoid, SiLU, GELU) fails to load: "undefined
      symbol: Sleef_expf16_u10".
    Preloading libtorch_cpu into the child, and promoting it to RTLD_GLOBAL here, makes
    both work as intended, so the compile peers run the vectorised code a working install
    generates.
    """
    if sys.platform == "linux":
        lib = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
        preload = os.environ.get("LD_PRELOAD", "")
        if os.path.exists(lib):
            if lib not in preload.split():
                os.environ["LD_PRELOAD"] = f"{preload} {lib}".strip()
            ctypes.CDLL(lib, mode=os.RTLD_GLOBAL | os.RTLD_NOLOAD)
    from torch._inductor import cpu_vec_isa
    return str(cpu_vec_isa.pick_vec_isa()) or "scalar"


def main():
    name, size, batch, threads, variant = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    device, amp_dtype = torch.device(sys.argv[6]), {"bf16": torch.bfloat16, "fp16": torch.float16}[sys.argv[7]]
    files = sys.argv[8:]
    variants = ("eager", "channels_last", "amp_cl", "compile", "compile_amp_cl")
    if variant not in variants:
        raise SystemExit(f"vs_pytorch.py: unknown variant {variant} (known: {', '.join(variants)})")
    compiled = variant.startswith("compile")
    if compiled and not hasattr(torch, "compile"):
        raise SystemExit(f"vs_pytorch.py: variant {variant} needs torch.compile (PyTorch 2.0 or later), "
                         f"but {sys.executable} has torch {torch.__version__}")
    if compiled and device.type == "cpu":
        print(f"vs_pytorch.py: inductor generates {inductor_vec_isa()} code", file=sys.stderr, flush=True)
    # 0: every logical CPU, as the native side's setThreads(0) (PyTorch's own default may
    # count physical cores only)
    torch.set_num_threads(threads if threads > 0 else os.cpu_count())
    torch.manual_seed(0)
    kwargs = {"num_classes": 2}
    if name == "inception_v3":
        kwargs["init_weights"] = False
    model = getattr(torchvision.models, name)(**kwargs)
    model.train()
    images = [torch.from_numpy(numpy.array(Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR))) for f in files[:batch]]
    if len(images) < batch:
        raise SystemExit(f"{len(images)} images for a batch of {batch}")
    x = torch.stack(images).permute(0, 3, 1, 2).float().div(255).sub(MEAN).div(STD).contiguous()
    y = torch.arange(batch) % 2
    model, x, y = model.to(device), x.to(device), y.to(device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    if variant in ("channels_last", "amp_cl", "compile_amp_cl"):
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    if compiled:
        model = torch.compile(model)  # the model only: opt.step() stays eager
    amp = variant in ("amp_cl", "compile_amp_cl")
    scaler = torch.amp.GradScaler("cuda") if amp and cuda and amp_dtype == torch.float16 else None

    def forward_loss():
        out = model(x)
        if isinstance(out, tuple):  # inception_v3's (logits, aux) in training
            return F.cross_entropy(out[0], y) + 0.4 * F.cross_entropy(out[1], y)
        if hasattr(out, "logits"):
            return F.cross_entropy(out.logits, y) + 0.4 * F.cross_entropy(out.aux_logits, y)
        return F.cross_entropy(out, y)

    def step():
        if cuda:
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        opt.zero_grad()
        if amp:
            with torch.autocast(device.type, dtype=amp_dtype):
                loss = forward_loss()
        else:
            loss = forward_loss()
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    first = step()
    print(json.dumps({"ready": True, "firstStepSeconds": first}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            print(json.dumps({"seconds": step()}), flush=True)
        elif cmd == "end":
            peak = {"maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
            if cuda:
                peak["maxGpuMB"] = torch.cuda.max_memory_allocated(device) / 2**20
            print(json.dumps(peak), flush=True)
            return


if __name__ == "__main__":
    main()
