"""Reproduce the SIJ MRI pipeline's weights from phantoms.

    python weights/train_sij_mri.py [--out weights] [--seed 0] [--threads 2]

The same seed and thread count write the same files byte for byte.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sacroai.pipelines.sij_mri_train import train_sij_mri  # noqa: E402
from sacroai.nn import conv_algorithm  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-train", type=int, default=40)
    p.add_argument("--n-val", type=int, default=8)
    p.add_argument("--n-test", type=int, default=16)
    p.add_argument("--epochs-bones", type=int, default=6)
    p.add_argument("--epochs-bme", type=int, default=10)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    metrics = train_sij_mri(a.out, seed=a.seed, n_train=a.n_train, n_val=a.n_val, n_test=a.n_test,
                            epochs_bones=a.epochs_bones, epochs_bme=a.epochs_bme, threads=a.threads,
                            progress=not a.quiet)
    print(json.dumps({k: v for k, v in metrics.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    # the shipped weights were trained with im2col + GEMM convolutions; pinning
    # that algorithm reproduces them byte for byte (see sacroai.nn.backends)
    with conv_algorithm("gemm"):
        main()
