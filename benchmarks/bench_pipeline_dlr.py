"""DLR study speed: seconds per patient with the shipped models, and each sequence's CNN against PyTorch.

Called by ``benchmarks/bench_pipeline.py --study dlr`` (``run(args, cores)``) or on its own:

    python benchmarks/bench_pipeline_dlr.py [--patients 4] [--repeat 3] [--quick]

Times :meth:`DLRStudy.predict` (preprocessing of three series, three CNNs,
the meta-models) per patient at 1 thread and all cores, then the inference of
each sequence's network in sacroai and in its PyTorch twin (torchvision
layout at the same width, same weights, same threads, one process) on the
same slices, and prints PyTorch time / sacroai time (> 1: sacroai faster).
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import sacroai  # noqa: E402
from sacroai.nn.inference import predict  # noqa: E402
from sacroai.phantoms.sij_mri_multiseq import generate_multiseq_cohort  # noqa: E402
from sacroai.pipelines import dlr  # noqa: E402


def best(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def torch_twin(torch, backbone, width, state):
    """The PyTorch twin the parity tests use, loaded with ``state``."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    if backbone == "densenet121":
        from test_nn_models_densenet import TDenseNet
        t = TDenseNet(width, (6, 12, 24, 16), 2 * width, 1, cin=1)
    else:
        from test_pipeline_dlr import torch_resnet
        t = torch_resnet(torch, [3, 4, 6, 3] if backbone == "resnet50" else [3, 4, 23, 3], width)
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return t.eval()


def run(args, cores):
    study = dlr.DLRStudy.from_weights()
    cases = generate_multiseq_cohort(max(1, args.patients), seed=777, id_prefix="B")
    print(f"networks: " + ", ".join(f"{s} {b} width {study.width}" for s, b in study.backbones.items()))
    print(f"\n{'threads':>8s} {'s / patient':>12s}")
    for threads in sorted({1, cores}):
        sacroai.set_num_threads(threads)
        study.predict(cases[:1])  # warm-up
        t = best(lambda: study.predict(cases), 1) / len(cases)
        print(f"{threads:8d} {t:12.3f}")
    try:
        import torch
    except ImportError:
        print("\nPyTorch not installed: network comparison skipped")
        return
    X = dlr.case_inputs(cases, study.sequences, study.n_slices)
    print(f"\n{'network':28s} {'threads':>7s} {'sacroai s':>10s} {'torch s':>10s} {'torch/sacroai':>14s}")
    for s in study.sequences:
        model = study.networks[s]
        x = X[s].reshape((-1,) + X[s].shape[2:])
        tmodel = torch_twin(torch, study.backbones[s], study.width, model.state_dict())
        with torch.no_grad():
            ref = tmodel(torch.from_numpy(x)).numpy()
        ours = predict(model, x, batch_size=len(x))
        err = float(np.abs(ours - ref).max() / (np.abs(ref).max() + 1e-12))
        name = f"{s} {study.backbones[s]} w{study.width}"
        for threads in sorted({1, cores}):
            sacroai.set_num_threads(threads)
            torch.set_num_threads(threads)
            ts = best(lambda: predict(model, x, batch_size=len(x)), args.repeat)
            with torch.no_grad():
                tt = best(lambda: tmodel(torch.from_numpy(x)), args.repeat)
            print(f"{name:28s} {threads:7d} {ts:10.4f} {tt:10.4f} {tt / ts:13.2f}x   (max rel. diff {err:.1e})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--patients", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1 patient, 1 repeat")
    a = p.parse_args()
    if a.quick:
        a.patients, a.repeat = 1, 1
    info = sacroai.config.build_info()
    cores = len(os.sched_getaffinity(0))
    print(f"sacroai {info['sacroai']}; BLAS core {info['blas_corename']} ({info['blas_parallel']}); {cores} cores")
    run(a, cores)


if __name__ == "__main__":
    main()
