"""Reproduce the SIJ CT pipeline's weights from CT phantoms.

    python weights/train_sij_ct.py [--out weights] [--seed 0] [--threads 1]

The same seed and thread count write the same files byte for byte.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sacroai.pipelines.sij_ct_train import train_sij_ct  # noqa: E402
from sacroai.nn import conv_algorithm  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--n-val", type=int, default=24)
    p.add_argument("--n-test", type=int, default=40)
    p.add_argument("--crops", type=int, default=2)
    p.add_argument("--epochs-grader", type=int, default=20)
    p.add_argument("--epochs-slices", type=int, default=5)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    t0 = time.perf_counter()
    out = train_sij_ct(a.out, seed=a.seed, n_train=a.n_train, n_val=a.n_val, n_test=a.n_test, crops=a.crops,
                       epochs_grader=a.epochs_grader, epochs_slices=a.epochs_slices, threads=a.threads,
                       progress=not a.quiet)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    # the shipped weights were trained with im2col + GEMM convolutions; pinning
    # that algorithm reproduces them byte for byte (see sacroai.nn.backends)
    with conv_algorithm("gemm"):
        main()
