"""Pipeline speed: seconds per patient, and each pipeline's networks against PyTorch.

The SIJ MRI study is timed here; the other studies' timings live in
``bench_pipeline_<study>.py`` beside this file (each with ``run(args, cores)``)
and are run after it.  ``--study`` picks one.

Runs the pipeline with the shipped weights on phantom scans at 1 thread and
at all cores, then times the bone and oedema U-Nets' inference on the same
slices in sacroai and in PyTorch (same weights, same threads, one process)
and prints the ratio PyTorch time / sacroai time (> 1: sacroai is faster).

    python benchmarks/bench_pipeline.py [--study all|sij_mri|sij_ct|hip_xray|dlr] [--patients 4] [--repeat 3]
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # PyTorch's allocator on huge pages, as in bench_nn

import argparse  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sacroai  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_timing import best, compare_network, network_header  # noqa: E402
from sacroai.phantoms import generate_sij_mri, random_lesions  # noqa: E402
from sacroai.pipelines import sij_mri  # noqa: E402
from sacroai.pipelines import sij_mri_prep as prep  # noqa: E402
from sacroai.nn.models import UNet  # noqa: E402


OTHER_STUDIES = ("sij_ct", "hip_xray", "dlr")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--study", default="all", choices=("all", "sij_mri") + OTHER_STUDIES)
    p.add_argument("--patients", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    info = sacroai.config.build_info()
    cores = len(os.sched_getaffinity(0))
    print(f"sacroai {info['sacroai']}; BLAS core {info['blas_corename']} ({info['blas_parallel']}); {cores} cores")
    if a.study in ("all", "sij_mri"):
        print("\n== SIJ MRI (bones U-Net, oedema attention U-Net) ==")
        run_sij_mri(a, cores)
    sys.path.insert(0, os.path.dirname(__file__))
    for study in OTHER_STUDIES:
        if a.study not in ("all", study):
            continue
        try:
            mod = __import__(f"bench_pipeline_{study}")
        except ImportError as exc:
            print(f"\n== {study}: skipped ({exc}) ==")
            continue
        print(f"\n== {study} ==")
        mod.run(a, cores)


def run_sij_mri(a, cores):
    pipe = sij_mri.SIJMRIPipeline.from_weights()
    scans = []
    for s in range(a.patients):
        rng = np.random.default_rng(500 + s)
        scans.append(generate_sij_mri(rng, random_lesions(rng, active=bool(s % 2))).stir)
    print(f"\n{'threads':>8s} {'s / patient':>12s}")
    for threads in sorted({1, cores}):
        sacroai.set_num_threads(threads)
        pipe.run(scans[0])  # warm-up
        t = best(lambda: [pipe.run(v) for v in scans], 1) / len(scans)
        print(f"{threads:8d} {t:12.3f}")

    try:
        import torch
    except ImportError:
        print("\nPyTorch not installed: network comparison skipped")
        return
    vol = prep.canonical(scans[0])
    xb = prep.network_grid(vol, prep.BONES_SPACING_MM).array
    g = prep.network_grid(vol, prep.BME_SPACING_MM)
    xm = np.concatenate([g.array, np.ones_like(g.array)], axis=1)
    network_header()
    # the PyTorch twins the parity tests use, with the same attribute names
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from test_nn_models_attention_unet import TAttentionUNet
    from test_nn_unet import TUNet

    def torch_twin(model):
        cls, width = (TUNet, model.features) if isinstance(model, UNet) else (TAttentionUNet, model.channels)
        t = cls(2, model.in_channels, model.head.weight.shape[0], width)
        t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
        return t.eval()

    for name, model, x in (("bones U-Net, 1.6 mm", pipe.bones, xb), ("oedema attention U-Net", pipe.bme, xm)):
        compare_network(torch, name, model, torch_twin(model), x, cores, a.repeat)


if __name__ == "__main__":
    main()
