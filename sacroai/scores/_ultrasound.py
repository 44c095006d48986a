"""EULAR-OMERACT ultrasound synovitis score (SCORES.md section 9)."""
import numpy as np

from .. import _core
from . import _validate as V
from ._engine import System


class UsSynovitis(System):
    """Input: {"joints": [{"joint": name, "gs": 0-3|null, "pd": 0-3|null}, ...]}."""

    name = "us_synovitis"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("joints",))
        joints = V.sequence(data["joints"], "joints")
        if not joints:
            raise V.Reject("empty_input", "joints")
        names, gs, pd = [], [], []
        for j, item in enumerate(joints):
            p = V.join("joints", j)
            V.mapping(item, p)
            V.keys(item, p, ("joint", "gs", "pd"))
            if not isinstance(item["joint"], str):
                raise V.Reject("malformed_input", V.join(p, "joint"))
            if item["joint"] in names:
                raise V.Reject("duplicate_joint", V.join(p, "joint"))
            names.append(item["joint"])
            g = V.grade(item["gs"], V.join(p, "gs"), 0, 3)
            d = V.grade(item["pd"], V.join(p, "pd"), 0, 3)
            if g == 0 and d > 0:
                raise V.Reject("pd_without_synovial_hypertrophy", V.join(p, "pd"))
            gs.append(g)
            pd.append(d)
        return {"gs": gs, "pd": pd}, {"joints": names}

    def stack(self, parts):
        ptr = np.cumsum([0] + [len(p["gs"]) for p in parts]).astype(np.int64)
        return {"ptr": ptr, "gs": np.array(sum((p["gs"] for p in parts), []), np.int8),
                "pd": np.array(sum((p["pd"] for p in parts), []), np.int8)}

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        comb = np.empty(len(b["gs"]), np.int8)
        out = np.empty((n, 5), np.int32)
        _core.scores_us_synovitis(n, b["ptr"], b["gs"], b["pd"], st, re, fi, comb, out)
        return {"status": st, "reason": re, "field": fi, "comb": comb, "out": out, "ptr": b["ptr"]}

    def result(self, out, i, ctx):
        a, b = out["ptr"][i], out["ptr"][i + 1]
        o = out["out"][i]
        return {"per_joint": [V.none_if(v) for v in out["comb"][a:b]], "joints": list(ctx["joints"]),
                "gs_sum": V.none_if(o[0]), "pd_sum": V.none_if(o[1]), "combined_sum": V.none_if(o[2]),
                "n_joints": int(o[3]), "max_possible": int(o[4])}

    def field(self, index, ctx):
        return f"joints[{index}]" if index >= 0 else "joints"
