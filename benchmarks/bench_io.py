"""NIfTI read speed: sacroai against nibabel in one process.

A 512x512x300 int16 CT-like volume is written once as .nii.gz and .nii, then
read by both libraries; the ratio nibabel time / sacroai time is printed
(> 1 means sacroai is faster).  For .nii both return a memory map, so the
table also reports the extra resident memory each read added (zero-copy
means ~0 MB until the voxels are touched).

    python benchmarks/bench_io.py [--quick] [--repeat N]
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)  # benchmark with the machine's own BLAS kernels

import argparse
import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sacroai  # noqa: E402


def ct_like(shape, seed=0):
    """Smooth body-like intensities in HU plus noise: compresses like a CT."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, s, dtype=np.float32) for s in shape), indexing="ij", sparse=True)
    body = (x ** 2 + (y * 1.3) ** 2) < 0.8
    bone = ((x - 0.3) ** 2 + y ** 2 < 0.02) | ((x + 0.3) ** 2 + y ** 2 < 0.02)
    hu = np.where(body, 40.0, -1000.0) + np.where(bone & body, 700.0, 0.0) + 0 * z
    hu = hu + rng.normal(0, 20, size=shape).astype(np.float32)
    return np.asfortranarray(hu.astype(np.int16))


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main():
    import nibabel as nib

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="a 256x256x100 volume")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    shape = (256, 256, 100) if args.quick else (512, 512, 300)
    info = sacroai.config.build_info()
    print(f"sacroai {info['sacroai']}, nibabel {nib.__version__}; gzip: {info['deflate']}; "
          f"BLAS core {info['blas_corename']}; volume {shape} int16 ({np.prod(shape) * 2 / 2**20:.0f} MB)")
    data = ct_like(shape)
    vol = sacroai.Volume(data, spacing=(0.7, 0.7, 1.5))
    with tempfile.TemporaryDirectory() as tmp:
        gz, nii = os.path.join(tmp, "ct.nii.gz"), os.path.join(tmp, "ct.nii")
        sacroai.save(vol, gz)
        sacroai.save(vol, nii)
        print(f".nii.gz on disk: {os.path.getsize(gz) / 2**20:.0f} MB")

        def sai_load(path):
            return np.asarray(sacroai.load(path).array)

        def nib_load(path):
            return np.asanyarray(nib.load(path).dataobj)

        assert np.array_equal(sai_load(gz), nib_load(gz))
        rows = []
        t_sai = best_time(lambda: sai_load(gz), args.repeat)
        t_nib = best_time(lambda: nib_load(gz), args.repeat)
        rows.append((".nii.gz read", t_sai, t_nib))
        # .nii: read and touch every voxel (a sum), and the resident memory a read adds
        t_sai = best_time(lambda: sai_load(nii).sum(dtype=np.int64), args.repeat)
        t_nib = best_time(lambda: nib_load(nii).sum(dtype=np.int64), args.repeat)
        rows.append((".nii read + sum", t_sai, t_nib))
        t_sai = best_time(lambda: sai_load(nii), args.repeat)
        t_nib = best_time(lambda: nib_load(nii), args.repeat)
        rows.append((".nii open (mmap)", t_sai, t_nib))
        before = rss_mb()
        a = sacroai.load(nii).array
        extra_sai = rss_mb() - before
        zero_copy = isinstance(a, np.memmap)
        del a
        before = rss_mb()
        b = nib_load(nii)
        extra_nib = rss_mb() - before
        del b

    print(f"\n{'operation':20s} {'sacroai s':>10s} {'nibabel s':>10s} {'nibabel/sacroai':>16s}")
    for name, ts, tn in rows:
        print(f"{name:20s} {ts:10.4f} {tn:10.4f} {tn / ts:15.2f}x")
    print(f"\n.nii load: sacroai returns a memory map: {zero_copy}; resident memory added by the "
          f"load: sacroai {extra_sai:.1f} MB, nibabel {extra_nib:.1f} MB")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
