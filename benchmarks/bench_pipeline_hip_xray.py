"""Hip radiograph pipeline speed: seconds per patient, and the multi-task DenseNet against PyTorch.

Called by ``benchmarks/bench_pipeline.py`` (``run(args, cores)``; args has ``.patients`` and
``.repeat``) or alone:

    python benchmarks/bench_pipeline_hip_xray.py [--patients 4] [--repeat 3] [--quick]

Runs the pipeline with the shipped weights on AP pelvis phantoms at 1 thread and at all cores
(locating the heads, cropping, the network on both hips, Croft and K-L), then times the network's
inference on a batch of hip crops in sacroai and in its PyTorch twin (torchvision-layout DenseNet
with the same configuration plus the five Linear heads, the same weights, the same threads, one
process) and prints the ratio PyTorch time / sacroai time (> 1: sacroai is faster).
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sacroai  # noqa: E402
from sacroai.nn.inference import predict  # noqa: E402
from sacroai.pipelines import hip_xray  # noqa: E402
from sacroai.pipelines.hip_xray_train import phantom  # noqa: E402


def best(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def run(args, cores):
    pipe = hip_xray.HipXrayPipeline.from_weights()
    images = [phantom(600000 + s).image for s in range(args.patients)]
    print(f"\nhip radiograph pipeline, {args.patients} phantom patients (2 hips each)")
    print(f"{'threads':>8s} {'s / patient':>12s}")
    for threads in sorted({1, cores}):
        sacroai.set_num_threads(threads)
        pipe.run(images[0])  # warm-up
        t = best(lambda: [pipe.run(v) for v in images], 1) / len(images)
        print(f"{threads:8d} {t:12.3f}")

    try:
        import torch
    except ImportError:
        print("\nPyTorch not installed: network comparison skipped")
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from hip_xray_twin import torch_twin

    cfg = dict(hip_xray.BACKBONE, **{k: tuple(v) if isinstance(v, list) else v
                                     for k, v in (pipe.card or {}).get("backbone", {}).items()})
    tmodel = torch_twin(pipe.model, cfg, hip_xray.HEADS)
    crops = np.concatenate([np.stack(list(pipe.crops(v)[0].values())) for v in images])[:, None]
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(crops)).numpy()
    ours = predict(pipe.model, crops, batch_size=len(crops))
    err = float(np.abs(ours - ref).max() / (np.abs(ref).max() + 1e-12))
    print(f"\n{'network':28s} {'threads':>7s} {'sacroai s':>10s} {'torch s':>10s} {'torch/sacroai':>14s}")
    name = f"multi-task DenseNet, {len(crops)} hips"
    for threads in sorted({1, cores}):
        sacroai.set_num_threads(threads)
        torch.set_num_threads(threads)
        ts = best(lambda: predict(pipe.model, crops, batch_size=len(crops)), args.repeat)
        with torch.no_grad():
            tt = best(lambda: tmodel(torch.from_numpy(crops)), args.repeat)
        print(f"{name:28s} {threads:7d} {ts:10.4f} {tt:10.4f} {tt / ts:13.2f}x   (max rel. diff {err:.1e})")


def main():
    p = argparse.ArgumentParser()
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


if __name__ == "__main__":
    main()
