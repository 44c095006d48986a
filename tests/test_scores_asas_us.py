"""ASAS MRI / axSpA classification and EULAR-OMERACT ultrasound: SCORES.md 6 and 9."""
import pytest

from sacroai.scores import evaluate
from sacroai.scores._asas import AXSPA_FEATURES


def les(slices, typical=True):
    return {"slices": slices, "typical_location": typical}


@pytest.mark.parametrize("lesions,sugg,pos,crit", [
    ([les([4, 5])], True, True, "multi_slice"),
    ([les([4])], True, False, None),
    ([les([7]), les([7])], True, True, "multi_lesion"),
    ([les([2]), les([6])], True, False, None),
    ([les([4, 5])], False, False, None),
    ([], True, False, None),
    ([les([3, 4], False), les([9])], True, False, None),
    ([les([3, 4]), les([4])], True, True, "both"),
])
def test_asas_mri(lesions, sugg, pos, crit):
    d = {"lesions": lesions, "highly_suggestive": sugg}
    if not lesions:
        d["other_inflammation"] = {"synovitis": True, "capsulitis": True}
    r = evaluate("asas_mri_sij", d)
    assert r == {"status": "ok", "positive": pos, "criterion": crit}


@pytest.mark.parametrize("lesions,reason", [([les([])], "malformed_input"), ([les([3, 3])], "malformed_input"),
                                            ([les([-1])], "value_out_of_range")])
def test_asas_mri_invalid(lesions, reason):
    assert evaluate("asas_mri_sij", {"lesions": lesions, "highly_suggestive": True}) == \
        {"status": "error", "reason": reason}


def axspa(months, onset, mri, xray, b27, feats):
    return {"back_pain_months": months, "onset_age": onset, "mri_sacroiliitis": mri,
            "xray_sacroiliitis": xray, "hla_b27": b27,
            "features": {k: k in feats for k in AXSPA_FEATURES}}


@pytest.mark.parametrize("args,imaging,clinical,classified,subtype,status", [
    ((24, 28, True, False, False, ["ibp"]), True, False, True, "nr-axSpA", "ok"),
    ((12, 25, False, False, True, ["ibp", "uveitis"]), False, True, True, "nr-axSpA", "ok"),
    ((12, 25, False, False, True, ["ibp"]), False, False, False, None, "ok"),
    ((6, 30, True, False, True, []), True, False, True, "nr-axSpA", "ok"),
    ((24, 46, True, True, True, ["ibp", "uveitis"]), None, None, False, None, "ok"),
    ((60, 22, False, True, True, ["ibp", "elevated_crp"]), True, True, True, "r-axSpA", "ok"),
    ((24, 28, True, False, None, ["ibp"]), True, False, True, "nr-axSpA", "incomplete"),
    ((24, 28, None, None, False, ["ibp"]), None, False, None, None, "incomplete"),
    ((2, 28, True, False, True, ["ibp"]), None, None, False, None, "ok"),
    ((3, 44.9, True, False, False, ["dactylitis"]), True, False, True, "nr-axSpA", "ok"),
    ((24, 45, True, False, False, ["ibp"]), None, None, False, None, "ok"),
])
def test_asas_axspa(args, imaging, clinical, classified, subtype, status):
    r = evaluate("asas_axspa", axspa(*args))
    assert r["status"] == status
    assert (r["imaging_arm"], r["clinical_arm"], r["classified"], r["subtype"]) == \
        (imaging, clinical, classified, subtype)
    assert r["entry_met"] == (args[0] >= 3 and args[1] < 45)


def test_asas_axspa_invalid():
    d = axspa(24, -3, True, False, False, ["ibp"])
    assert evaluate("asas_axspa", d) == {"status": "error", "reason": "value_out_of_range"}
    d = axspa(24, 28, True, False, False, ["ibp"])
    del d["features"]["uveitis"]
    assert evaluate("asas_axspa", d) == {"status": "error", "reason": "missing_field"}
    d = axspa(24, 28, True, False, False, ["ibp"])
    d["features"]["sacroiliitis"] = True
    assert evaluate("asas_axspa", d) == {"status": "error", "reason": "unknown_field"}


def joints(*rows):
    return {"joints": [{"joint": j, "gs": g, "pd": p} for j, g, p in rows]}


def test_us1():
    r = evaluate("us_synovitis", joints(("R_MCP1", 0, 0), ("R_MCP2", 1, 0), ("R_MCP3", 1, 1), ("R_MCP4", 1, 2),
                                        ("R_wrist", 2, 1), ("L_MCP2", 2, 3), ("L_wrist", 3, 0)))
    assert r["status"] == "ok" and r["per_joint"] == [0, 1, 1, 2, 2, 3, 3]
    assert (r["gs_sum"], r["pd_sum"], r["combined_sum"], r["n_joints"], r["max_possible"]) == (10, 7, 12, 7, 21)


def test_us2_3_4():
    assert evaluate("us_synovitis", joints(("a", 1, 3)))["per_joint"] == [3]
    r = evaluate("us_synovitis", joints(("a", 3, 3), ("b", 3, 3)))
    assert (r["gs_sum"], r["pd_sum"], r["combined_sum"], r["max_possible"]) == (6, 6, 6, 6)
    r = evaluate("us_synovitis", joints(("R_MCP2", 2, 1), ("R_MCP3", 1, None)))
    assert r["status"] == "incomplete" and r["per_joint"] == [2, None]
    assert r["gs_sum"] == 3 and r["pd_sum"] is None and r["combined_sum"] is None


@pytest.mark.parametrize("data,reason", [
    (joints(("a", 4, 0)), "value_out_of_range"), (joints(("a", 1, -1)), "value_out_of_range"),
    (joints(("a", 0, 2)), "pd_without_synovial_hypertrophy"),
    (joints(("a", 1, 0), ("a", 2, 0)), "duplicate_joint"), ({"joints": []}, "empty_input")])
def test_us_invalid(data, reason):
    assert evaluate("us_synovitis", data) == {"status": "error", "reason": reason}
