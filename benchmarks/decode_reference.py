#!/usr/bin/env python3
"""Decode benchmark helper: writes the benchmark's JPEGs, and runs the PyTorch reference.

  decode_reference.py generate --out DIR [--n 1000] [--width 2048] [--height 1536]
                               [--quality 90] [--seed 1] [--workers 0]
  decode_reference.py run --data DIR [--size 224] [--workers 0] [--batch 32]

`generate` writes DIR/a/*.jpg and DIR/b/*.jpg (an ImageFolder), deterministic for a seed;
files already there are kept, so an interrupted generation resumes.

`run` is the reference data path: torchvision ImageFolder + PIL + Resize((size, size)) +
ToTensor + Normalize through a DataLoader with `workers` processes. It times one full pass
in file order (decode throughput), then one training-style epoch (shuffled batches with
RandomHorizontalFlip), and prints one JSON line.
"""
import argparse
import json
import os
import sys
import time
from multiprocessing import Pool


def _image(args):
    path, width, height, quality, seed = args
    if os.path.exists(path):
        return
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.RandomState(seed)
    # Smooth colour regions (an upsampled random field) ...
    base = rng.randint(0, 256, size=(18, 24, 3)).astype(np.uint8)
    img = Image.fromarray(base, "RGB").resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    # ... shapes and branching lines with hard edges ...
    for _ in range(40):
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(10, max(11, width // 8))
        colour = tuple(int(c) for c in rng.randint(0, 256, size=3))
        draw.ellipse([x - r, y - r // 2, x + r, y + r // 2], outline=colour, width=int(rng.randint(1, 8)))
    for _ in range(60):
        x, y = float(rng.randint(0, width)), float(rng.randint(0, height))
        colour = tuple(int(c) for c in rng.randint(0, 256, size=3))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(12):
            angle += rng.uniform(-0.6, 0.6)
            nx, ny = x + 40 * np.cos(angle), y + 40 * np.sin(angle)
            draw.line([x, y, nx, ny], fill=colour, width=int(rng.randint(1, 6)))
            x, y = nx, ny
    img = img.filter(ImageFilter.SMOOTH)
    # ... and sensor-like noise, as in a photograph.
    arr = np.asarray(img, dtype=np.int16)
    arr = arr + rng.normal(0, 5, size=arr.shape).astype(np.int16)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(path + ".tmp", "JPEG", quality=quality)
    os.replace(path + ".tmp", path)


def generate(a):
    jobs = []
    for i in range(a.n):
        cls = "a" if i % 2 == 0 else "b"
        os.makedirs(os.path.join(a.out, cls), exist_ok=True)
        jobs.append((os.path.join(a.out, cls, "img%05d.jpg" % i), a.width, a.height, a.quality, a.seed * 1000003 + i))
    workers = a.workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    with Pool(workers) as pool:
        for _ in pool.imap_unordered(_image, jobs, chunksize=4):
            pass
    print(json.dumps({"generated": a.n, "seconds": round(time.perf_counter() - t0, 1), "out": a.out}))


def run(a):
    import torch
    import torchvision
    from torch.utils.data import DataLoader
    from torchvision import transforms as T

    workers = a.workers or os.cpu_count() or 1
    norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

    def timed(transform, shuffle):
        ds = torchvision.datasets.ImageFolder(a.data, transform=transform)
        loader = DataLoader(ds, batch_size=a.batch, shuffle=shuffle, num_workers=workers,
                            generator=torch.Generator().manual_seed(0))
        n = 0
        t0 = time.perf_counter()
        for x, _ in loader:
            n += x.shape[0]
        return n, time.perf_counter() - t0

    n, decode_s = timed(T.Compose([T.Resize((a.size, a.size)), T.ToTensor(), norm]), False)
    _, epoch_s = timed(T.Compose([T.Resize((a.size, a.size)), T.RandomHorizontalFlip(), T.ToTensor(), norm]), True)
    print(json.dumps({
        "images": n,
        "workers": workers,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "decode_seconds": round(decode_s, 3),
        "decode_images_per_s": round(n / decode_s, 2),
        "epoch_seconds": round(epoch_s, 3),
        "epoch_images_per_s": round(n / epoch_s, 2),
    }))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    g.add_argument("--n", type=int, default=1000)
    g.add_argument("--width", type=int, default=2048)
    g.add_argument("--height", type=int, default=1536)
    g.add_argument("--quality", type=int, default=90)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--workers", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True)
    r.add_argument("--size", type=int, default=224)
    r.add_argument("--workers", type=int, default=0)
    r.add_argument("--batch", type=int, default=32)
    a = p.parse_args()
    generate(a) if a.cmd == "generate" else run(a)


if __name__ == "__main__":
    sys.exit(main())
