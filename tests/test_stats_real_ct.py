"""Large-n, heavily tied real data: CT attenuation (HU, integers) as a score for the
sacrum mask (TotalSegmentator example CT), against scikit-learn and a NumPy
midrank DeLong, and the two bone masks as a kappa/confusion example."""
import os

import numpy as np
import pytest
from scipy import stats as st
from sklearn import metrics

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CANDIDATES = [os.path.join(_ROOT, "..", "shared", "data", "real"), "/work/shared/data/real"]
REAL = next((os.path.join(c, "totalsegmentator") for c in _CANDIDATES
             if os.path.isdir(os.path.join(c, "totalsegmentator"))), "")


@pytest.fixture(scope="module")
def ct():
    if not REAL:
        pytest.skip("real data folder missing")
    import sacroai
    hu = sacroai.load(os.path.join(REAL, "example_ct.nii.gz")).array
    sacrum = sacroai.load(os.path.join(REAL, "example_seg", "sacrum.nii.gz")).array > 0
    v2 = sacroai.load(os.path.join(REAL, "example_seg_fast_force_split.nii.gz")).array == 25
    # a box around the sacrum: bone vs soft tissue and air nearby
    idx = np.argwhere(sacrum)
    lo, hi = np.maximum(idx.min(0) - 5, 0), idx.max(0) + 6
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    return hu[box].ravel().astype(np.float64), sacrum[box].ravel().astype(int), v2[box].ravel().astype(int)


def test_auc_and_delong_on_ct_hu(ct):
    from sacroai.stats import roc_auc, roc_curve
    score, y, _ = ct
    r = roc_auc(y, score)
    assert r.estimate == pytest.approx(metrics.roc_auc_score(y, score), rel=1e-9)
    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    tz = st.rankdata(np.r_[pos, neg])
    v10 = (tz[:m] - st.rankdata(pos)) / n
    v01 = 1 - (tz[m:] - st.rankdata(neg)) / m
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    assert r.se == pytest.approx(se, rel=1e-6)
    fpr, tpr, thr = roc_curve(y, score)
    F, T, TH = metrics.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, F, rtol=1e-9)
    np.testing.assert_allclose(thr, TH, rtol=1e-9)


def test_kappa_between_two_segmentations(ct):
    from sacroai.stats import cohen_kappa, confusion_matrix
    _, v1, v2 = ct
    r = cohen_kappa(v1, v2)
    assert r.estimate == pytest.approx(metrics.cohen_kappa_score(v1, v2), rel=1e-9)
    cm = confusion_matrix(v1, v2)
    np.testing.assert_array_equal(cm.matrix, metrics.confusion_matrix(v1, v2))
