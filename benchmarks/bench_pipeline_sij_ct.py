"""SIJ CT pipeline speed: seconds per patient, and its networks against their PyTorch twins.

Called by ``benchmarks/bench_pipeline.py`` (``run(args, cores)``; ``args`` has
``.patients`` and ``.repeat``), or alone:

    python benchmarks/bench_pipeline_sij_ct.py [--patients 4] [--repeat 3] [--quick]

Runs the pipeline with the shipped weights on phantom CTs at 1 thread and at
all cores (with and without the Grad-CAM++ maps), then times the mNY grader
(3-D CNN, both joints' ROIs) and the erosion / ankylosis slice CNNs (all
axial ROI slices of both joints) in sacroai and in PyTorch (same weights,
same threads, one process) and prints torch time / sacroai time (> 1: sacroai
is faster).
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # PyTorch's allocator on huge pages, as in bench_nn

import sys  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sacroai  # noqa: E402
from pipeline_timing import best, compare_network, network_header, standalone_main  # noqa: E402
from sacroai.phantoms.sij_ct import generate_sij_ct  # noqa: E402
from sacroai.pipelines import sij_ct  # noqa: E402


def run(args, cores):
    pipe = sij_ct.SIJCTPipeline.from_weights()
    grades = [(0, 0), (3, 2), (4, 4), (1, 3), (2, 2), (0, 1)]
    scans = [generate_sij_ct(700 + s, dict(zip(("left", "right"), grades[s % len(grades)]))).ct
             for s in range(args.patients)]
    print(f"\n{'threads':>8s} {'s / patient':>12s} {'with Grad-CAM++':>16s}")
    for threads in sorted({1, cores}):
        sacroai.set_num_threads(threads)
        pipe.run(scans[0], explain=False)  # warm-up
        t = best(lambda: [pipe.run(v, explain=False) for v in scans], 1) / len(scans)
        te = best(lambda: [pipe.run(v, explain=True) for v in scans], 1) / len(scans)
        print(f"{threads:8d} {t:12.3f} {te:16.3f}")

    try:
        import torch
    except ImportError:
        print("\nPyTorch not installed: network comparison skipped")
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from test_nn_models_cnn import TCNN  # the parity tests' twin, same attribute names

    res = pipe.run(scans[0], explain=False)
    rois = pipe.rois(scans[0], {s: res.joints[s]["centre_mm"] for s in sij_ct.SIDES})
    x3 = np.stack([rois[s][1] for s in sij_ct.SIDES])[:, None]
    x2 = np.ascontiguousarray(np.moveaxis(x3[:, 0], 3, 1).reshape(-1, 1, *sij_ct.ROI_SHAPE[:2]))

    def twin(model, sd):
        t = TCNN(sd, model.in_channels, model.classifier.weight.shape[0], model.channels, 0.0)
        t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
        return t.eval()

    network_header()
    for name, model, x, sd in (("mNY grader 3-D, 2 ROIs", pipe.grader, x3, 3),
                               (f"erosion 2-D, {len(x2)} slices", pipe.erosion_net, x2, 2),
                               (f"ankylosis 2-D, {len(x2)} slices", pipe.ankylosis_net, x2, 2)):
        compare_network(torch, name, model, twin(model, sd), x, cores, args.repeat)


def main():
    standalone_main(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
