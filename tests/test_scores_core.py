"""Direct calls of the C kernels: memory layouts, read-only input, argument
errors naming the argument, and agreement with the plain-Python twin."""
import numpy as np
import pytest

from sacroai import _core
from tests.reference.scores_ref import asdas_ref, sparcc_sij_ref


def random_sij(n, rng):
    quad = (rng.random((n, 6, 2, 4)) < 0.3).astype(np.int8)
    has = quad.any(-1)
    inten = ((rng.random((n, 6, 2)) < 0.5) & has).astype(np.int8)
    deep = ((rng.random((n, 6, 2)) < 0.5) & has).astype(np.int8)
    quad[rng.random((n, 6, 2, 4)) < 0.01] = -1        # null
    return quad, inten, deep


def as_dicts(quad, inten, deep, r):
    def v(x):
        return None if x == -1 else int(x)
    return [{side: {"quadrants": [v(x) for x in quad[r, s, k]], "intense": v(inten[r, s, k]),
                    "deep": v(deep[r, s, k])} for k, side in enumerate(("left", "right"))} for s in range(6)]


def call_sij(quad, inten, deep):
    n = quad.shape[0]
    st, re, fi = np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, np.int32)
    out = np.empty((n, 13), np.int32)
    _core.scores_sparcc_sij(n, quad, inten, deep, st, re, fi, out)
    return st, re, fi, out


@pytest.mark.parametrize("layout", ["c", "fortran", "strided", "readonly"])
def test_sij_kernel_layouts_match_reference(layout):
    rng = np.random.default_rng(11)
    quad, inten, deep = random_sij(64, rng)
    if layout == "fortran":
        quad, inten, deep = (np.asfortranarray(a) for a in (quad, inten, deep))
    elif layout == "strided":
        quad, inten, deep = (np.repeat(a, 2, axis=0)[::2] for a in (quad, inten, deep))
    elif layout == "readonly":
        for a in (quad, inten, deep):
            a.setflags(write=False)
    st, re, fi, out = call_sij(quad, inten, deep)
    for r in range(64):
        total, left, right = sparcc_sij_ref(as_dicts(quad, inten, deep, r))
        assert st[r] == (0 if total is not None else 1)
        assert out[r, 0] == (-1 if total is None else total)
        assert out[r, 1] == (-1 if left is None else left) and out[r, 2] == (-1 if right is None else right)


def test_sij_kernel_row_errors_do_not_stop_other_rows():
    rng = np.random.default_rng(12)
    quad, inten, deep = random_sij(5, rng)
    quad[quad == -1] = 0
    quad[1, 2, 0, 3] = 2                 # out of range -> field 2*8 + 0*4 + 3
    quad[3, 4, 1] = [0, 0, 0, 0]
    deep[3, 4, 1] = 1                    # bonus without lesion -> field 60 + 4*2 + 1
    quad[4, 0, 0, 0] = -100              # SAI_SC_BAD
    st, re, fi, out = call_sij(quad, inten, deep)
    assert list(st) == [0, 2, 0, 2, 2]
    assert (re[1], fi[1]) == (4, 19) and (re[3], fi[3]) == (6, 69) and (re[4], fi[4]) == (4, 0)
    assert np.all(out[[1, 3, 4]] == -1) and np.all(out[[0, 2], 0] >= 0)


def test_asdas_kernel_matches_reference_on_noncontiguous_columns():
    rng = np.random.default_rng(13)
    x = rng.uniform(0, 10, (200, 6))[:, ::1]
    x[:, 4] = rng.gamma(1.0, 8.0, 200)
    cols = [x[:, k] for k in range(5)]            # strided views
    n = 200
    st, re, fi = np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, np.int32)
    score, used, state = np.empty(n), np.empty(n), np.empty(n, np.int8)
    _core.scores_asdas(n, 0, 0, *cols, st, re, fi, score, used, state)
    names = ("inactive", "low", "high", "very_high")
    for r in range(n):
        s, name = asdas_ref(*(c[r] for c in cols))
        assert score[r] == pytest.approx(s, abs=1e-12) and names[state[r]] == name


@pytest.mark.parametrize("bad,match", [("quad", "quad"), ("out", "out"), ("status", "status")])
def test_kernel_argument_errors_name_the_argument(bad, match):
    n = 3
    args = dict(quad=np.zeros((n, 6, 2, 4), np.int8), intense=np.zeros((n, 6, 2), np.int8),
                deep=np.zeros((n, 6, 2), np.int8), status=np.empty(n, np.int8), reason=np.empty(n, np.int8),
                field=np.empty(n, np.int32), out=np.empty((n, 13), np.int32))
    if bad == "quad":
        args["quad"] = np.zeros((n, 6, 2, 3), np.int8)            # wrong size
    elif bad == "out":
        args["out"] = np.empty((n, 13), np.int64)                  # wrong dtype
    else:
        args["status"] = np.empty(n, np.int8)[::-1]                # not contiguous output
    with pytest.raises((ValueError, TypeError), match=match):
        _core.scores_sparcc_sij(n, *args.values())


def test_edt_kernel_rejects_bad_spacing():
    with pytest.raises(ValueError, match="spacing"):
        _core.scores_seg_edt_sq(np.zeros((3, 3), np.uint8), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="spacing"):
        _core.scores_seg_edt_sq(np.zeros((3, 3), np.uint8), np.array([1.0]))
    with pytest.raises(ValueError, match="connectivity"):
        _core.scores_seg_surface(np.zeros((3, 3), np.uint8), 3)
