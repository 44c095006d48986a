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
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # PyTorch's allocator on huge pages, as in bench_nn

import sys  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sacroai  # noqa: E402
from pipeline_timing import best, compare_network, network_header, standalone_main  # noqa: E402
from sacroai.pipelines import hip_xray  # noqa: E402
from sacroai.pipelines.hip_xray_train import phantom  # noqa: E402



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
    network_header()
    compare_network(torch, f"multi-task DenseNet, {len(crops)} hips", pipe.model, tmodel, crops, cores, args.repeat)


def main():
    standalone_main(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
