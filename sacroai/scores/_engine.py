"""Run a score system over many rows: parse each row, pack, one core call per
option group, build each row's result dict (SCORES.md section 0.1)."""
import numpy as np

from ._validate import REASONS, STATUS, Reject


class System:
    """One score system.  Subclasses define parse/run/result/field."""

    name = ""

    def parse(self, data):
        """Check one JSON-like row; return (arrays, ctx).  Arrays have a
        leading axis of length 1 (one row)."""
        raise NotImplementedError

    def stack(self, parts):
        return {k: np.ascontiguousarray(np.concatenate([p[k] for p in parts])) for k in parts[0]}

    def group(self, ctx):
        """Rows sharing a group key are scored in one core call."""
        return None

    def run(self, batch, n, group):
        """Call the core; return a dict with status, reason, field and outputs."""
        raise NotImplementedError

    def result(self, out, i, ctx):
        raise NotImplementedError

    def field(self, index, ctx):
        return "" if index < 0 else f"[{index}]"


def error(reason, field="", row=None):
    res = {"status": "error", "reason": reason}
    if row is not None:
        res["row"] = row
        res["field"] = field
    return res


def run_rows(system, rows, with_row=False):
    """Score a list of JSON-like rows; one core call per option group."""
    results = [None] * len(rows)
    groups = {}
    for i, data in enumerate(rows):
        try:
            arrays, ctx = system.parse(data)
        except Reject as e:
            results[i] = error(e.reason, e.field, i if with_row else None)
            continue
        groups.setdefault(system.group(ctx), []).append((i, arrays, ctx))
    for key, members in groups.items():
        batch = system.stack([m[1] for m in members])
        out = system.run(batch, len(members), key)
        finish(system, out, members, results, with_row)
    return results


def finish(system, out, members, results, with_row):
    status, reason, field = out["status"], out["reason"], out["field"]
    for j, (i, _, ctx) in enumerate(members):
        if status[j] == 2:
            results[i] = error(REASONS[reason[j]], system.field(int(field[j]), ctx),
                               i if with_row else None)
        else:
            res = {"status": STATUS[status[j]]}
            res.update(system.result(out, j, ctx))
            results[i] = res
