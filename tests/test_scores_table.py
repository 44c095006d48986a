"""Cohort tables: one core call for N rows, per-row errors with row index and
field, agreement with evaluate() and with the plain-Python reference twin."""
import numpy as np
import pytest

from sacroai.scores import evaluate, score_table
from sacroai.scores._table import SIJ_COLUMNS
from tests.reference.scores_ref import asdas_ref, sparcc_sij_ref


def random_sij_table(n, rng, null_rate=0.0):
    cols = {}
    lesion = rng.random((n, 6, 2, 4)) < 0.3
    has = lesion.any(-1)
    bonus = rng.random((n, 6, 2, 2)) < 0.5
    for s in range(6):
        for k, side in enumerate(("left", "right")):
            for j, q in enumerate(("iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower")):
                cols[f"s{s + 1}_{side}_{q}"] = lesion[:, s, k, j].astype(np.float64)
            cols[f"s{s + 1}_{side}_intense"] = (bonus[:, s, k, 0] & has[:, s, k]).astype(np.float64)
            cols[f"s{s + 1}_{side}_deep"] = (bonus[:, s, k, 1] & has[:, s, k]).astype(np.float64)
    if null_rate:
        for c in cols:
            cols[c][rng.random(n) < null_rate] = np.nan
    return cols


def row_to_dict(cols, i):
    def v(x):
        return None if np.isnan(x) else int(x)
    slices = []
    for s in range(6):
        sl = {}
        for side in ("left", "right"):
            p = f"s{s + 1}_{side}_"
            sl[side] = {"quadrants": [v(cols[p + q][i]) for q in ("iliac_upper", "iliac_lower", "sacral_upper",
                                                                   "sacral_lower")],
                        "intense": v(cols[p + "intense"][i]), "deep": v(cols[p + "deep"][i])}
        slices.append(sl)
    return {"slices": slices}


def test_sij_table_matches_reference_and_evaluate():
    rng = np.random.default_rng(0)
    cols = random_sij_table(300, rng, null_rate=0.002)
    res = score_table("sparcc_sij", cols)
    assert set(res["status"]) <= {"ok", "incomplete"}
    for i in range(300):
        d = row_to_dict(cols, i)
        total, left, right = sparcc_sij_ref(d["slices"])
        for key, ref in (("total", total), ("left", left), ("right", right)):
            got = res[key][i]
            assert (np.isnan(got) if ref is None else got == ref), (i, key)
        if i < 40:
            ev = evaluate("sparcc_sij", d)
            assert ev["status"] == res["status"][i] and ev["total"] == (None if np.isnan(res["total"][i])
                                                                        else res["total"][i])


def test_sij_table_bad_rows_reported_without_dropping_others():
    rng = np.random.default_rng(1)
    cols = random_sij_table(10, rng)
    cols["s2_left_iliac_upper"][3] = 2          # out of range
    cols["s1_right_iliac_lower"] = cols["s1_right_iliac_lower"].astype(object)
    cols["s1_right_iliac_lower"][5] = "x"       # malformed
    cols["s4_right_sacral_lower"][7] = 0.5      # non-integral
    for q in ("iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower"):
        cols[f"s6_left_{q}"][8] = 0.0
    cols["s6_left_deep"][8] = 1.0               # bonus without lesion
    res = score_table("sparcc_sij", cols)
    errs = {i: (res["reason"][i], res["field"][i]) for i in range(10) if res["status"][i] == "error"}
    assert errs == {3: ("value_out_of_range", "s2_left_iliac_upper"),
                    5: ("malformed_input", "s1_right_iliac_lower"),
                    7: ("value_out_of_range", "s4_right_sacral_lower"),
                    8: ("bonus_without_lesion", "s6_left_deep")}
    ok = [i for i in range(10) if i not in errs]
    assert all(not np.isnan(res["total"][i]) for i in ok)
    assert all(np.isnan(res["total"][i]) for i in errs)


def test_sij_table_na_cells():
    rng = np.random.default_rng(2)
    cols = random_sij_table(3, rng)
    for side in ("left", "right"):
        for q in ("iliac_lower", "sacral_lower"):
            c = cols[f"s6_{side}_{q}"].astype(object)
            c[1] = "na"
            cols[f"s6_{side}_{q}"] = c
        cols[f"s6_{side}_iliac_upper"][1] = 1.0  # keep a lesion so bonus points stay legal
    res = score_table("sparcc_sij", cols)
    assert list(res["status"]) == ["ok"] * 3


def test_asdas_table_matches_reference():
    rng = np.random.default_rng(3)
    n = 500
    cols = {k: np.round(rng.uniform(0, 10, n), 1) for k in ("back_pain", "morning_stiffness_duration",
                                                              "patient_global", "peripheral_pain_swelling")}
    cols["crp_mg_l"] = np.round(rng.gamma(1.0, 8.0, n), 1)
    cols["patient_global"][[4, 9]] = np.nan
    cols["back_pain"][17] = 11.0
    res = score_table("asdas_crp", cols)
    for i in range(n):
        if i == 17:
            assert (res["status"][i], res["reason"][i], res["field"][i]) == ("error", "value_out_of_range",
                                                                              "back_pain")
            continue
        s, state = asdas_ref(*(cols[k][i] for k in ("back_pain", "morning_stiffness_duration", "patient_global",
                                                    "peripheral_pain_swelling", "crp_mg_l")))
        if s is None:
            assert res["status"][i] == "incomplete" and np.isnan(res["score"][i])
        else:
            assert res["score"][i] == pytest.approx(s, abs=1e-12) and res["state"][i] == state


def test_table_dataframe_and_list_of_dicts():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"tjc28": [8, 8, 29], "sjc28": [5, 5, 5], "esr_mm_h": [30, np.nan, 30],
                       "crp_mg_l": [np.nan, 12, np.nan], "patient_global_mm": [60, 60, 60]})
    out = score_table("das28", df)
    assert isinstance(out, pd.DataFrame)
    assert out["score"].iloc[0] == pytest.approx(5.4309, abs=1e-4)
    assert out["score"].iloc[1] == pytest.approx(4.9334, abs=1e-4)
    assert (out["status"].iloc[2], out["field"].iloc[2]) == ("error", "tjc28")
    rows = [{"grade": 2}, {"grade": 7}, {"grade": 0}]
    res = score_table("kl", rows)
    assert res[1] == {"status": "error", "reason": "value_out_of_range", "row": 1, "field": "grade"}
    assert res[0]["radiographic_oa"] is True and res[2]["radiographic_oa"] is False


def test_list_of_dicts_groups_options_and_reports_rows():
    base = {"back_pain": 6, "morning_stiffness_duration": 5, "patient_global": 7, "peripheral_pain_swelling": 3,
            "crp_mg_l": 12}
    rows = [dict(base), dict(base, coefficients="rounded"), dict(base, crp_mg_l="x")]
    res = score_table("asdas_crp", rows)
    assert res[0]["score"] == pytest.approx(3.4901, abs=1e-4)
    assert res[1]["score"] == pytest.approx(3.4877, abs=1e-4)
    assert res[2] == {"status": "error", "reason": "malformed_input", "row": 2, "field": "crp_mg_l"}


@pytest.mark.parametrize("system,cols", [
    ("basdai", {f"q{k}": [5, 2] for k in range(1, 7)}),
    ("mny", {"left": [2, None], "right": [2, 3]}),
    ("asdas_change", {"baseline": [3.8, 2.0], "followup": [2.7, 3.0]}),
])
def test_other_columnar_systems_agree_with_evaluate(system, cols):
    res = score_table(system, {k: np.array(v, dtype=object if None in v else float) for k, v in cols.items()})
    for i in range(2):
        ev = evaluate(system, {k: v[i] for k, v in cols.items()})
        assert res["status"][i] == ev["status"]
        for k, v in ev.items():
            if k == "status":
                continue
            got = res[k][i]
            if isinstance(v, float):
                assert got == pytest.approx(v)
            elif v is None:
                assert got is None or (isinstance(got, float) and np.isnan(got))
            else:
                assert got == v


def test_bad_table_arguments_raise():
    with pytest.raises(ValueError, match="system"):
        score_table("sparc", [])
    with pytest.raises(TypeError, match="table"):
        score_table("kl", 5)
    with pytest.raises(KeyError, match="missing column"):
        score_table("asdas_crp", {"back_pain": [1]})
    assert len(SIJ_COLUMNS) == 72


def test_100k_rows_is_one_core_call(monkeypatch):
    import types

    import sacroai.scores._table as T
    calls = []
    real = T._core

    def counting(*args):
        calls.append(args[0])
        return real.scores_sparcc_sij(*args)

    monkeypatch.setattr(T, "_core", types.SimpleNamespace(scores_sparcc_sij=counting))
    n = 100_000
    cols = random_sij_table(n, np.random.default_rng(7))
    res = score_table("sparcc_sij", cols)
    assert calls == [n]
    assert res["total"].shape == (n,) and not np.isnan(res["total"]).any()
    for i in (0, 12_345, n - 1):
        assert res["total"][i] == sparcc_sij_ref(row_to_dict(cols, i)["slices"])[0]
