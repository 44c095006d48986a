"""Segmentation metrics (SCORES.md 11): worked examples, invalid inputs, and the
C surface / exact EDT kernels against SciPy twins."""
import numpy as np
import pytest
from scipy import ndimage

from sacroai.scores import evaluate
from sacroai.scores._seg import distance_to, surface

T = 1e-4


def box(shape, r0, r1, c0, c1):
    m = np.zeros(shape, np.uint8)
    m[r0:r1 + 1, c0:c1 + 1] = 1
    return m


def seg(pred, ref, **kw):
    return evaluate("seg_metrics", dict(pred=pred.tolist(), ref=ref.tolist(), **kw))


def check(r, **expect):
    for k, v in expect.items():
        if isinstance(v, float):
            assert r[k] == pytest.approx(v, abs=T), k
        else:
            assert r[k] == v, k


def test_seg1():
    r = seg(box((5, 6), 1, 3, 2, 4), box((5, 6), 1, 3, 1, 3))
    check(r, status="ok", dice=0.6667, jaccard=0.5, rvd=0.0, hd=1.0, hd95=1.0, hd95_pooled=1.0, assd=0.5,
          assd_mean_of_means=0.5, empty="none")


def test_seg2():
    ref = box((5, 9), 1, 3, 1, 3)
    pred = ref.copy()
    pred[2, 7] = 1
    check(seg(pred, ref), dice=0.9474, jaccard=0.9, rvd=0.1111, hd=4.0, hd95=2.4, hd95_pooled=0.8,
          assd=0.2353, assd_mean_of_means=0.2222)


def test_seg3_anisotropic():
    ref, pred = np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)
    ref[1, 1], pred[3, 2] = 1, 1
    d = 17 ** 0.5
    check(seg(pred, ref, spacing=[2.0, 1.0]), dice=0.0, jaccard=0.0, rvd=0.0, hd=d, hd95=d, hd95_pooled=d,
          assd=d, assd_mean_of_means=d)


CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
SQUARE = np.ones((3, 3), np.uint8)


def test_seg4_connectivity1():
    check(seg(CROSS, SQUARE, connectivity=1), dice=0.7143, jaccard=0.5556, rvd=-0.4444, hd=1.0, hd95=1.0,
          hd95_pooled=1.0, assd=0.3333, assd_mean_of_means=0.25)


def test_seg5_connectivity2():
    check(seg(CROSS, SQUARE, connectivity=2), hd=1.0, hd95=1.0, hd95_pooled=1.0, assd=0.3846,
          assd_mean_of_means=0.35)


def test_seg6_to_9_empty():
    blk, zero = box((4, 4), 1, 2, 1, 2), np.zeros((4, 4), np.uint8)
    dist = ("hd", "hd95", "hd95_pooled", "assd", "assd_mean_of_means")
    r = seg(zero, blk)
    check(r, dice=0.0, jaccard=0.0, rvd=-1.0, empty="pred")
    assert all(r[k] == "inf" for k in dist)
    r = seg(blk, zero)
    check(r, dice=0.0, jaccard=0.0, rvd=None, empty="ref")
    assert all(r[k] == "inf" for k in dist)
    r = seg(zero, zero)
    check(r, dice=1.0, jaccard=1.0, rvd=None, empty="both")
    assert all(r[k] is None for k in dist)
    r = seg(blk, blk)
    check(r, dice=1.0, jaccard=1.0, rvd=0.0, hd=0.0, hd95=0.0, assd=0.0, empty="none")


@pytest.mark.parametrize("kw,reason", [
    ({"pred": np.zeros((4, 4)), "ref": np.zeros((4, 5))}, "shape_mismatch"),
    ({"pred": np.full((4, 4), 2), "ref": np.zeros((4, 4))}, "value_out_of_range"),
    ({"pred": np.zeros((4, 4)), "ref": np.zeros((4, 4)), "spacing": [0, 1]}, "value_out_of_range"),
    ({"pred": np.zeros((4, 4)), "ref": np.zeros((4, 4)), "spacing": [1, 1, 1]}, "malformed_input"),
    ({"pred": np.zeros((4, 4)), "ref": np.zeros((4, 4)), "connectivity": 3}, "value_out_of_range"),
])
def test_seg_invalid(kw, reason):
    assert evaluate("seg_metrics", kw) == {"status": "error", "reason": reason}


# ---- kernels against SciPy twins ------------------------------------------------------------

@pytest.mark.parametrize("shape,spacing", [((17,), (0.7,)), ((9, 13), (1.0, 1.0)), ((12, 7), (2.0, 0.5)),
                                           ((6, 9, 11), (0.8, 0.8, 4.0)), ((5, 1, 8), (1.5, 1.0, 0.3))])
@pytest.mark.parametrize("density", [0.02, 0.3])
def test_edt_matches_scipy(shape, spacing, density):
    rng = np.random.default_rng(sum(shape) + int(density * 100))
    feat = (rng.random(shape) < density).astype(np.uint8)
    if not feat.any():
        feat.flat[0] = 1
    ours = distance_to(feat, spacing)
    ref = ndimage.distance_transform_edt(feat == 0, sampling=spacing)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_edt_noncontiguous_readonly_input():
    rng = np.random.default_rng(1)
    feat = (rng.random((20, 30)) < 0.05).astype(np.uint8)[:, ::2]
    feat.setflags(write=False)
    ref = ndimage.distance_transform_edt(feat == 0, sampling=(1.0, 3.0))
    np.testing.assert_allclose(distance_to(feat, (1.0, 3.0)), ref, atol=1e-12)


def test_edt_empty_feature_is_inf():
    assert np.all(np.isinf(distance_to(np.zeros((3, 4), np.uint8), (1.0, 1.0))))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_surface_matches_erosion_twin(ndim):
    rng = np.random.default_rng(ndim)
    shape = (7, 8, 9)[:ndim]
    mask = (rng.random(shape) < 0.6).astype(np.uint8)
    for conn in range(1, ndim + 1):
        er = ndimage.binary_erosion(mask, ndimage.generate_binary_structure(ndim, conn), border_value=0)
        np.testing.assert_array_equal(surface(mask, conn), (mask.astype(bool) ^ er).astype(np.uint8))


def test_seg_metrics_3d_against_scipy_twin():
    rng = np.random.default_rng(5)
    ref = ndimage.binary_dilation(rng.random((10, 12, 8)) < 0.02, iterations=2).astype(np.uint8)
    pred = ndimage.binary_dilation(rng.random((10, 12, 8)) < 0.02, iterations=2).astype(np.uint8)
    sp = (0.8, 0.8, 4.0)
    st = ndimage.generate_binary_structure(3, 1)
    bp = pred.astype(bool) ^ ndimage.binary_erosion(pred, st, border_value=0)
    br = ref.astype(bool) ^ ndimage.binary_erosion(ref, st, border_value=0)
    d_pr = ndimage.distance_transform_edt(~br, sampling=sp)[bp]
    d_rp = ndimage.distance_transform_edt(~bp, sampling=sp)[br]
    r = evaluate("seg_metrics", {"pred": pred, "ref": ref, "spacing": list(sp)})
    assert r["hd"] == pytest.approx(max(d_pr.max(), d_rp.max()))
    assert r["hd95"] == pytest.approx(max(np.percentile(d_pr, 95), np.percentile(d_rp, 95)))
    assert r["assd"] == pytest.approx(np.concatenate([d_pr, d_rp]).mean())
