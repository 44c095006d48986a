"""Reproduce the DLR study's demo weights from multi-sequence phantoms.

    python weights/train_dlr.py [--out weights] [--seed 0] [--threads 1]

Writes dlr_t1/dlr_stir/dlr_adc.safetensors (+ .json model cards) and
dlr_models.json (stacker, clinical and combined models, held-out metrics).
The same seed and thread count write the same files byte for byte.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sacroai.pipelines.dlr_train import train_dlr  # noqa: E402
from sacroai.nn import conv_algorithm  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--width", type=int, default=4)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    res = train_dlr(a.out, seed=a.seed, n_train=a.n_train, n_test=a.n_test, folds=a.folds, epochs=a.epochs,
                    width=a.width, threads=a.threads, progress=not a.quiet)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    # the shipped weights were trained with im2col + GEMM convolutions; pinning
    # that algorithm reproduces them byte for byte (see sacroai.nn.backends)
    with conv_algorithm("gemm"):
        main()
