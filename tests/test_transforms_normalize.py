"""Intensity normalization against NumPy twins."""
import numpy as np
import pytest

import sacroai
from sacroai.transforms import (CTNormalizer, NyulNormalizer, clip_percentiles, ct_window, minmax,
                                percentile, zscore)
from reference.image_ref import percentile_ref, zscore_ref

RNG = np.random.default_rng(99)
DTYPES = [np.int16, np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float32, np.float64]
QS = [0, 0.5, 1, 13.7, 33.3333, 50, 90, 99.5, 100]


def _img(dtype, shape=(23, 19, 11)):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -3000), min(info.max, 3000)
        return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return (RNG.normal(size=shape) * 400 + 40).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 5, 4000])
def test_percentile_exactly_numpy(dtype, n):
    a = _img(dtype, (n,))
    np.testing.assert_array_equal(percentile(a, QS), np.percentile(a, QS, method="linear"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_percentile_masked_nonzero_and_layouts(dtype):
    a = _img(dtype)
    m = RNG.random(a.shape) > 0.4
    np.testing.assert_array_equal(percentile(a, QS, mask=m), percentile_ref(a, QS, m))
    np.testing.assert_array_equal(percentile(a, QS, nonzero=True), percentile_ref(a, QS, a != 0))
    f = np.asfortranarray(a)
    f.setflags(write=False)
    np.testing.assert_array_equal(percentile(f[:, ::2], 37.0), percentile_ref(a[:, ::2], 37.0))
    assert isinstance(percentile(a, 50), float)


def test_percentile_nan_and_empty():
    a = np.array([1.0, np.nan, 3.0])
    assert np.isnan(percentile(a, 50))
    assert np.isnan(percentile(np.arange(4.0), 50, mask=np.zeros(4, bool)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masked", [False, True])
def test_zscore_matches_numpy(dtype, masked):
    a = _img(dtype)
    m = RNG.random(a.shape) > 0.5 if masked else None
    z = zscore(a, mask=m, dtype=np.float64)
    ref = zscore_ref(a, m)
    np.testing.assert_allclose(z, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    z32 = zscore(sacroai.Volume(a), mask=m)
    assert isinstance(z32, sacroai.Volume) and z32.array.dtype == np.float32
    np.testing.assert_allclose(z32.array, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_zscore_with_percentile_clipping(dtype):
    a = _img(dtype)
    m = RNG.random(a.shape) > 0.3
    z = zscore(a, mask=m, clip_percentiles=(0.5, 99.5), dtype=np.float64)
    lo, hi = np.percentile(a[m], [0.5, 99.5])
    b = np.clip(a.astype(np.float64), lo, hi)
    sel = b[m]
    np.testing.assert_allclose(z, (b - sel.mean()) / sel.std(), rtol=0, atol=1e-9)


def test_zscore_constant_and_nonzero():
    a = np.full((4, 5, 6), 7.0)
    np.testing.assert_array_equal(zscore(a), np.zeros_like(a, np.float32))  # std 0 -> x - mean
    b = _img(np.float32)
    b[:5] = 0
    ref = zscore_ref(b, b != 0)
    np.testing.assert_allclose(zscore(b, nonzero=True, dtype=np.float64), ref, atol=1e-9 * np.abs(ref).max())


def test_clip_percentiles_and_rescale():
    a = _img(np.int16)
    lo, hi = np.percentile(a, [2, 98])
    np.testing.assert_allclose(clip_percentiles(a, 2, 98, dtype=np.float64), np.clip(a, lo, hi))
    r = clip_percentiles(a, 2, 98, out_range=(0, 1), dtype=np.float64)
    np.testing.assert_allclose(r, (np.clip(a, lo, hi) - lo) / (hi - lo), atol=1e-12)


def test_minmax_and_window():
    a = _img(np.float64)
    np.testing.assert_allclose(minmax(a, dtype=np.float64), (a - a.min()) / (a.max() - a.min()), atol=1e-12)
    np.testing.assert_allclose(minmax(a, (-1, 1), dtype=np.float64),
                               2 * (a - a.min()) / (a.max() - a.min()) - 1, atol=1e-12)
    hu = _img(np.int16)
    w = ct_window(hu, level=400, width=1800, dtype=np.float64)
    np.testing.assert_allclose(w, (np.clip(hu, -500, 1300) + 500) / 1800.0, atol=1e-12)


def test_ct_normalizer_fit_apply_save(tmp_path):
    cases = [_img(np.int16, (15, 14, 9)) for _ in range(3)]
    masks = [RNG.random(c.shape) > 0.5 for c in cases]
    norm = CTNormalizer().fit(cases, masks)
    pooled = np.concatenate([c[m].astype(np.float64) for c, m in zip(cases, masks)])
    lo, hi = np.percentile(pooled, [0.5, 99.5])
    assert norm.clip_low == lo and norm.clip_high == hi
    assert norm.mean == pytest.approx(pooled.mean(), rel=1e-12)
    assert norm.std == pytest.approx(pooled.std(), rel=1e-12)
    new = _img(np.int16)
    out = norm(new, dtype=np.float64)
    np.testing.assert_allclose(out, (np.clip(new, lo, hi) - pooled.mean()) / pooled.std(), atol=1e-9)
    path = tmp_path / "ct_norm.json"
    norm.save(path)
    again = CTNormalizer.load(path)
    np.testing.assert_array_equal(again(new), norm(new))
    with pytest.raises(RuntimeError, match="fit"):
        CTNormalizer()(new)
    with pytest.raises(ValueError, match=r"masks\[1\]"):
        CTNormalizer().fit(cases, [masks[0], masks[1][:-1], masks[2]])


def _nyul_ref(train, test, pcs, s1=0.0, s2=100.0):
    def lm(a):
        return np.percentile(a[a > a.mean()], pcs)
    mapped = [s1 + (lm(a) - lm(a)[0]) / (lm(a)[-1] - lm(a)[0]) * (s2 - s1) for a in train]
    std = np.mean(mapped, 0)
    x = lm(test)
    v = test.astype(np.float64)
    seg = np.clip(np.searchsorted(x, v, side="right") - 1, 0, len(x) - 2)
    return std, std[seg] + (v - x[seg]) * (std[seg + 1] - std[seg]) / (x[seg + 1] - x[seg])


def test_nyul_fit_and_apply(tmp_path):
    train = [(_img(np.float64) * s + o) for s, o in [(1.0, 0), (1.7, 300), (0.6, -50)]]
    test = _img(np.float64) * 1.3 + 120
    norm = NyulNormalizer().fit(train)
    std, ref = _nyul_ref(train, test, norm.pcs)
    np.testing.assert_allclose(norm.standard, std, rtol=1e-12)
    np.testing.assert_allclose(norm(test, dtype=np.float64), ref, rtol=1e-10, atol=1e-9)
    # scanner scaling is removed: scaled copies of one image map to the same output
    np.testing.assert_allclose(norm(test * 3 + 10, dtype=np.float64), norm(test, dtype=np.float64), atol=1e-8)
    norm.save(tmp_path / "nyul.json")
    np.testing.assert_array_equal(NyulNormalizer.load(tmp_path / "nyul.json")(test), norm(test))


def test_bad_input_names_argument():
    a = _img(np.float32)
    with pytest.raises(ValueError, match="q"):
        percentile(a, 101)
    with pytest.raises(ValueError, match="mask"):
        zscore(a, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="clip_percentiles"):
        zscore(a, clip_percentiles=(99, 1))
    with pytest.raises(ValueError, match="width"):
        ct_window(a, 40, 0)
    with pytest.raises(ValueError, match="dtype"):
        zscore(a, dtype=np.int16)
    with pytest.raises(ValueError, match="mask"):
        zscore(a, mask=np.zeros(a.shape, bool))


@pytest.mark.parametrize("shape", [(12, 12, 12), (9, 14, 11)])
def test_fortran_ordered_input_and_mask(shape):
    a = np.asfortranarray(_img(np.int16, shape))
    m = RNG.random(shape) > 0.5
    for mask in (m, np.asfortranarray(m)):
        z = zscore(a, mask=mask, clip_percentiles=(1, 99), dtype=np.float64)
        lo, hi = np.percentile(a[m], [1, 99])
        b = np.clip(a.astype(np.float64), lo, hi)
        np.testing.assert_allclose(z, (b - b[m].mean()) / b[m].std(), atol=1e-9)
    v = sacroai.Volume(a)
    out = ct_window(v, 40, 400, dtype=np.float64)
    np.testing.assert_allclose(out.array, (np.clip(a, -160, 240) + 160) / 400.0, atol=1e-12)
    norm = NyulNormalizer().fit([np.ascontiguousarray(a).astype(np.float64)])
    np.testing.assert_allclose(norm(a.astype(np.float64)), norm(np.ascontiguousarray(a, np.float64)), atol=1e-6)


@pytest.mark.parametrize("kind", ["sorted", "reversed", "constant", "few_values", "organ_pipe"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_percentile_selection_on_hard_orders(kind, dtype):
    n = 20001
    base = {"sorted": np.sort(RNG.normal(size=n)) * 100,
            "reversed": np.sort(RNG.normal(size=n))[::-1] * 100,
            "constant": np.full(n, 3.0),
            "few_values": RNG.integers(0, 3, n).astype(float),
            "organ_pipe": np.concatenate([np.arange(n // 2), np.arange(n - n // 2)[::-1]]).astype(float)}[kind]
    a = np.ascontiguousarray(base.astype(dtype))
    np.testing.assert_array_equal(percentile(a, QS), np.percentile(a, QS))
