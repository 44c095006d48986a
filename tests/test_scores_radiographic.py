"""mSASSS, mNY, KL, OARSI hip / Croft, Sharp-van der Heijde: SCORES.md 4, 5, 7, 8."""

import pytest

from sacroai.scores import evaluate
from sacroai.scores._radiographic import FOOT, HAND_EROSION, HAND_JSN, MSASSS_SITES


def ms(**sites):
    d = {k: 0 for k in MSASSS_SITES}
    d.update(sites)
    return d


def test_msasss1():
    d = ms(C3_upper=1, C3_lower=2, C4_upper=2, C4_lower=3, C5_upper=3,
           T12_lower=2, L1_upper=1, L4_lower=1, L5_upper=1, L5_lower=3, S1_upper=3)
    r = evaluate("msasss", d)
    assert r["status"] == "ok" and (r["cervical"], r["lumbar"], r["total"]) == (11, 11, 22)
    assert r["warnings"] == []


MS2 = ms(C2_lower=1, C3_upper=1, C3_lower=None, C4_upper=1, C4_lower=1, C5_upper=2, C6_upper=None,
         T12_lower=1, L1_upper=1, L2_lower=1, L3_upper=2)


def test_msasss2_segment_mean():
    r = evaluate("msasss", dict(MS2, impute="segment_mean"))
    assert r["cervical"] == pytest.approx(7.2, abs=1e-4) and r["lumbar"] == 5
    assert r["total"] == pytest.approx(12.2, abs=1e-4) and r["n_imputed"] == 2


def test_msasss3_no_impute():
    r = evaluate("msasss", dict(MS2, impute="none"))
    assert r["status"] == "incomplete" and r["cervical"] is None and r["lumbar"] == 5 and r["total"] is None


def test_msasss4_too_many_missing():
    d = ms(L1_upper=None, L1_lower=None, L2_upper=None, L2_lower=None, impute="segment_mean")
    r = evaluate("msasss", d)
    assert r["lumbar"] is None and r["cervical"] == 0 and r["total"] is None


def test_msasss5_6():
    assert evaluate("msasss", {k: 3 for k in MSASSS_SITES})["total"] == 72
    r = evaluate("msasss", ms(C6_lower=3, C7_upper=2))
    assert r["total"] == 5 and r["warnings"] == ["unpaired_bridge:C6_lower/C7_upper"]


@pytest.mark.parametrize("patch,reason", [
    ({"C3_upper": 4}, "value_out_of_range"), ({"T11_lower": 0}, "unknown_field"),
    ({"C3_upper": 1.5}, "value_out_of_range"), ({"impute": "last_observation"}, "value_out_of_range")])
def test_msasss_invalid(patch, reason):
    assert evaluate("msasss", ms(**patch)) == {"status": "error", "reason": reason}


def test_msasss_missing_key():
    d = ms()
    del d["L3_lower"]
    assert evaluate("msasss", d) == {"status": "error", "reason": "missing_field"}


LBP = {"inflammatory_lbp": True, "lumbar_motion_limited": False, "chest_expansion_limited": False}
ALL3 = {k: True for k in LBP}
NONE = {k: False for k in LBP}


@pytest.mark.parametrize("left,right,crit,c3l,c3r,clin,as_status,status", [
    (2, 2, True, 1, 1, None, None, "ok"),
    (3, 0, True, 2, 0, None, None, "ok"),
    (2, 1, False, 1, 0, None, None, "ok"),
    (1, 1, False, 0, 0, None, None, "ok"),
    (4, 4, True, 2, 2, None, None, "ok"),
    (None, 3, True, None, 2, None, None, "incomplete"),
    (None, 2, None, None, 1, None, None, "incomplete"),
    (0, None, None, 0, None, None, None, "incomplete"),
    (2, 2, True, 1, 1, LBP, "definite", "ok"),
    (1, 1, False, 0, 0, ALL3, "probable", "ok"),
    (3, 0, True, 2, 0, NONE, "probable", "ok"),
    (1, 2, False, 0, 1, LBP, "not_met", "ok"),
])
def test_mny_examples(left, right, crit, c3l, c3r, clin, as_status, status):
    d = {"left": left, "right": right}
    if clin is not None:
        d["clinical"] = clin
    r = evaluate("mny", d)
    assert r["status"] == status
    assert (r["radiographic_criterion"], r["class3_left"], r["class3_right"]) == (crit, c3l, c3r)
    if clin is not None:
        assert r["as_status"] == as_status
    else:
        assert "as_status" not in r


@pytest.mark.parametrize("g,reason", [(5, "value_out_of_range"), (-1, "value_out_of_range"),
                                      (2.5, "value_out_of_range"), ("II", "malformed_input")])
def test_mny_invalid(g, reason):
    assert evaluate("mny", {"left": g, "right": 0}) == {"status": "error", "reason": reason}


@pytest.mark.parametrize("g,oa,label", [(0, False, "none"), (1, False, "doubtful"), (2, True, "minimal"),
                                        (3, True, "moderate"), (4, True, "severe")])
def test_kl(g, oa, label):
    assert evaluate("kl", {"grade": g}) == {"status": "ok", "radiographic_oa": oa, "label": label}


@pytest.mark.parametrize("g,reason", [(5, "value_out_of_range"), (-1, "value_out_of_range"),
                                      (2.5, "value_out_of_range"), ("2", "malformed_input"),
                                      (None, "malformed_input")])
def test_kl_invalid(g, reason):
    assert evaluate("kl", {"grade": g}) == {"status": "error", "reason": reason}


def hip(**kw):
    d = {"fos_superior": 0, "fos_inferior": 0, "aos_superior": 0, "aos_inferior": 0, "jsn_superior": 0,
         "jsn_medial": 0, "sclerosis": False, "cysts": False, "femoral_head_deformity": False}
    d.update(kw)
    return d


@pytest.mark.parametrize("d,osum,jsum,croft,rhoa,warn", [
    (hip(), 0, 0, 0, False, []),
    (hip(fos_superior=1), 1, 0, 1, False, []),
    (hip(jsn_medial=1), 0, 1, 2, False, []),
    (hip(jsn_superior=2, fos_inferior=1), 1, 2, 3, True, []),
    (hip(fos_superior=1, jsn_superior=1, sclerosis=True), 1, 1, 4, True, []),
    (hip(fos_superior=2, aos_superior=1, aos_inferior=1, jsn_superior=2, jsn_medial=1, sclerosis=True,
         cysts=True, femoral_head_deformity=True), 4, 3, 5, True, []),
    (hip(sclerosis=True), 0, 0, None, None, ["croft_undefined_combination"]),
    (hip(fos_inferior=2, femoral_head_deformity=True), 2, 0, 1, False, ["deformity_ignored"]),
])
def test_oarsi_hip(d, osum, jsum, croft, rhoa, warn):
    r = evaluate("oarsi_hip", d)
    assert r["status"] in ("ok", "incomplete")
    assert (r["osteophyte_sum"], r["jsn_sum"], r["croft_grade"], r["rhoa_croft"]) == (osum, jsum, croft, rhoa)
    assert r["warnings"] == warn


@pytest.mark.parametrize("patch,reason", [({"aos_inferior": 2}, "value_out_of_range"),
                                          ({"jsn_medial": 4}, "value_out_of_range"),
                                          ({"sclerosis": "yes"}, "malformed_input")])
def test_oarsi_invalid(patch, reason):
    assert evaluate("oarsi_hip", hip(**patch)) == {"status": "error", "reason": reason}


def test_oarsi_missing_key():
    d = hip()
    del d["cysts"]
    assert evaluate("oarsi_hip", d) == {"status": "error", "reason": "missing_field"}


def svdh_zero():
    def side(ero, jsn):
        return {"erosion": {k: 0 for k in ero}, "jsn": {k: 0 for k in jsn}}
    return {"hands": {s: side(HAND_EROSION, HAND_JSN) for s in ("left", "right")},
            "feet": {s: side(FOOT, FOOT) for s in ("left", "right")}}


def svdh1():
    d = svdh_zero()
    h, f = d["hands"], d["feet"]
    h["left"]["erosion"].update(mcp2=2, mcp3=1, ulna=3)
    h["right"]["erosion"].update(pip3=1, scaphoid=2)
    h["left"]["jsn"].update(mcp2=2, pip4=1, radiocarpal=3)
    h["right"]["jsn"].update(mcp1=1, capitate_scaphoid_lunate=2)
    f["left"]["erosion"].update(mtp5=7, mtp1=2)
    f["right"]["erosion"].update(mtp4=10)
    f["left"]["jsn"].update(mtp5=3)
    f["right"]["jsn"].update(mtp4=4, ip1=1)
    return d


def test_svdh1():
    r = evaluate("svdh", svdh1())
    assert r == {"status": "ok", "erosion_hands": 9, "erosion_feet": 19, "erosion_total": 28, "jsn_hands": 9,
                 "jsn_feet": 8, "jsn_total": 17, "hands_total": 18, "feet_total": 27, "total": 45}


def test_svdh2_max_and_3_zero():
    d = svdh_zero()
    for part, score, hi in (("hands", "erosion", 5), ("hands", "jsn", 4), ("feet", "erosion", 10), ("feet", "jsn", 4)):
        for s in ("left", "right"):
            for k in d[part][s][score]:
                d[part][s][score][k] = hi
    r = evaluate("svdh", d)
    assert [r[k] for k in ("erosion_hands", "erosion_feet", "erosion_total", "jsn_hands", "jsn_feet",
                           "jsn_total", "hands_total", "feet_total", "total")] == [160, 120, 280, 120, 48, 168,
                                                                                   280, 168, 448]
    assert evaluate("svdh", svdh_zero())["total"] == 0


def test_svdh4_null():
    d = svdh1()
    d["feet"]["right"]["jsn"]["mtp2"] = None
    r = evaluate("svdh", d)
    assert r["status"] == "incomplete"
    for k in ("jsn_feet", "jsn_total", "feet_total", "total"):
        assert r[k] is None
    assert (r["erosion_hands"], r["erosion_feet"], r["erosion_total"], r["jsn_hands"], r["hands_total"]) == \
        (9, 19, 28, 9, 18)


@pytest.mark.parametrize("mutate,reason", [
    (lambda d: d["hands"]["left"]["erosion"].__setitem__("mcp1", 6), "value_out_of_range"),
    (lambda d: d["feet"]["left"]["erosion"].__setitem__("mtp1", 11), "value_out_of_range"),
    (lambda d: d["hands"]["right"]["jsn"].__setitem__("mcp1", 5), "value_out_of_range"),
    (lambda d: d["hands"]["left"]["erosion"].pop("cmc1"), "missing_field"),
    (lambda d: d["hands"]["left"]["jsn"].__setitem__("ip1", 0), "unknown_field"),
])
def test_svdh_invalid(mutate, reason):
    d = svdh1()
    mutate(d)
    assert evaluate("svdh", d) == {"status": "error", "reason": reason}
