"""SPARCC MRI scores: SIJ inflammation (section 1), spine (section 2) and
SIJ structural score (section 3) of SCORES.md."""
import numpy as np

from .. import _core
from . import _validate as V
from ._engine import System

SIJ_QUADRANTS = ("iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower")
SIDES = ("left", "right")

SPINE_LEVELS = (["C2-C3", "C3-C4", "C4-C5", "C5-C6", "C6-C7", "C7-T1"]
                + [f"T{k}-T{k + 1}" for k in range(1, 12)] + ["T12-L1"]
                + [f"L{k}-L{k + 1}" for k in range(1, 5)] + ["L5-S1"])
SPINE_QUADRANTS = ("upper_anterior", "upper_posterior", "lower_anterior", "lower_posterior")


def _unit(side, path, nq, na):
    """One joint-slice / DVU-slice unit -> (quadrants[nq], intense, deep)."""
    if side is None:
        return [V.NULL] * nq, V.NULL, V.NULL
    V.mapping(side, path)
    V.keys(side, path, ("quadrants", "intense", "deep"))
    qp = V.join(path, "quadrants")
    qs = V.sequence(side["quadrants"], qp, nq)
    q = [V.grade(v, V.join(qp, k), 0, 1, na=na) for k, v in enumerate(qs)]
    i = V.grade(side["intense"], V.join(path, "intense"), 0, 1)
    d = V.grade(side["deep"], V.join(path, "deep"), 0, 1)
    # bonus without lesion (unknown quadrants cannot decide)
    if (i == 1 or d == 1) and 1 not in q and V.NULL not in q:
        raise V.Reject("bonus_without_lesion", V.join(path, "intense" if i == 1 else "deep"))
    return q, i, d


class SparccSij(System):
    name = "sparcc_sij"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("slices",))
        slices = V.sequence(data["slices"], "slices")
        if len(slices) != 6:
            raise V.Reject("wrong_slice_count", "slices")
        quad = np.empty((1, 6, 2, 4), np.int8)
        intense = np.empty((1, 6, 2), np.int8)
        deep = np.empty((1, 6, 2), np.int8)
        for s, sl in enumerate(slices):
            p = V.join("slices", s)
            V.mapping(sl, p)
            V.keys(sl, p, SIDES)
            for k, side in enumerate(SIDES):
                q, i, d = _unit(sl[side], V.join(p, side), 4, True)
                quad[0, s, k], intense[0, s, k], deep[0, s, k] = q, i, d
        return {"quad": quad, "intense": intense, "deep": deep}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        out = np.empty((n, 13), np.int32)
        _core.scores_sparcc_sij(n, b["quad"], b["intense"], b["deep"], st, re, fi, out)
        return {"status": st, "reason": re, "field": fi, "out": out}

    def result(self, out, i, ctx):
        o = [V.none_if(v) for v in out["out"][i]]
        res = dict(zip(("total", "left", "right", "quadrant_sum", "intensity_sum", "depth_sum"), o[:6]))
        res["per_slice"] = o[7:13]
        if out["status"][i] == 1:
            res["partial_total"] = o[6]
        return res

    def field(self, index, ctx):
        if index < 0:
            return ""
        if index < 48:
            s, side, q = index // 8, (index // 4) % 2, index % 4
            return f"slices[{s}].{SIDES[side]}.quadrants[{q}]"
        name = "intense" if index < 60 else "deep"
        k = (index - 48) % 12
        return f"slices[{k // 2}].{SIDES[k % 2]}.{name}"


class SparccSpine(System):
    name = "sparcc_spine"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("dvus",))
        dvus = V.sequence(data["dvus"], "dvus")
        quad = np.zeros((1, 23, 3, 4), np.int8)
        intense = np.zeros((1, 23, 3), np.int8)
        deep = np.zeros((1, 23, 3), np.int8)
        present = np.zeros((1, 23), np.int8)
        for j, dvu in enumerate(dvus):
            p = V.join("dvus", j)
            V.mapping(dvu, p)
            V.keys(dvu, p, ("level", "slices"))
            level = dvu["level"]
            if not isinstance(level, str):
                raise V.Reject("malformed_input", V.join(p, "level"))
            if level not in SPINE_LEVELS:
                raise V.Reject("unknown_level", V.join(p, "level"))
            li = SPINE_LEVELS.index(level)
            if present[0, li]:
                raise V.Reject("duplicate_level", V.join(p, "level"))
            present[0, li] = 1
            slices = V.sequence(dvu["slices"], V.join(p, "slices"))
            if len(slices) != 3:
                raise V.Reject("wrong_slice_count", V.join(p, "slices"))
            for s, sl in enumerate(slices):
                sp = V.join(V.join(p, "slices"), s)
                if sl is None:
                    raise V.Reject("malformed_input", sp)
                q, i, d = _unit(sl, sp, 4, False)
                quad[0, li, s], intense[0, li, s], deep[0, li, s] = q, i, d
        return {"quad": quad, "intense": intense, "deep": deep, "present": present}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        score = np.empty((n, 23), np.int32)
        total = np.empty(n, np.int32)
        total_all = np.empty(n, np.int32)
        sel = np.empty((n, 6), np.int32)
        _core.scores_sparcc_spine(n, b["quad"], b["intense"], b["deep"], b["present"], st, re, fi,
                                  score, total, total_all, sel)
        return {"status": st, "reason": re, "field": fi, "score": score, "total": total,
                "total_all": total_all, "selected": sel, "present": b["present"]}

    def result(self, out, i, ctx):
        present = out["present"][i]
        scores = {SPINE_LEVELS[l]: V.none_if(out["score"][i, l]) for l in range(23) if present[l]}
        incomplete = out["status"][i] == 1
        sel = [SPINE_LEVELS[l] for l in out["selected"][i] if l >= 0]
        return {"total": V.none_if(out["total"][i]), "total_all_dvus": V.none_if(out["total_all"][i]),
                "selected_levels": None if incomplete else sel, "dvu_scores": scores}

    def field(self, index, ctx):
        if index < 0:
            return ""
        level, rest = divmod(index, 18)
        s, k = divmod(rest, 6)
        name = f"quadrants[{k}]" if k < 4 else ("intense" if k == 4 else "deep")
        return f"dvus[{SPINE_LEVELS[level]}].slices[{s}].{name}"


SSS_QUAD = ("fat", "erosion")
SSS_HALF = ("backfill", "ankylosis")
SSS_COMP = ("fat", "erosion", "backfill", "ankylosis", "sum_all")


class SparccSss(System):
    name = "sparcc_sss"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("slices",))
        slices = V.sequence(data["slices"], "slices")
        if len(slices) != 5:
            raise V.Reject("wrong_slice_count", "slices")
        quad = np.empty((1, 5, 2, 2, 4), np.int8)
        halves = np.empty((1, 5, 2, 2, 2), np.int8)
        for s, sl in enumerate(slices):
            p = V.join("slices", s)
            V.mapping(sl, p)
            V.keys(sl, p, SIDES)
            for k, sname in enumerate(SIDES):
                side, sp = sl[sname], V.join(p, sname)
                if side is None:
                    quad[0, s, k] = V.NULL
                    halves[0, s, k] = V.NULL
                    continue
                V.mapping(side, sp)
                V.keys(side, sp, SSS_QUAD + SSS_HALF)
                for les, key in enumerate(SSS_QUAD):
                    vals = V.sequence(side[key], V.join(sp, key), 4)
                    quad[0, s, k, les] = [V.grade(v, V.join(V.join(sp, key), j), 0, 1)
                                          for j, v in enumerate(vals)]
                for les, key in enumerate(SSS_HALF):
                    vals = V.sequence(side[key], V.join(sp, key), 2)
                    halves[0, s, k, les] = [V.grade(v, V.join(V.join(sp, key), j), 0, 1)
                                            for j, v in enumerate(vals)]
        return {"quad": quad, "halves": halves}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        out = np.empty((n, 15), np.int32)
        _core.scores_sparcc_sss(n, b["quad"], b["halves"], st, re, fi, out)
        return {"status": st, "reason": re, "field": fi, "out": out}

    def result(self, out, i, ctx):
        o = [V.none_if(v) for v in out["out"][i]]
        res = dict(zip(SSS_COMP, o[:5]))
        res["by_side"] = {"left": dict(zip(SSS_COMP, o[5:10])), "right": dict(zip(SSS_COMP, o[10:15]))}
        return res

    def field(self, index, ctx):
        if index < 0:
            return ""
        if index < 80:
            s, rest = divmod(index, 16)
            side, rest = divmod(rest, 8)
            les, q = divmod(rest, 4)
            return f"slices[{s}].{SIDES[side]}.{SSS_QUAD[les]}[{q}]"
        s, rest = divmod(index - 80, 8)
        side, rest = divmod(rest, 4)
        les, h = divmod(rest, 2)
        return f"slices[{s}].{SIDES[side]}.{SSS_HALF[les]}[{h}]"
