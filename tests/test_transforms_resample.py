"""Resampling against scipy.ndimage.affine_transform, affines, labels, bad input."""
import numpy as np
import pytest
import scipy.ndimage as ndi

import sacroai
from sacroai.transforms import resample, resample_labels, target_spacing, anisotropic_axis
from reference.image_ref import resample_scipy

RNG = np.random.default_rng(1234)


def _smooth(shape, dtype=np.float32):
    a = ndi.gaussian_filter(RNG.normal(size=shape), 1.0) * 1000
    return a.astype(dtype)


def _close(a, ref, order, nsp):
    rng = float(ref.max() - ref.min()) or 1.0
    if order == 3:
        inner = tuple(slice(3, -3) for _ in range(nsp))
        a, ref = a[inner], ref[inner]
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-5 * rng)


@pytest.mark.parametrize("order", [0, 1, 3])
@pytest.mark.parametrize("shape,old,new", [
    ((21, 18, 13), (1.0, 1.0, 1.0), (0.7, 1.3, 0.45)),
    ((16, 16, 9), (0.7, 0.7, 1.5), (1.0, 1.0, 1.0)),
    ((25, 31), (0.2, 0.2), (0.33, 0.15)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8])
def test_resample_matches_scipy(order, shape, old, new, dtype):
    a = _smooth(shape)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        a = np.clip(a / 10, info.min, info.max).astype(dtype)
    a = a.astype(dtype)
    v = sacroai.Volume(a, spacing=old)
    r = resample(v, spacing=new, order=order, anisotropic=False)
    m = np.round(np.array(shape) * np.array(old) / np.array(new)).astype(int)
    assert r.shape == tuple(m)
    ref = resample_scipy(a, np.array(new) / np.array(old), 0.0, m, order)
    _close(r.array, ref, order, len(shape))


@pytest.mark.parametrize("layout", ["fortran", "strided", "readonly"])
@pytest.mark.parametrize("order", [1, 3])
def test_resample_memory_layouts(layout, order):
    base = _smooth((14, 22, 17))
    if layout == "fortran":
        a = np.asfortranarray(base)
    elif layout == "strided":
        a = _smooth((28, 22, 17))[::2]
    else:
        a = base.copy()
        a.setflags(write=False)
    r = resample(sacroai.Volume(a), spacing=(1.4, 0.8, 1.1), order=order)
    ref = resample_scipy(np.array(a), [1.4, 0.8, 1.1], 0.0, r.shape, order)
    _close(r.array, ref, order, 3)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_resample_float64_output_and_channels(order):
    a = _smooth((12, 10, 8, 2))
    r = resample(sacroai.Volume(a), spacing=0.8, order=order, dtype=np.float64)
    assert r.array.dtype == np.float64 and r.shape[3] == 2
    for c in range(2):
        ref = resample_scipy(a[..., c], [0.8] * 3, 0.0, r.shape[:3], order)
        _close(r.array[..., c], ref, order, 3)


@pytest.mark.parametrize("orders", [(3, 1, 0), (0, 3, 1), (1, 0, 3), (3, 3, 0)])
def test_mixed_per_axis_orders_match_sequential_scipy(orders):
    from sacroai import _core
    a = _smooth((15, 17, 13))
    scale = (0.6, 1.4, 0.8)
    m = tuple(int(round(n / s)) for n, s in zip(a.shape, scale))
    out = np.empty(m, np.float32)
    _core.image_resample_separable(a, out, scale, (0.0, 0.0, 0.0), orders, 0, 0.0)
    ref = a.astype(np.float64)
    for ax, (o, s) in enumerate(zip(orders, scale)):
        mat = np.ones(3)
        mat[ax] = s
        shp = list(ref.shape)
        shp[ax] = m[ax]
        ref = resample_scipy(ref, mat, 0.0, shp, o)
    inner = tuple(slice(3, -3) for _ in range(3))
    np.testing.assert_allclose(out[inner], ref[inner], atol=1e-5 * np.ptp(ref))


def test_resample_affine_maps_voxel_centres():
    aff = np.array([[0, 0, -1.5, 40.0], [-0.7, 0, 0, 12.0], [0, 0.7, 0, -30.0], [0, 0, 0, 1]])
    a = _smooth((20, 24, 10))
    v = sacroai.Volume(a, aff)
    r = resample(v, spacing=1.0, order=1)
    # output voxel o sits at input index o * new/old: same world point through both affines
    o = np.array([[0, 0, 0], [3, 5, 2], [r.shape[0] - 1, r.shape[1] - 1, r.shape[2] - 1]], float)
    scale = np.array([1.0, 1.0, 1.0]) / np.array(v.spacing)
    np.testing.assert_allclose(r.world(o), v.world(o * scale), atol=1e-9)
    np.testing.assert_allclose(r.spacing, (1.0, 1.0, 1.0), atol=1e-12)
    np.testing.assert_allclose(r.world([0, 0, 0]), v.world([0, 0, 0]))


@pytest.mark.parametrize("order", [0, 1, 3])
def test_resample_onto_rotated_grid_matches_scipy(order):
    a = _smooth((18, 16, 14))
    src_aff = np.diag([0.9, 1.1, 1.3, 1.0])
    src_aff[:3, 3] = [5, -3, 2]
    th = 0.3
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    tgt = np.eye(4)
    tgt[:3, :3] = rot @ np.diag([1.2, 0.8, 1.0])
    tgt[:3, 3] = [6, -1, 3]
    shape = (12, 15, 11)
    r = resample(sacroai.Volume(a, src_aff), affine=tgt, shape=shape, order=order)
    mat = np.linalg.inv(src_aff) @ tgt
    ref = resample_scipy(a, mat[:3, :3], mat[:3, 3], shape, order)
    _close(r.array, ref, order, 3)
    np.testing.assert_array_equal(r.affine, tgt)


def test_resample_onto_axis_aligned_grid_with_offset():
    a = _smooth((20, 20, 12))
    v = sacroai.Volume(a, spacing=(0.8, 0.8, 2.0))
    tgt = np.diag([1.1, 1.1, 1.5, 1.0])
    tgt[:3, 3] = [2.0, -1.0, 3.0]
    r = resample(v, affine=tgt, shape=(10, 12, 14), order=3)
    mat = np.linalg.inv(v.affine) @ tgt
    ref = resample_scipy(a, np.diag(mat)[:3], mat[:3, 3], (10, 12, 14), 3)
    _close(r.array, ref, 3, 3)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_resample_2d_rotated_gather(order):
    a = _smooth((30, 26))
    v = sacroai.Volume(a, spacing=(0.5, 0.5))
    tgt = np.eye(4)
    c, s = np.cos(0.2), np.sin(0.2)
    tgt[:2, :2] = [[c * 0.6, -s * 0.6], [s * 0.6, c * 0.6]]
    r = resample(v, affine=tgt, shape=(20, 20), order=order)
    mat = np.linalg.inv(v.affine) @ tgt
    ref = resample_scipy(a, mat[:2, :2], mat[:2, 3], (20, 20), order)
    _close(r.array, ref, order, 2)


@pytest.mark.parametrize("order", [1, 3])
def test_resample_same_result_at_any_thread_count(order):
    a = _smooth((80, 120, 90))  # large enough for the kernel to use several threads
    v = sacroai.Volume(a, spacing=(0.7, 0.7, 1.5))
    old = sacroai.get_num_threads()
    try:
        sacroai.set_num_threads(1)
        r1 = resample(v, spacing=1.0, order=order).array
        sacroai.set_num_threads(2)
        r2 = resample(v, spacing=1.0, order=order).array
    finally:
        sacroai.set_num_threads(old)
    np.testing.assert_array_equal(r1, r2)


@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.uint16, np.float16])
def test_resample_other_input_dtypes(dtype):
    a = (_smooth((12, 11, 10)) > 0) if dtype == np.bool_ else np.abs(_smooth((12, 11, 10)) / 10)
    a = a.astype(dtype)
    r = resample(sacroai.Volume(a), spacing=0.7, order=1)
    ref = resample_scipy(a.astype(np.float64), [0.7] * 3, 0.0, r.shape, 1)
    _close(r.array, ref, 1, 3)


def test_constant_mode_writes_cval_outside():
    a = _smooth((10, 10, 10)) + 5000
    r = resample(sacroai.Volume(a), affine=np.eye(4) @ np.diag([1, 1, 1, 1.0]) + 0, shape=(14, 10, 10),
                 order=1, mode="constant", cval=-7.0)
    assert np.all(r.array[10:] == -7.0)
    np.testing.assert_allclose(r.array[:10], a, rtol=0, atol=1e-3)


def test_anisotropic_rule_uses_order0_on_thick_axis():
    a = _smooth((20, 20, 6))
    v = sacroai.Volume(a, spacing=(0.5, 0.5, 4.0))
    assert anisotropic_axis(v.spacing) == 2
    r = resample(v, spacing=(1.0, 1.0, 1.0), order=3, anisotropic="auto")
    scale = np.array([2.0, 2.0, 0.25])
    # the thick axis is nearest: equals in-plane cubic of the nearest slice
    inplane = np.stack([ndi.affine_transform(a[..., k].astype(np.float64), scale[:2], output_shape=r.shape[:2],
                                             order=3, mode="nearest") for k in range(6)], -1)
    k_near = np.clip(np.floor(np.arange(r.shape[2]) * 0.25 + 0.5).astype(int), 0, 5)
    ref = inplane[..., k_near]
    _close(r.array, ref, 3, 3)


def test_target_spacing_like_nnunet():
    sp = [[0.7, 0.7, 1.5], [0.8, 0.8, 1.0], [0.75, 0.75, 2.0]]
    assert target_spacing(sp) == pytest.approx((0.75, 0.75, 1.5))
    aniso = [[0.5, 0.5, 5.0], [0.6, 0.6, 4.0], [0.55, 0.55, 6.0], [0.5, 0.5, 3.0]]
    t = target_spacing(aniso)
    assert t[:2] == pytest.approx((0.525, 0.525))
    assert t[2] == pytest.approx(np.percentile([5.0, 4.0, 6.0, 3.0], 10))
    # shapes say the thick axis is not short: plain median
    t2 = target_spacing(aniso, shapes=[[100, 100, 90]] * 4)
    assert t2[2] == pytest.approx(4.5)


@pytest.mark.parametrize("method", ["nearest", "linear"])
def test_resample_labels_keeps_label_set(method):
    lab = np.zeros((30, 30, 12), np.uint8)
    lab[5:20, 5:15, 2:8] = 3
    lab[12:25, 14:28, 4:11] = 7
    v = sacroai.Volume(lab, spacing=(0.8, 0.8, 2.5))
    r = resample_labels(v, spacing=(1.1, 0.6, 1.0), method=method)
    assert r.array.dtype == np.uint8
    assert set(np.unique(r.array)) <= {0, 3, 7}
    assert set(np.unique(r.array)) == {0, 3, 7}
    if method == "nearest":
        ref = resample_scipy(lab, np.array([1.1, 0.6, 1.0]) / np.array([0.8, 0.8, 2.5]), 0, r.shape, 0)
        np.testing.assert_array_equal(r.array, ref.astype(np.uint8))


def test_real_ct_masks_roundtrip_keeps_centroids():
    import os
    root = "/work/shared/data/real/totalsegmentator"
    if not os.path.isdir(root):
        pytest.skip("real data folder missing")
    ct = sacroai.load(f"{root}/example_ct.nii.gz")
    for name in ("sacrum", "hip_left", "hip_right"):
        m = sacroai.load(f"{root}/example_seg/{name}.nii.gz")
        np.testing.assert_allclose(m.affine, ct.affine, atol=1e-4)
        lab = (np.asarray(m.array) > 0).astype(np.uint8)
        v = sacroai.Volume(lab, m.affine)

        def centroid(vol):
            idx = np.argwhere(vol.array > 0)
            return vol.world(idx.mean(0))

        for spacing, method in ((1.0, "linear"), ((0.9, 1.1, 1.3), "nearest")):
            up = resample_labels(v, spacing=spacing, method=method)
            back = resample_labels(up, affine=v.affine, shape=v.shape, method=method)
            c0, c1, c2 = centroid(v), centroid(up), centroid(back)
            assert np.linalg.norm(c1 - c0) < 1.0, (name, spacing, method)
            assert np.linalg.norm(c2 - c0) < 1.0, (name, spacing, method)
    block = sacroai.Volume(np.asarray(ct.array)[30:70, 30:70, 40:80], ct.affine)
    img = resample(block, spacing=1.0, order=3)
    ref = resample_scipy(block.array, [1 / 3.0] * 3, 0.0, img.shape, 3)
    _close(img.array, ref, 3, 3)


@pytest.mark.parametrize("kwargs,word", [
    (dict(spacing=0.0), "spacing"),
    (dict(spacing=-1.0), "spacing"),
    (dict(spacing=(1.0, float("nan"), 1.0)), "spacing"),
    (dict(spacing=(1.0, 1.0)), "spacing"),
    (dict(spacing=1.0, order=2), "order"),
    (dict(spacing=1.0, order=1.0), "order"),
    (dict(spacing=1.0, mode="wrap"), "mode"),
    (dict(spacing=1.0, dtype=np.int16), "dtype"),
    (dict(shape=(3, 0, 3)), "shape"),
    (dict(affine=np.eye(4)), "shape"),
    (dict(), "spacing"),
])
def test_bad_arguments_name_the_argument(kwargs, word):
    v = sacroai.Volume(np.zeros((5, 6, 7), np.float32))
    with pytest.raises(ValueError, match=word):
        resample(v, **kwargs)


def test_single_voxel_axis_with_order3_raises():
    v = sacroai.Volume(np.zeros((5, 6, 1), np.float32))
    with pytest.raises(ValueError, match="vol.*axis 2"):
        resample(v, spacing=(0.5, 0.5, 1.0), order=3, anisotropic=False)
    resample(v, spacing=(0.5, 0.5, 1.0), order=1)  # fine with order 1


def test_labels_bad_input():
    with pytest.raises(TypeError, match="vol"):
        resample_labels(sacroai.Volume(np.zeros((4, 4, 4), np.float32)), spacing=1.0)
    with pytest.raises(ValueError, match="method"):
        resample_labels(sacroai.Volume(np.zeros((4, 4, 4), np.uint8)), spacing=1.0, method="cubic")


def _labels_linear_ref(lab, matrix, offset, shape):
    labels = np.unique(lab)
    scores = np.stack([resample_scipy((lab == v).astype(np.float64), matrix, offset, shape, 1) for v in labels])
    return labels[np.argmax(scores, axis=0)]


@pytest.mark.parametrize("rotated", [False, True])
def test_resample_labels_linear_matches_onehot_argmax(rotated):
    lab = np.zeros((26, 24, 14), np.int16)
    lab[3:12, 4:15, 2:9] = 4
    lab[10:22, 12:22, 5:12] = 9
    lab[15:18, 2:5, 1:3] = 2
    lab[0, 0, 0] = 1  # a label that touches the corner
    v = sacroai.Volume(lab, spacing=(0.9, 0.8, 2.0))
    if rotated:
        tgt = np.eye(4)
        c, s = np.cos(0.25), np.sin(0.25)
        tgt[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([0.7, 0.7, 1.1])
        shape = (30, 30, 20)
        r = resample_labels(v, affine=tgt, shape=shape, method="linear")
        mat = np.linalg.inv(v.affine) @ tgt
        ref = _labels_linear_ref(lab, mat[:3, :3], mat[:3, 3], shape)
    else:
        r = resample_labels(v, spacing=(0.6, 1.1, 0.7), method="linear")
        sc = np.array([0.6, 1.1, 0.7]) / np.array([0.9, 0.8, 2.0])
        ref = _labels_linear_ref(lab, sc, 0.0, r.shape)
    # float32 kernel vs float64 twin: ties may break differently at exact 0.5 weights
    assert np.mean(r.array != ref) < 1e-3
    assert set(np.unique(r.array)) <= set(np.unique(lab))
