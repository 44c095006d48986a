"""Radiographic scores: mSASSS (section 4), modified New York (section 5),
Kellgren-Lawrence and OARSI hip / Croft (section 7), modified Sharp / van der
Heijde (section 8) of SCORES.md."""
import math

import numpy as np

from .. import _core
from . import _validate as V
from ._engine import System

MSASSS_CERVICAL = ("C2_lower", "C3_upper", "C3_lower", "C4_upper", "C4_lower", "C5_upper",
                   "C5_lower", "C6_upper", "C6_lower", "C7_upper", "C7_lower", "T1_upper")
MSASSS_LUMBAR = ("T12_lower", "L1_upper", "L1_lower", "L2_upper", "L2_lower", "L3_upper",
                 "L3_lower", "L4_upper", "L4_lower", "L5_upper", "L5_lower", "S1_upper")
MSASSS_SITES = MSASSS_CERVICAL + MSASSS_LUMBAR


def _num(v):
    v = float(v)
    if math.isnan(v):
        return None
    return int(v) if v == int(v) else v


class Msasss(System):
    name = "msasss"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", MSASSS_SITES, ("impute",))
        impute = V.option(data.get("impute", "none"), "impute", ("none", "segment_mean"))
        x = np.array([[V.grade(data[k], k, 0, 3) for k in MSASSS_SITES]], np.int8)
        return {"x": x}, {"impute": impute}

    def group(self, ctx):
        return ctx["impute"]

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        out, nimp, unp = np.empty((n, 3)), np.empty(n, np.int32), np.empty(n, np.int32)
        _core.scores_msasss(n, b["x"], int(group == "segment_mean"), st, re, fi, out, nimp, unp)
        return {"status": st, "reason": re, "field": fi, "out": out, "nimp": nimp, "unp": unp}

    def result(self, out, i, ctx):
        o = out["out"][i]
        mask = int(out["unp"][i])
        warnings = [f"unpaired_bridge:{MSASSS_SITES[2 * p]}/{MSASSS_SITES[2 * p + 1]}"
                    for p in range(12) if mask >> p & 1]
        return {"cervical": _num(o[0]), "lumbar": _num(o[1]), "total": _num(o[2]),
                "n_imputed": int(out["nimp"][i]), "impute": ctx["impute"], "warnings": warnings}

    def field(self, index, ctx):
        return MSASSS_SITES[index] if index >= 0 else ""


MNY_CLINICAL = ("inflammatory_lbp", "lumbar_motion_limited", "chest_expansion_limited")
AS_STATUS = ("not_met", "probable", "definite")


class Mny(System):
    name = "mny"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("left", "right"), ("clinical",))
        g = np.array([[V.grade(data[k], k, 0, 4) for k in ("left", "right")]], np.int8)
        c = np.full((1, 3), V.NULL, np.int8)
        has = "clinical" in data
        if has:
            cl = V.mapping(data["clinical"], "clinical")
            V.keys(cl, "clinical", MNY_CLINICAL)
            c[0] = [V.boolean(cl[k], V.join("clinical", k)) for k in MNY_CLINICAL]
        return {"g": g, "c": c, "h": np.array([has], np.int8)}, {"clinical": has}

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        crit, c3, ast = np.empty(n, np.int8), np.empty((n, 2), np.int8), np.empty(n, np.int8)
        _core.scores_mny(n, b["g"], b["c"], b["h"], st, re, fi, crit, c3, ast)
        return {"status": st, "reason": re, "field": fi, "crit": crit, "c3": c3, "as": ast}

    def result(self, out, i, ctx):
        res = {"radiographic_criterion": V.tri(out["crit"][i]),
               "class3_left": V.none_if(out["c3"][i, 0]), "class3_right": V.none_if(out["c3"][i, 1])}
        if ctx["clinical"]:
            a = int(out["as"][i])
            res["as_status"] = None if a < 0 else AS_STATUS[a]
        return res

    def field(self, index, ctx):
        if index < 0:
            return ""
        return ("left", "right")[index] if index < 2 else "clinical." + MNY_CLINICAL[index - 2]


KL_LABELS = ("none", "doubtful", "minimal", "moderate", "severe")


class Kl(System):
    name = "kl"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("grade",))
        g = V.grade(data["grade"], "grade", 0, 4, null=False)
        return {"g": np.array([g], np.int8)}, {"grade": g}

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        oa = np.empty(n, np.int8)
        _core.scores_kl(n, b["g"], st, re, fi, oa)
        return {"status": st, "reason": re, "field": fi, "oa": oa, "g": b["g"]}

    def result(self, out, i, ctx):
        return {"radiographic_oa": V.tri(out["oa"][i]), "label": KL_LABELS[int(out["g"][i])]}

    def field(self, index, ctx):
        return "grade"


OARSI_GRADED = (("fos_superior", 3), ("fos_inferior", 3), ("aos_superior", 3), ("aos_inferior", 1),
                ("jsn_superior", 3), ("jsn_medial", 3))
OARSI_FLAGS = ("sclerosis", "cysts", "femoral_head_deformity")
OARSI_KEYS = tuple(k for k, _ in OARSI_GRADED) + OARSI_FLAGS


class OarsiHip(System):
    name = "oarsi_hip"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", OARSI_KEYS)
        x = [V.grade(data[k], k, 0, hi, null=False) for k, hi in OARSI_GRADED]
        x += [V.boolean(data[k], k, null=False) for k in OARSI_FLAGS]
        return {"x": np.array([x], np.int8)}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        out, warn = np.empty((n, 4), np.int8), np.empty(n, np.int8)
        _core.scores_oarsi_hip(n, b["x"], st, re, fi, out, warn)
        return {"status": st, "reason": re, "field": fi, "out": out, "warn": warn}

    def result(self, out, i, ctx):
        o = out["out"][i]
        w = int(out["warn"][i])
        warnings = [name for bit, name in ((1, "croft_undefined_combination"), (2, "deformity_ignored"))
                    if w & bit]
        return {"osteophyte_sum": int(o[0]), "jsn_sum": int(o[1]), "croft_grade": V.none_if(o[2]),
                "rhoa_croft": V.tri(o[3]), "warnings": warnings}

    def field(self, index, ctx):
        return OARSI_KEYS[index] if index >= 0 else ""


HAND_EROSION = ("pip2", "pip3", "pip4", "pip5", "ip1", "mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "cmc1",
                "trapezium_trapezoid", "scaphoid", "lunate", "radius", "ulna")
HAND_JSN = ("pip2", "pip3", "pip4", "pip5", "mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "cmc3", "cmc4",
            "cmc5", "trapezium_scaphoid", "capitate_scaphoid_lunate", "radiocarpal")
FOOT = ("mtp1", "mtp2", "mtp3", "mtp4", "mtp5", "ip1")
# (part, score, joint keys, max grade) in the core's row order
SVDH_BLOCKS = (("hands", "erosion", HAND_EROSION, 5), ("hands", "jsn", HAND_JSN, 4),
               ("feet", "erosion", FOOT, 10), ("feet", "jsn", FOOT, 4))
SVDH_OUT = ("erosion_hands", "erosion_feet", "erosion_total", "jsn_hands", "jsn_feet", "jsn_total",
            "hands_total", "feet_total", "total")


def _svdh_fields():
    names = []
    for part, score, joints, _ in SVDH_BLOCKS:
        for side in ("left", "right"):
            names += [f"{part}.{side}.{score}.{j}" for j in joints]
    return tuple(names)


SVDH_FIELDS = _svdh_fields()


class Svdh(System):
    """Input: {"hands": {"left": {"erosion": {...}, "jsn": {...}}, "right": ...},
    "feet": {"left": {"erosion": {...}, "jsn": {...}}, "right": ...}}."""

    name = "svdh"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("hands", "feet"))
        x = []
        for part, score, joints, hi in SVDH_BLOCKS:
            pd = V.mapping(data[part], part)
            V.keys(pd, part, ("left", "right"))
            for side in ("left", "right"):
                p = V.join(part, side)
                sd = V.mapping(pd[side], p)
                V.keys(sd, p, ("erosion", "jsn"))
                p = V.join(p, score)
                jd = V.mapping(sd[score], p)
                V.keys(jd, p, joints)
                x += [V.grade(jd[j], V.join(p, j), 0, hi) for j in joints]
        return {"x": np.array([x], np.int8)}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        out = np.empty((n, 9), np.int32)
        _core.scores_svdh(n, b["x"], st, re, fi, out)
        return {"status": st, "reason": re, "field": fi, "out": out}

    def result(self, out, i, ctx):
        return {k: V.none_if(v) for k, v in zip(SVDH_OUT, out["out"][i])}

    def field(self, index, ctx):
        return SVDH_FIELDS[index] if index >= 0 else ""
