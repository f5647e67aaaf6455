#!/usr/bin/env python3
"""Train a small network on Fashion-MNIST with F-Muon + the built-in AdamW, on CPU.

    bash scripts/setup.sh && bash scripts/build.sh
    PYTHONPATH=build/python /usr/bin/python3 examples/fashion_mnist.py            # MLP, ~1 min
    PYTHONPATH=build/python /usr/bin/python3 examples/fashion_mnist.py --model cnn --epochs 2

The data are the IDX files of Debian's `dataset-fashion-mnist`, read with gzip + numpy (no
torchvision). The hidden weight matrices (and conv filters, seen as out x in*kh*kw) are trained
by F-Muon (paper eq. 11): X <- X - lr * sqrt(max(1, m/n)) * (alpha U V^T + (1 - alpha) M/||M||_F);
biases go to the optimizer's built-in AdamW, and so does the classifier head (a use_adamw
group, as Muon users do). The learning rate follows a torch.optim.lr_scheduler schedule.
"""
import argparse
import gzip
import math
import os
import struct
import sys
import time

import numpy as np
import torch

import fanion

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def read_idx(path):
    """An IDX file (optionally gzipped) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype_code != 0x08:
            raise ValueError(f"{path}: not an unsigned-byte IDX file")
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape)


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # N x 1 x 28 x 28
    return x, torch.from_numpy(labels.astype(np.int64))


def make_model(kind):
    if kind == "mlp":
        body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                   torch.nn.Linear(512, 256), torch.nn.ReLU())
        return body, torch.nn.Linear(256, 10)
    body = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU())
    return body, torch.nn.Linear(128, 10)


@torch.no_grad()
def evaluate(model, x, y, batch=2000):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / len(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.02, help="F-Muon learning rate")
    ap.add_argument("--momentum", type=float, default=0.95)
    ap.add_argument("--alpha", type=float, default=0.5, help="F-Muon alpha (1: Muon, 0: NSGD)")
    ap.add_argument("--adamw-lr", type=float, default=3e-3, help="AdamW lr (biases, head)")
    ap.add_argument("--limit", type=int, default=0, help="use only this many training images")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if not os.path.isdir(args.data_dir):
        sys.exit(f"{args.data_dir} not found: apt-get install dataset-fashion-mnist "
                 "(scripts/setup.sh does)")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    x_train, y_train = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "test")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    print(f"Fashion-MNIST: {len(x_train)} training, {len(x_test)} test images ({args.data_dir})")

    body, head = make_model(args.model)
    model = torch.nn.Sequential(body, head)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total = args.epochs * steps_per_epoch
    opt = fanion.FMuon(
        [{"params": body.named_parameters(prefix="body")},  # matrices: F-Muon; biases: AdamW
         {"params": head.named_parameters(prefix="head"), "use_adamw": True,
          "lr": args.adamw_lr}],
        lr=args.lr, momentum=args.momentum, alpha=args.alpha, shape_scale="muon",
        adamw_lr=args.adamw_lr)
    # Linear warm-down over the last 60% of training, as in the Muon speedruns.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (total - s) / (0.6 * total)))
    print(f"model: {args.model}, {sum(p.numel() for p in model.parameters())} parameters; "
          f"optimizer: {type(opt).__name__} ({opt.direction(0).name}), "
          f"{total} steps of {args.batch_size}")

    start = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_train))
        running, seen = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss) * len(idx)
            seen += len(idx)
        acc = evaluate(model, x_test, y_test)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {running / seen:.4f}, "
              f"test accuracy {100 * acc:.2f}%, {time.time() - start:.0f} s", flush=True)
    print(f"final test accuracy: {100 * acc:.2f}%")
    return acc


if __name__ == "__main__":
    main()
