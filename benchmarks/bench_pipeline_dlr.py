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
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # PyTorch's allocator on huge pages, as in bench_nn

import sys  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import sacroai  # noqa: E402
from pipeline_timing import best, compare_network, network_header, standalone_main  # noqa: E402
from sacroai.phantoms.sij_mri_multiseq import generate_multiseq_cohort  # noqa: E402
from sacroai.pipelines import dlr  # noqa: E402



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
    network_header()
    for s in study.sequences:
        model = study.networks[s]
        x = X[s].reshape((-1,) + X[s].shape[2:])
        tmodel = torch_twin(torch, study.backbones[s], study.width, model.state_dict())
        compare_network(torch, f"{s} {study.backbones[s]} w{study.width}", model, tmodel, x, cores, args.repeat)


def main():
    standalone_main(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
