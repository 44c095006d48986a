"""Benchmark of sacroai.stats against scikit-learn and NumPy, in one process.

    python benchmarks/bench_stats.py [--quick]

Prints times (median of repeats) and the ratio peer / sacroai at 1 thread and at
all cores for:
  * AUC + DeLong CI at n = 10^6 vs scikit-learn's roc_auc_score (AUC only) and
    a NumPy DeLong (midranks by scipy.stats.rankdata, the fast-DeLong algorithm);
  * a stratified bootstrap of the AUC (2000 x n = 1000) vs a vectorised NumPy one.
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the in-place build
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats as st  # noqa: E402

import sacroai  # noqa: E402
from sacroai.stats import roc_auc  # noqa: E402


def timeit(fn, repeats):
    fn()  # warm-up (page faults, imports)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def numpy_delong(y, s):
    """Fast DeLong in NumPy (Sun & Xu 2014): midranks of pooled, positives, negatives."""
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    tz = st.rankdata(np.r_[pos, neg])
    tx = st.rankdata(pos)
    ty = st.rankdata(neg)
    v10 = (tz[:m] - tx) / n
    v01 = 1 - (tz[m:] - ty) / m
    auc = v10.mean()
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    return auc, auc - 1.96 * se, auc + 1.96 * se


def numpy_bootstrap(y, s, n_boot, seed):
    """Stratified bootstrap of the AUC, vectorised over replicates with rankdata(axis=1)."""
    rng = np.random.default_rng(seed)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    S = np.concatenate([pos[rng.integers(0, m, (n_boot, m))], neg[rng.integers(0, n, (n_boot, n))]], axis=1)
    R = st.rankdata(S, axis=1)
    aucs = (R[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    return np.quantile(aucs, [0.025, 0.975])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    args = ap.parse_args()
    sacroai.show_config()
    from sklearn.metrics import roc_auc_score

    n_big = 10 ** 5 if args.quick else 10 ** 6
    n_small, n_boot = (200, 200) if args.quick else (1000, 2000)
    repeats = 2 if args.quick else 5
    rng = np.random.default_rng(0)
    y = (rng.random(n_big) < 0.3).astype(np.int64)
    s = rng.normal(size=n_big) + y
    ys, ss = y[:n_small], np.round(s[:n_small], 2)

    # sanity: same numbers before timing
    r = roc_auc(y, s)
    a_np, lo_np, hi_np = numpy_delong(y, s)
    assert abs(r.estimate - roc_auc_score(y, s)) < 1e-9 and abs(r.ci_low - lo_np) < 1e-6

    all_cores = len(os.sched_getaffinity(0))
    rows = []
    for threads in sorted({1, all_cores}):
        sacroai.set_num_threads(threads)
        t_sai = timeit(lambda: roc_auc(y, s), repeats)
        t_skl = timeit(lambda: roc_auc_score(y, s), repeats)
        t_npd = timeit(lambda: numpy_delong(y, s), repeats)
        t_boot = timeit(lambda: roc_auc(ys, ss, ci="bootstrap", n_boot=n_boot, seed=1), repeats)
        t_npb = timeit(lambda: numpy_bootstrap(ys, ss, n_boot, 1), max(1, repeats // 2))
        rows.append((threads, f"AUC + DeLong CI, n={n_big:.0e}", t_sai, "sklearn roc_auc_score (AUC only)", t_skl))
        rows.append((threads, f"AUC + DeLong CI, n={n_big:.0e}", t_sai, "NumPy DeLong (rankdata)", t_npd))
        rows.append((threads, f"stratified bootstrap {n_boot} x n={n_small}", t_boot,
                     "NumPy stratified bootstrap", t_npb))
    print()
    print(f"{'threads':>7s}  {'task':38s} {'sacroai s':>10s}  {'peer':34s} {'peer s':>9s} {'peer/sacroai':>12s}")
    for th, task, ts, peer, tp in rows:
        print(f"{th:7d}  {task:38s} {ts:10.4f}  {peer:34s} {tp:9.4f} {tp / ts:12.1f}")


if __name__ == "__main__":
    main()
