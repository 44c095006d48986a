"""ASDAS, BASDAI, DAS28: worked and invalid examples of SCORES.md 10."""
import pytest

from sacroai.scores import evaluate

T = 1e-4


def asdas(bp, dur, pg, pp, apr, key="crp_mg_l", **kw):
    d = {"back_pain": bp, "morning_stiffness_duration": dur, "patient_global": pg,
         "peripheral_pain_swelling": pp, key: apr}
    d.update(kw)
    return d


@pytest.mark.parametrize("args,kw,score,state", [
    ((6, 5, 7, 3, 12), {}, 3.4901, "high"),
    ((6, 5, 7, 3, 12), {"coefficients": "rounded"}, 3.4877, "high"),
    ((1, 1, 1, 0, 0.5), {}, 0.9251, "inactive"),
    ((0, 0, 0, 0, 0), {}, 0.6361, "inactive"),
    ((9, 8, 9, 6, 45), {}, 5.1978, "very_high"),
    ((3, 2, 3, 1, 4), {}, 1.8139, "low"),
])
def test_asdas_crp(args, kw, score, state):
    r = evaluate("asdas_crp", asdas(*args, **kw))
    assert r["status"] == "ok" and r["score"] == pytest.approx(score, abs=T) and r["state"] == state


def test_asdas_crp_floor_reported():
    assert evaluate("asdas_crp", asdas(1, 1, 1, 0, 0.5))["crp_used"] == 2.0


@pytest.mark.parametrize("args,kw,score,state", [
    ((6, 5, 7, 3, 25), {}, 3.333, "high"),
    ((6, 5, 7, 3, 25), {"coefficients": "rounded"}, 3.32, "high"),
    ((2, 2, 2, 0, 9), {}, 1.401, "low"),
    ((0, 0, 0, 0, 0), {}, 0.0, "inactive"),
])
def test_asdas_esr(args, kw, score, state):
    r = evaluate("asdas_esr", asdas(*args, key="esr_mm_h", **kw))
    assert r["status"] == "ok" and r["score"] == pytest.approx(score, abs=T) and r["state"] == state


@pytest.mark.parametrize("b,f,imp,maj", [(3.8, 2.7, True, False), (4.2, 2.1, True, True), (3.5, 1.5, True, True),
                                         (2.0, 1.5, False, False), (2.0, 3.0, False, False)])
def test_asdas_change(b, f, imp, maj):
    r = evaluate("asdas_change", {"baseline": b, "followup": f})
    assert r["status"] == "ok" and r["delta"] == pytest.approx(b - f)
    assert (r["clinically_important_improvement"], r["major_improvement"]) == (imp, maj)


def test_asdas_null_component():
    r = evaluate("asdas_crp", asdas(6, None, 7, 3, 12))
    assert r["status"] == "incomplete" and r["score"] is None and r["state"] is None and r["crp_used"] == 12.0


@pytest.mark.parametrize("system,data,reason", [
    ("asdas_crp", asdas(11, 5, 7, 3, 12), "value_out_of_range"),
    ("asdas_crp", asdas(6, 5, 7, 3, -1), "value_out_of_range"),
    ("asdas_crp", {k: v for k, v in asdas(6, 5, 7, 3, 12).items() if k != "patient_global"}, "missing_field"),
    ("asdas_crp", asdas(6, 5, 7, 3, 12, coefficients="three_decimals"), "value_out_of_range"),
    ("asdas_esr", asdas(6, 5, 7, 3, -5, key="esr_mm_h"), "value_out_of_range"),
    ("asdas_esr", asdas(6, 5, 7, 3, 25, key="esr_mm_h", crp_mg_l=3), "unknown_field"),
    ("asdas_crp", asdas("6", 5, 7, 3, 12), "malformed_input"),
])
def test_asdas_invalid(system, data, reason):
    assert evaluate(system, data) == {"status": "error", "reason": reason}


def bas(q):
    return {f"q{k + 1}": v for k, v in enumerate(q)}


@pytest.mark.parametrize("q,score,active", [([5, 6, 4, 3, 7, 5], 4.8, True), ([2, 3, 1, 0, 2, 4], 1.8, False),
                                            ([10] * 6, 10.0, True), ([4] * 6, 4.0, True)])
def test_basdai(q, score, active):
    r = evaluate("basdai", bas(q))
    assert r["status"] == "ok" and r["score"] == pytest.approx(score, abs=T) and r["active"] is active


def test_basdai_null_and_invalid():
    r = evaluate("basdai", bas([5, 6, None, 3, 7, 5]))
    assert r == {"status": "incomplete", "score": None, "active": None}
    assert evaluate("basdai", bas([12, 6, 4, 3, 7, 5])) == {"status": "error", "reason": "value_out_of_range"}
    d = bas([5, 6, 4, 3, 7, 5])
    del d["q6"]
    assert evaluate("basdai", d) == {"status": "error", "reason": "missing_field"}


@pytest.mark.parametrize("data,score,state,variant", [
    ({"tjc28": 8, "sjc28": 5, "esr_mm_h": 30, "patient_global_mm": 60}, 5.4309, "high", "esr4"),
    ({"tjc28": 8, "sjc28": 5, "crp_mg_l": 12, "patient_global_mm": 60}, 4.9334, "moderate", "crp4"),
    ({"tjc28": 2, "sjc28": 1, "esr_mm_h": 10}, 3.0585, "low", "esr3"),
    ({"tjc28": 0, "sjc28": 0, "crp_mg_l": 3}, 1.6990, "remission", "crp3"),
    ({"tjc28": 0, "sjc28": 0, "crp_mg_l": 1, "patient_global_mm": 10}, 1.3495, "remission", "crp4"),
])
def test_das28(data, score, state, variant):
    r = evaluate("das28", data)
    assert r["status"] == "ok" and r["score"] == pytest.approx(score, abs=T)
    assert r["state"] == state and r["variant"] == variant


def test_das28_gh_null_is_incomplete_not_3_variable():
    r = evaluate("das28", {"tjc28": 8, "sjc28": 5, "esr_mm_h": 30, "patient_global_mm": None})
    assert r == {"status": "incomplete", "score": None, "state": None, "variant": "esr4"}


@pytest.mark.parametrize("data,reason", [
    ({"tjc28": 29, "sjc28": 5, "esr_mm_h": 30}, "value_out_of_range"),
    ({"tjc28": 8, "sjc28": 5, "esr_mm_h": 0}, "value_out_of_range"),
    ({"tjc28": 8, "sjc28": 5, "esr_mm_h": 30, "crp_mg_l": 12}, "ambiguous_input"),
    ({"tjc28": 8, "sjc28": 5}, "missing_field"),
    ({"tjc28": 8, "sjc28": 5, "esr_mm_h": 30, "patient_global_mm": 150}, "value_out_of_range"),
    ({"tjc28": 2.5, "sjc28": 5, "esr_mm_h": 30}, "value_out_of_range"),
])
def test_das28_invalid(data, reason):
    assert evaluate("das28", data) == {"status": "error", "reason": reason}
