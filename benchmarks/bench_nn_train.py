"""Time sacroai's losses (forward + backward) and optimizer steps against PyTorch.

    python benchmarks/bench_nn_train.py [--quick]

Prints, for 1 thread and all cores, the best-of-N wall time of each operation
and the ratio torch / sacroai (> 1: sacroai is faster).
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # PyTorch's allocator on huge pages, as in bench_nn

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import sacroai  # noqa: E402
from sacroai.nn import losses, optim  # noqa: E402

import torch  # noqa: E402


def best_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


class P:
    def __init__(self, a):
        self.data = a
        self.grad = None


def cases(quick):
    r = np.random.default_rng(0)
    shape = (2, 4, 32, 32, 24) if quick else (2, 4, 96, 96, 64)
    x = r.standard_normal(shape).astype(np.float32)
    lab = r.integers(0, shape[1], (shape[0],) + shape[2:])
    onehot = (np.arange(shape[1]).reshape(1, -1, 1, 1, 1) == lab[:, None]).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    labt = torch.tensor(lab)
    oht = torch.tensor(onehot)

    def ours_ce():
        ce = losses.CrossEntropyLoss(label_smoothing=0.1)
        ce(x, lab)
        ce.backward()

    def torch_ce():
        xt.grad = None
        torch.nn.functional.cross_entropy(xt, labt, label_smoothing=0.1).backward()

    def ours_dice():
        d = losses.DiceLoss(softmax=True)
        d(x, onehot)
        d.backward()

    def torch_dice():
        xt.grad = None
        p = torch.softmax(xt, 1)
        axes = [2, 3, 4]
        i = torch.sum(p * oht, axes)
        f = 1 - (2 * i + 1e-5) / (torch.sum(p, axes) + torch.sum(oht, axes) + 1e-5)
        f.mean().backward()

    def ours_bce():
        b = losses.BCEWithLogitsLoss()
        b(x, onehot)
        b.backward()

    def torch_bce():
        xt.grad = None
        torch.nn.functional.binary_cross_entropy_with_logits(xt, oht).backward()

    n = 1_000_000 if quick else 20_000_000
    w = r.standard_normal(n).astype(np.float32)
    g = r.standard_normal(n).astype(np.float32)
    p_ours = P(w.copy())
    p_ours.grad = g
    adam = optim.AdamW([p_ours], lr=1e-3)
    sgd_p = P(w.copy())
    sgd_p.grad = g
    sgd = optim.SGD([sgd_p], lr=1e-3, momentum=0.99, nesterov=True, weight_decay=3e-5)
    tw = torch.tensor(w.copy(), requires_grad=True)
    tw.grad = torch.tensor(g)
    tadam = torch.optim.AdamW([tw], lr=1e-3, foreach=False)
    tw2 = torch.tensor(w.copy(), requires_grad=True)
    tw2.grad = torch.tensor(g)
    tsgd = torch.optim.SGD([tw2], lr=1e-3, momentum=0.99, nesterov=True, weight_decay=3e-5, foreach=False)
    return [
        (f"CrossEntropy ls=0.1 fwd+bwd {shape}", ours_ce, torch_ce),
        (f"Dice softmax fwd+bwd {shape}", ours_dice, torch_dice),
        (f"BCEWithLogits fwd+bwd {shape}", ours_bce, torch_bce),
        (f"AdamW step {n:,} params", adam.step, tadam.step),
        (f"SGD nesterov step {n:,} params", sgd.step, tsgd.step),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(sacroai.show_config())
    repeat = 2 if args.quick else 5
    for threads in sorted({1, os.cpu_count() or 1}):
        sacroai.set_num_threads(threads)
        torch.set_num_threads(threads)
        print(f"\nthreads = {threads}")
        print(f"{'operation':52s} {'sacroai s':>10s} {'torch s':>10s} {'torch/sacroai':>14s}")
        for name, ours, theirs in cases(args.quick):
            a, b = best_time(ours, repeat), best_time(theirs, repeat)
            print(f"{name:52s} {a:10.4f} {b:10.4f} {b / a:14.2f}")


if __name__ == "__main__":
    main()
