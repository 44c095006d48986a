"""Reproduce the hip radiograph pipeline's weights from phantoms.

    python weights/train_hip_xray.py [--out weights] [--seed 0] [--threads 1]

Writes ``hip_xray_multitask.safetensors`` and its model card ``hip_xray_multitask.json``.
The same seed and thread count write the same files byte for byte.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sacroai.pipelines.hip_xray_train import train_hip_xray  # noqa: E402
from sacroai.nn import conv_algorithm  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-train", type=int, default=500)
    p.add_argument("--n-val", type=int, default=40)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    t0 = time.perf_counter()
    metrics = train_hip_xray(a.out, seed=a.seed, n_train=a.n_train, n_val=a.n_val, n_test=a.n_test,
                             epochs=a.epochs, threads=a.threads, progress=not a.quiet)
    summary = {k: v for k, v in metrics.items() if k != "features"}
    summary["features"] = {k: {m: v[m] for m in ("accuracy", "kappa_linear", "kappa_quadratic")}
                           for k, v in metrics["features"].items()}
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    # the shipped weights were trained with im2col + GEMM convolutions; pinning
    # that algorithm reproduces them byte for byte (see sacroai.nn.backends)
    with conv_algorithm("gemm"):
        main()
