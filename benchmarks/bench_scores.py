"""Cohort-table scoring: one vectorised core call vs a plain-Python loop over
the same rules (tests/reference/scores_ref.py), SPARCC SIJ and ASDAS-CRP.

    python benchmarks/bench_scores.py [--quick] [--rows N]
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sacroai  # noqa: E402
from sacroai import _core  # noqa: E402
from sacroai.scores import score_table  # noqa: E402
from tests.reference.scores_ref import asdas_ref, sparcc_sij_ref  # noqa: E402

QUADS = ("iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower")


def sij_table(n, rng):
    lesion = rng.random((n, 6, 2, 4)) < 0.3
    has = lesion.any(-1)
    bonus = rng.random((n, 6, 2, 2)) < 0.5
    cols = {}
    for s in range(6):
        for k, side in enumerate(("left", "right")):
            for j, q in enumerate(QUADS):
                cols[f"s{s + 1}_{side}_{q}"] = lesion[:, s, k, j].astype(np.int8)
            cols[f"s{s + 1}_{side}_intense"] = (bonus[:, s, k, 0] & has[:, s, k]).astype(np.int8)
            cols[f"s{s + 1}_{side}_deep"] = (bonus[:, s, k, 1] & has[:, s, k]).astype(np.int8)
    return cols


def sij_python(cols, n):
    lists = {k: v.tolist() for k, v in cols.items()}
    out = []
    for i in range(n):
        slices = [{side: {"quadrants": [lists[f"s{s + 1}_{side}_{q}"][i] for q in QUADS],
                          "intense": lists[f"s{s + 1}_{side}_intense"][i],
                          "deep": lists[f"s{s + 1}_{side}_deep"][i]} for side in ("left", "right")}
                  for s in range(6)]
        out.append(sparcc_sij_ref(slices)[0])
    return out


def asdas_table(n, rng):
    cols = {k: np.round(rng.uniform(0, 10, n), 1) for k in ("back_pain", "morning_stiffness_duration",
                                                              "patient_global", "peripheral_pain_swelling")}
    cols["crp_mg_l"] = np.round(rng.gamma(1.0, 8.0, n), 1)
    return cols


def asdas_python(cols, n):
    keys = ("back_pain", "morning_stiffness_duration", "patient_global", "peripheral_pain_swelling", "crp_mg_l")
    lists = [cols[k].tolist() for k in keys]
    return [asdas_ref(*(c[i] for c in lists))[0] for i in range(n)]


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return min(times), res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    n = 5_000 if args.quick else args.rows
    repeat = 1 if args.quick else 3
    sacroai.show_config()  # prints the BLAS core name and thread facts
    rng = np.random.default_rng(0)
    print(f"rows = {n}")
    print(f"{'system':12s} {'threads':>7s} {'sacroai s':>10s} {'rows/s':>12s} {'python s':>9s} "
          f"{'rows/s':>10s} {'ratio':>7s}")
    for name, make, py in (("sparcc_sij", sij_table, sij_python), ("asdas_crp", asdas_table, asdas_python)):
        cols = make(n, rng)
        t_py, ref = best_of(lambda: py(cols, n), 1)
        for threads in (1, os.cpu_count() or 1):
            sacroai.set_num_threads(threads)
            t_c, res = best_of(lambda: score_table(name, cols), repeat)
            got = res["total"] if name == "sparcc_sij" else res["score"]
            assert np.allclose(got, np.array(ref, float), atol=1e-12), name
            print(f"{name:12s} {threads:7d} {t_c:10.4f} {n / t_c:12.0f} {t_py:9.3f} {n / t_py:10.0f} "
                  f"{t_py / t_c:7.1f}")
        if name == "sparcc_sij":
            # the core call alone on pre-packed int8 arrays (no column conversion)
            grid = np.stack([np.stack([np.stack([cols[f"s{s + 1}_{side}_{q}"] for q in QUADS + ("intense", "deep")], -1)
                                       for side in ("left", "right")], 1) for s in range(6)], 1)
            quad = np.ascontiguousarray(grid[..., :4])
            inten, deep = np.ascontiguousarray(grid[..., 4]), np.ascontiguousarray(grid[..., 5])
            st, re, fi = np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, np.int32)
            out = np.empty((n, 13), np.int32)
            for threads in (1, os.cpu_count() or 1):
                sacroai.set_num_threads(threads)
                t_k, _ = best_of(lambda: _core.scores_sparcc_sij(n, quad, inten, deep, st, re, fi, out), repeat)
                assert np.array_equal(out[:, 0], np.array(ref))
                print(f"{'  core only':12s} {threads:7d} {t_k:10.4f} {n / t_k:12.0f} {t_py:9.3f} "
                      f"{n / t_py:10.0f} {t_py / t_k:7.1f}")


if __name__ == "__main__":
    main()
