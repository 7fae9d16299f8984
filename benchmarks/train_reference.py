"""PyTorch reference for benchmarks/train-epoch.mjs: the same model, recipe and data,
written the way a PyTorch user would (torchvision ImageFolder + PIL + DataLoader).

usage: python3 train_reference.py DATA_DIR MODEL SIZE BATCH EPOCHS THREADS WORKERS
Prints one JSON line: per-epoch seconds, images/s, and the data-free compute time.
"""
import json
import sys
import time

import torch
import torchvision
from torchvision import transforms


def main():
    data, model_name, size, batch, epochs, threads, workers = sys.argv[1:8]
    size, batch, epochs, threads, workers = int(size), int(batch), int(epochs), int(threads), int(workers)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tf = transforms.Compose([
        transforms.Resize((size, size)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    ds = torchvision.datasets.ImageFolder(data, tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers)
    model = getattr(torchvision.models, model_name)(num_classes=len(ds.classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, 5, 0.5)
    loss_fn = torch.nn.CrossEntropyLoss()
    epoch_seconds = []
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        sched.step()
        epoch_seconds.append(time.perf_counter() - t0)
    # Compute only: the same number of batches on tensors already in memory.
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, len(ds.classes), (batch,))
    n_batches = len(loader)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    compute = time.perf_counter() - t0
    print(json.dumps({
        "torch": torch.__version__,
        "images": len(ds),
        "epoch_seconds": epoch_seconds,
        "compute_seconds": compute,
    }))


if __name__ == "__main__":
    main()
