"""Preprocessing benchmark: sacroai against scipy.ndimage and NumPy, one process.

Resampling a CT-like int16 volume (512x512x300, 0.7x0.7x1.5 mm) to 1 mm
isotropic at order 1 and 3, and masked z-score / percentile clipping
(0.5/99.5), at 1 thread and at all cores.  Prints times, the ratio
peer/sacroai, and the peak extra resident memory of each sacroai resample
(Linux VmHWM, reset before each call) next to input + output size.

    python benchmarks/bench_preprocess.py [--quick] [--repeat N]
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the in-place build

import numpy as np  # noqa: E402
import scipy.ndimage as ndi  # noqa: E402

import sacroai  # noqa: E402
from sacroai.transforms import clip_percentiles, resample, zscore  # noqa: E402


def best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return -1


def peak_extra_mb(fn):
    """Peak RSS above the current RSS while fn runs (MB), via VmHWM reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return float("nan"), fn()
    before = _status_kb("VmRSS:")
    out = fn()
    return (_status_kb("VmHWM:") - before) / 1024.0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small volume for a smoke run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = sacroai.show_config()
    shape = (128, 128, 75) if args.quick else (512, 512, 300)
    repeat = 1 if args.quick else args.repeat
    spacing = (0.7, 0.7, 1.5)
    rng = np.random.default_rng(0)
    # CT-like: smooth anatomy-ish field plus noise, air outside a cylinder
    small = ndi.zoom(rng.normal(size=(32, 32, 20)), np.array(shape) / (32, 32, 20), order=1)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    body = ((yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2) < (0.42 * shape[0]) ** 2
    vol = np.where(body[..., None], 40 + 300 * small + 30 * rng.standard_normal(shape), -1000).astype(np.int16)
    del small
    mask = vol > -500
    v = sacroai.Volume(vol, spacing=spacing)
    scale = np.array([1.0, 1.0, 1.0]) / np.array(spacing)
    out_shape = tuple(int(round(n * s)) for n, s in zip(shape, spacing))
    in_mb, out_mb = vol.nbytes / 2**20, np.prod(out_shape) * 4 / 2**20
    print(f"volume {shape} int16 -> {out_shape} float32; input {in_mb:.0f} MB, output {out_mb:.0f} MB")
    print(f"cores {os.cpu_count()}; BLAS core {cfg.get('blas_corename')}")

    peer = {}
    for order in (1, 3):
        t, ref = best_of(lambda: ndi.affine_transform(vol, scale, output_shape=out_shape, order=order,
                                                      mode="nearest", output=np.float32), 1)
        peer[f"resample order {order}"] = t
        ours = resample(v, spacing=1.0, order=order).array
        err = np.abs(ours - ref)
        if order == 3:
            err = err[3:-3, 3:-3, 3:-3]
        print(f"check order {order}: max |sacroai - scipy| = {err.max():.3g} (data range {np.ptp(ref):.0f})")
        del ref, ours

    def np_zscore():
        sel = vol[mask]
        mu, sd = sel.mean(), sel.std()
        return ((vol - mu) / sd).astype(np.float32)

    def np_clip():
        lo, hi = np.percentile(vol[mask], [0.5, 99.5])
        return np.clip(vol, lo, hi).astype(np.float32)

    peer["masked z-score"] = best_of(np_zscore, repeat)[0]
    peer["percentile clip 0.5/99.5"] = best_of(np_clip, repeat)[0]

    ours = {
        "resample order 1": lambda: resample(v, spacing=1.0, order=1),
        "resample order 3": lambda: resample(v, spacing=1.0, order=3),
        "masked z-score": lambda: zscore(vol, mask=mask),
        "percentile clip 0.5/99.5": lambda: clip_percentiles(vol, 0.5, 99.5, mask=mask),
    }
    threads = sorted({1, os.cpu_count() or 1})
    print(f"\n{'operation':28s} {'threads':>7s} {'peer s':>9s} {'sacroai s':>10s} {'ratio':>7s} {'peak extra MB':>14s}")
    for nt in threads:
        sacroai.set_num_threads(nt)
        for name, fn in ours.items():
            fn()  # warm up (page faults, thread pool)
            t, _ = best_of(fn, repeat)
            peak = ""
            if name.startswith("resample"):
                mb, _ = peak_extra_mb(fn)
                peak = f"{mb:.0f}"
            print(f"{name:28s} {nt:7d} {peer[name]:9.3f} {t:10.4f} {peer[name] / t:7.1f} {peak:>14s}")
    print("\npeer: scipy.ndimage.affine_transform (mode nearest, float32 output; single-threaded) and NumPy;"
          " ratio = peer time / sacroai time.  Peak extra = resident memory above the pre-call level"
          " (output included).")


if __name__ == "__main__":
    main()
