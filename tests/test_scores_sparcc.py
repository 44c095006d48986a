"""SPARCC SIJ / spine / SSS: worked and invalid examples of SCORES.md 1-3."""
import copy

import pytest

from sacroai.scores import evaluate

Z = [0, 0, 0, 0]


def side(q=Z, i=0, d=0):
    return {"quadrants": list(q), "intense": i, "deep": d}


def sij(rows):
    """rows: up to 6 (left, right) side dicts; missing slices are zero."""
    slices = [{"left": l, "right": r} for l, r in rows]
    while len(slices) < 6:
        slices.append({"left": side(), "right": side()})
    return {"slices": slices}


SIJ2 = sij([(side([1, 1, 0, 0], 1, 0), side()),
            (side([1, 1, 1, 0], 1, 1), side([0, 0, 1, 0])),
            (side([1, 0, 0, 0]), side())])


def test_sij1_no_lesion():
    r = evaluate("sparcc_sij", sij([]))
    assert r["status"] == "ok" and r["total"] == 0 and r["per_slice"] == [0] * 6


def test_sij2():
    r = evaluate("sparcc_sij", SIJ2)
    assert r == {"status": "ok", "total": 10, "left": 9, "right": 1, "quadrant_sum": 7,
                 "intensity_sum": 2, "depth_sum": 1, "per_slice": [3, 6, 1, 0, 0, 0]}


def test_sij3():
    r = evaluate("sparcc_sij", sij([(side(), side([1, 0, 1, 0], 1, 1)),
                                    (side([0, 1, 0, 1], 0, 1), side([1, 1, 1, 1], 1, 1)),
                                    (side([0, 1, 0, 0]), side([1, 0, 1, 0], 1, 0)),
                                    (side(), side([0, 0, 1, 0]))]))
    assert (r["total"], r["left"], r["right"]) == (18, 4, 14)
    assert (r["quadrant_sum"], r["intensity_sum"], r["depth_sum"]) == (12, 3, 3)
    assert r["per_slice"] == [4, 9, 4, 1, 0, 0]


def test_sij4_maximum():
    full = side([1, 1, 1, 1], 1, 1)
    r = evaluate("sparcc_sij", sij([(full, full)] * 6))
    assert r["total"] == 72 and r["left"] == 36 and r["quadrant_sum"] == 48


def test_sij5_na():
    d = sij([(side(), side())] * 4 + [(side([1, 1, 0, 0], 0, 1), side()),
                                      (side([1, "na", 1, "na"]), side([0, "na", 0, "na"]))])
    r = evaluate("sparcc_sij", d)
    assert r["status"] == "ok" and r["total"] == 5 and r["per_slice"] == [0, 0, 0, 0, 3, 2]


def test_sij6_unilateral():
    d = copy.deepcopy(SIJ2)
    for s in d["slices"]:
        s["right"] = None
    r = evaluate("sparcc_sij", d)
    assert r["status"] == "incomplete"
    assert r["left"] == 9 and r["right"] is None and r["total"] is None and r["partial_total"] == 9


def test_sij7_one_unreadable_quadrant():
    d = copy.deepcopy(SIJ2)
    d["slices"][2]["right"]["quadrants"] = [0, None, 0, 0]
    r = evaluate("sparcc_sij", d)
    assert r["status"] == "incomplete"
    assert r["right"] is None and r["total"] is None and r["left"] == 9
    assert r["per_slice"] == [3, 6, None, 0, 0, 0] and r["partial_total"] == 10


def _bad(mutate):
    d = copy.deepcopy(SIJ2)
    mutate(d)
    return evaluate("sparcc_sij", d)


@pytest.mark.parametrize("mutate,reason", [
    (lambda d: d["slices"].pop(), "wrong_slice_count"),
    (lambda d: d["slices"][0]["left"]["quadrants"].__setitem__(0, 2), "value_out_of_range"),
    (lambda d: d["slices"][4]["left"].__setitem__("intense", 1), "bonus_without_lesion"),
    (lambda d: d["slices"][0]["left"]["quadrants"].pop(), "malformed_input"),
    (lambda d: d["slices"][5].__setitem__("left", side(["na"] * 4, 0, 1)), "bonus_without_lesion"),
    # section 0 generic rules
    (lambda d: d["slices"][0]["left"]["quadrants"].__setitem__(0, 0.5), "value_out_of_range"),
    (lambda d: d["slices"][0]["left"]["quadrants"].__setitem__(0, "1"), "malformed_input"),
    (lambda d: d["slices"][0]["left"].__setitem__("intense", True), "malformed_input"),
    (lambda d: d["slices"][0]["left"].pop("deep"), "missing_field"),
    (lambda d: d["slices"][0]["left"].__setitem__("extra", 0), "unknown_field"),
])
def test_sij_invalid(mutate, reason):
    assert _bad(mutate) == {"status": "error", "reason": reason}


def test_sij_integral_float_accepted():
    d = copy.deepcopy(SIJ2)
    d["slices"][0]["left"]["quadrants"][0] = 1.0
    assert evaluate("sparcc_sij", d)["total"] == 10


# ---- spine --------------------------------------------------------------------------------


def sl(q, i=0, d=0):
    return {"quadrants": list(q), "intense": i, "deep": d}


SPINE1 = {"dvus": [
    {"level": "T7-T8", "slices": [sl([1, 0, 1, 0], 1), sl([1, 1, 1, 0], 1, 1), sl([1, 0, 0, 0])]},
    {"level": "T8-T9", "slices": [sl([1, 0, 0, 0]), sl([1, 0, 1, 0]), sl(Z)]},
    {"level": "T10-T11", "slices": [sl([0, 0, 1, 1], 1, 1), sl([1, 1, 1, 1], 1, 1), sl([0, 0, 1, 0])]},
    {"level": "L1-L2", "slices": [sl([1, 0, 0, 0]), sl(Z), sl(Z)]},
    {"level": "L3-L4", "slices": [sl([0, 0, 0, 1]), sl([0, 0, 1, 1]), sl(Z)]},
    {"level": "L4-L5", "slices": [sl([1, 1, 0, 0], 1), sl([1, 1, 1, 0], 0, 1), sl(Z)]},
    {"level": "C5-C6", "slices": [sl([1, 0, 0, 0]), sl(Z), sl(Z)]},
]}
FULL3 = [sl([1, 1, 1, 1], 1, 1)] * 3


def test_spine1():
    r = evaluate("sparcc_spine", SPINE1)
    assert r["status"] == "ok" and r["total"] == 34 and r["total_all_dvus"] == 35
    assert r["selected_levels"] == ["T10-T11", "T7-T8", "L4-L5", "T8-T9", "L3-L4", "C5-C6"]
    assert r["dvu_scores"] == {"T7-T8": 9, "T8-T9": 3, "T10-T11": 11, "L1-L2": 1, "L3-L4": 3,
                               "L4-L5": 7, "C5-C6": 1}


def test_spine2_3_4():
    assert evaluate("sparcc_spine", {"dvus": [{"level": "L5-S1", "slices": FULL3}]})["total"] == 18
    assert evaluate("sparcc_spine", {"dvus": []})["total"] == 0
    six = [{"level": lv, "slices": FULL3} for lv in ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")]
    assert evaluate("sparcc_spine", {"dvus": six})["total"] == 108


def test_spine5_unreadable():
    d = copy.deepcopy(SPINE1)
    d["dvus"][1]["slices"][2]["quadrants"][0] = None
    r = evaluate("sparcc_spine", d)
    assert r["status"] == "incomplete" and r["total"] is None and r["dvu_scores"]["T8-T9"] is None


@pytest.mark.parametrize("mutate,reason", [
    (lambda d: d["dvus"][0]["slices"].pop(), "wrong_slice_count"),
    (lambda d: d["dvus"][0].__setitem__("level", "L6-S1"), "unknown_level"),
    (lambda d: d["dvus"][1].__setitem__("level", "L4-L5"), "duplicate_level"),
    (lambda d: d["dvus"][0]["slices"][0]["quadrants"].__setitem__(0, 3), "value_out_of_range"),
    (lambda d: d["dvus"][1]["slices"][2].__setitem__("deep", 1), "bonus_without_lesion"),
])
def test_spine_invalid(mutate, reason):
    d = copy.deepcopy(SPINE1)
    mutate(d)
    assert evaluate("sparcc_spine", d) == {"status": "error", "reason": reason}


# ---- SSS ----------------------------------------------------------------------------------


def sss_side(fat=Z, ero=Z, bf=(0, 0), ank=(0, 0)):
    return {"fat": list(fat), "erosion": list(ero), "backfill": list(bf), "ankylosis": list(ank)}


SSS1 = {"slices": [
    {"left": sss_side([1, 1, 0, 0], [1, 0, 0, 0]), "right": sss_side()},
    {"left": sss_side([1, 1, 1, 0], [1, 1, 0, 0], (1, 0)), "right": sss_side([1, 0, 0, 0], [0, 0, 1, 0])},
    {"left": sss_side([1, 0, 0, 0]), "right": sss_side(ank=(0, 1))},
    {"left": sss_side(), "right": sss_side(ank=(0, 1))},
    {"left": sss_side(), "right": sss_side()},
]}


def test_sss1():
    r = evaluate("sparcc_sss", SSS1)
    assert r["status"] == "ok"
    assert (r["fat"], r["erosion"], r["backfill"], r["ankylosis"], r["sum_all"]) == (7, 4, 1, 2, 14)
    assert r["by_side"]["left"] == {"fat": 6, "erosion": 3, "backfill": 1, "ankylosis": 0, "sum_all": 10}
    assert r["by_side"]["right"] == {"fat": 1, "erosion": 1, "backfill": 0, "ankylosis": 2, "sum_all": 4}


def test_sss2_max_and_sss3_zero():
    one = sss_side([1] * 4, [1] * 4, (1, 1), (1, 1))
    r = evaluate("sparcc_sss", {"slices": [{"left": one, "right": one}] * 5})
    assert (r["fat"], r["erosion"], r["backfill"], r["ankylosis"], r["sum_all"]) == (40, 40, 20, 20, 120)
    r = evaluate("sparcc_sss", {"slices": [{"left": sss_side(), "right": sss_side()}] * 5})
    assert (r["fat"], r["erosion"], r["backfill"], r["ankylosis"], r["sum_all"]) == (0, 0, 0, 0, 0)


def test_sss4_null_erosion():
    d = copy.deepcopy(SSS1)
    d["slices"][4]["right"]["erosion"] = [None, 0, 0, 0]
    r = evaluate("sparcc_sss", d)
    assert r["status"] == "incomplete" and r["erosion"] is None and r["sum_all"] is None
    assert (r["fat"], r["backfill"], r["ankylosis"]) == (7, 1, 2)


@pytest.mark.parametrize("mutate,reason", [
    (lambda d: d["slices"].append(copy.deepcopy(d["slices"][4])), "wrong_slice_count"),
    (lambda d: d["slices"][0]["left"]["fat"].__setitem__(0, 2), "value_out_of_range"),
    (lambda d: d["slices"][0]["left"].__setitem__("backfill", [0, 0, 0, 0]), "malformed_input"),
    (lambda d: d["slices"][0]["left"].__setitem__("ankylosis", ["yes", 0]), "malformed_input"),
])
def test_sss_invalid(mutate, reason):
    d = copy.deepcopy(SSS1)
    mutate(d)
    assert evaluate("sparcc_sss", d) == {"status": "error", "reason": reason}
