"""Disease-activity indices: ASDAS-CRP/ESR, ASDAS change, BASDAI, DAS28
(SCORES.md section 10).  Continuous values are classified unrounded."""
import math

import numpy as np

from .. import _core
from . import _validate as V
from ._engine import System

ASDAS_ITEMS = ("back_pain", "morning_stiffness_duration", "patient_global", "peripheral_pain_swelling")
ASDAS_STATES = ("inactive", "low", "high", "very_high")
DAS28_STATES = ("remission", "low", "moderate", "high")
DAS28_VARIANTS = ("esr4", "esr3", "crp4", "crp3")


def _f(v):
    v = float(v)
    return None if math.isnan(v) else v


def _state(code, names):
    return None if code < 0 else names[code]


class Asdas(System):
    """ASDAS-CRP (kind 0) or ASDAS-ESR (kind 1)."""

    def __init__(self, kind):
        self.kind = kind
        self.apr_key = "crp_mg_l" if kind == 0 else "esr_mm_h"
        self.name = "asdas_crp" if kind == 0 else "asdas_esr"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ASDAS_ITEMS + (self.apr_key,), ("coefficients",))
        coef = V.option(data.get("coefficients", "published"), "coefficients", ("published", "rounded"))
        x = np.array([[V.real(data[k], k, 0.0, 10.0) for k in ASDAS_ITEMS]
                      + [V.real(data[self.apr_key], self.apr_key, 0.0)]])
        return {"x": x}, {"coefficients": coef}

    def group(self, ctx):
        return ctx["coefficients"]

    def run(self, b, n, group):
        x = b["x"]
        st, re, fi = V.rows_out(n)
        score, used, state = np.empty(n), np.empty(n), np.empty(n, np.int8)
        cols = [np.ascontiguousarray(x[:, k]) for k in range(5)]
        _core.scores_asdas(n, self.kind, int(group == "rounded"), *cols, st, re, fi, score, used, state)
        return {"status": st, "reason": re, "field": fi, "score": score, "used": used, "state": state}

    def result(self, out, i, ctx):
        res = {"score": _f(out["score"][i]), "state": _state(out["state"][i], ASDAS_STATES)}
        if self.kind == 0:
            res["crp_used"] = _f(out["used"][i])
        res["coefficients"] = ctx["coefficients"]
        return res

    def field(self, index, ctx):
        return (ASDAS_ITEMS + (self.apr_key,))[index] if index >= 0 else ""


class AsdasChange(System):
    name = "asdas_change"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("baseline", "followup"))
        x = np.array([[V.real(data[k], k, 0.0) for k in ("baseline", "followup")]])
        return {"x": x}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        delta, imp, maj = np.empty(n), np.empty(n, np.int8), np.empty(n, np.int8)
        _core.scores_asdas_change(n, np.ascontiguousarray(b["x"][:, 0]), np.ascontiguousarray(b["x"][:, 1]),
                                  st, re, fi, delta, imp, maj)
        return {"status": st, "reason": re, "field": fi, "delta": delta, "imp": imp, "maj": maj}

    def result(self, out, i, ctx):
        return {"delta": _f(out["delta"][i]),
                "clinically_important_improvement": V.tri(out["imp"][i]),
                "major_improvement": V.tri(out["maj"][i])}

    def field(self, index, ctx):
        return ("baseline", "followup")[index] if index >= 0 else ""


BASDAI_ITEMS = tuple(f"q{k}" for k in range(1, 7))


class Basdai(System):
    name = "basdai"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", BASDAI_ITEMS)
        return {"q": np.array([[V.real(data[k], k, 0.0, 10.0) for k in BASDAI_ITEMS]])}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        score, active = np.empty(n), np.empty(n, np.int8)
        _core.scores_basdai(n, b["q"], st, re, fi, score, active)
        return {"status": st, "reason": re, "field": fi, "score": score, "active": active}

    def result(self, out, i, ctx):
        return {"score": _f(out["score"][i]), "active": V.tri(out["active"][i])}

    def field(self, index, ctx):
        return BASDAI_ITEMS[index] if index >= 0 else ""


class Das28(System):
    name = "das28"
    FIELDS = ("tjc28", "sjc28", "apr", "patient_global_mm")

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("tjc28", "sjc28"), ("esr_mm_h", "crp_mg_l", "patient_global_mm"))
        has_esr, has_crp = "esr_mm_h" in data, "crp_mg_l" in data
        if has_esr and has_crp:
            raise V.Reject("ambiguous_input", "esr_mm_h")
        if not (has_esr or has_crp):
            raise V.Reject("missing_field", "esr_mm_h")
        four = "patient_global_mm" in data
        variant = (0 if has_esr else 2) + (0 if four else 1)
        key = "esr_mm_h" if has_esr else "crp_mg_l"
        tjc = V.grade(data["tjc28"], "tjc28", 0, 28)
        sjc = V.grade(data["sjc28"], "sjc28", 0, 28)
        apr = V.real(data[key], key, 0.0, lo_open=has_esr)
        gh = V.real(data["patient_global_mm"], "patient_global_mm", 0.0, 100.0) if four else math.nan
        tj = math.nan if tjc == V.NULL else float(tjc)
        sj = math.nan if sjc == V.NULL else float(sjc)
        return ({"v": np.array([variant], np.int8), "x": np.array([[tj, sj, apr, gh]])},
                {"variant": DAS28_VARIANTS[variant], "apr_key": key})

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        score, state = np.empty(n), np.empty(n, np.int8)
        x = b["x"]
        cols = [np.ascontiguousarray(x[:, k]) for k in range(4)]
        _core.scores_das28(n, b["v"], *cols, st, re, fi, score, state)
        return {"status": st, "reason": re, "field": fi, "score": score, "state": state}

    def result(self, out, i, ctx):
        return {"score": _f(out["score"][i]), "state": _state(out["state"][i], DAS28_STATES),
                "variant": ctx["variant"]}

    def field(self, index, ctx):
        if index < 0:
            return ""
        return ctx["apr_key"] if index == 2 else self.FIELDS[index]
