"""Shared pieces of the pipeline benchmarks: best-of timing, a network against its
PyTorch twin at 1 thread and all cores, and the stand-alone command line."""
import argparse
import os
import time

import numpy as np

import sacroai
from sacroai.nn.inference import predict

NAME_WIDTH = 28


def best(fn, repeat):
    """Shortest wall time (s) of ``repeat`` calls of ``fn``."""
    ts = []
    for _ in range(max(int(repeat), 1)):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def network_header():
    print(f"\n{'network':{NAME_WIDTH}s} {'threads':>7s} {'sacroai s':>10s} {'torch s':>10s} {'torch/sacroai':>14s}")


def compare_network(torch, name, model, tmodel, x, cores, repeat):
    """Time ``predict(model, x)`` against ``tmodel(x)`` (same weights) at 1 thread and all
    cores and print one row per thread count with the ratio torch / sacroai and the
    largest relative difference of the outputs."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    ours = predict(model, x, batch_size=len(x))
    err = float(np.abs(ours - ref).max() / (np.abs(ref).max() + 1e-12))
    for threads in sorted({1, cores}):
        sacroai.set_num_threads(threads)
        torch.set_num_threads(threads)
        ts = best(lambda: predict(model, x, batch_size=len(x)), repeat)
        with torch.no_grad():
            tt = best(lambda: tmodel(torch.from_numpy(x)), repeat)
        print(f"{name:{NAME_WIDTH}s} {threads:7d} {ts:10.4f} {tt:10.4f} {tt / ts:13.2f}x   (max rel. diff {err:.1e})")


def standalone_main(run, description):
    """Command line of a ``bench_pipeline_<study>.py`` run on its own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--patients", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="a small smoke run (1 patient, 1 repeat)")
    a = p.parse_args()
    if a.quick:
        a.patients, a.repeat = 1, 1
    info = sacroai.config.build_info()
    cores = len(os.sched_getaffinity(0))
    print(f"sacroai {info['sacroai']}; BLAS core {info['blas_corename']} ({info['blas_parallel']}); {cores} cores")
    run(a, cores)
