"""Plain-Python reference scorers (slow, obviously correct) for SPARCC SIJ and
ASDAS, written directly from SCORES.md sections 1 and 10.  Used as twins in
tests and as the peer in benchmarks/bench_scores.py."""
import math


def sparcc_sij_ref(slices):
    """slices: 6 x {"left": side|None, "right": side|None}; returns
    (total, left, right) with None for unknown.  Inputs assumed valid."""
    side_tot = {"left": 0, "right": 0}
    side_null = {"left": False, "right": False}
    for sl in slices:
        for name in ("left", "right"):
            side = sl[name]
            if side is None:
                side_null[name] = True
                continue
            vals = list(side["quadrants"]) + [side["intense"], side["deep"]]
            if any(v is None for v in vals):
                side_null[name] = True
                continue
            side_tot[name] += sum(1 for v in side["quadrants"] if v == 1) + side["intense"] + side["deep"]
    left = None if side_null["left"] else side_tot["left"]
    right = None if side_null["right"] else side_tot["right"]
    total = None if left is None or right is None else left + right
    return total, left, right


ASDAS_COEF = {("crp", "published"): (0.121, 0.058, 0.110, 0.073, 0.579),
              ("crp", "rounded"): (0.12, 0.06, 0.11, 0.07, 0.58),
              ("esr", "published"): (0.079, 0.069, 0.113, 0.086, 0.293),
              ("esr", "rounded"): (0.08, 0.07, 0.11, 0.09, 0.29)}


def asdas_ref(bp, dur, pg, pp, apr, kind="crp", coefficients="published"):
    """ASDAS value and state (None when any input is None)."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (bp, dur, pg, pp, apr)):
        return None, None
    c = ASDAS_COEF[(kind, coefficients)]
    term = math.log(max(apr, 2.0) + 1.0) if kind == "crp" else math.sqrt(apr)
    s = c[0] * bp + c[1] * dur + c[2] * pg + c[3] * pp + c[4] * term
    state = "inactive" if s < 1.3 else "low" if s < 2.1 else "high" if s <= 3.5 else "very_high"
    return s, state
