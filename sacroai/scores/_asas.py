"""ASAS active sacroiliitis on MRI and ASAS axSpA classification (SCORES.md section 6)."""

import numpy as np

from .. import _core
from . import _validate as V
from ._engine import System

CRITERIA = (None, "multi_slice", "multi_lesion", "both")
INFLAMMATION = ("synovitis", "enthesitis", "capsulitis")


class AsasMriSij(System):
    name = "asas_mri_sij"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("lesions", "highly_suggestive"), ("other_inflammation",))
        lesions = V.sequence(data["lesions"], "lesions")
        sugg = V.boolean(data["highly_suggestive"], "highly_suggestive", null=False)
        if "other_inflammation" in data:
            oi = V.mapping(data["other_inflammation"], "other_inflammation")
            V.keys(oi, "other_inflammation", (), INFLAMMATION)
            for k, v in oi.items():
                V.boolean(v, V.join("other_inflammation", k))
        slices, typical = [], []
        for j, les in enumerate(lesions):
            p = V.join("lesions", j)
            V.mapping(les, p)
            V.keys(les, p, ("slices", "typical_location"))
            sl = V.sequence(les["slices"], V.join(p, "slices"))
            if not sl:
                raise V.Reject("malformed_input", V.join(p, "slices"))
            idx = []
            for k, v in enumerate(sl):
                g = V.grade(v, V.join(V.join(p, "slices"), k), 0, 2**31 - 1, null=False)
                if g in idx:
                    raise V.Reject("malformed_input", V.join(V.join(p, "slices"), k))
                idx.append(g)
            slices.append(idx)
            typical.append(V.boolean(les["typical_location"], V.join(p, "typical_location"), null=False))
        return {"slices": slices, "typical": typical, "sugg": sugg}, None

    def stack(self, parts):
        lesion_ptr, slice_ptr, idx, typ, sugg = [0], [0], [], [], []
        for p in parts:
            for s, t in zip(p["slices"], p["typical"]):
                idx += s
                slice_ptr.append(len(idx))
                typ.append(t)
            lesion_ptr.append(len(typ))
            sugg.append(p["sugg"])
        return {"lesion_ptr": np.array(lesion_ptr, np.int64), "slice_ptr": np.array(slice_ptr, np.int64),
                "idx": np.array(idx, np.int32), "typ": np.array(typ, np.int8), "sugg": np.array(sugg, np.int8)}

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        pos, crit = np.empty(n, np.int8), np.empty(n, np.int8)
        _core.scores_asas_mri_sij(n, b["lesion_ptr"], b["slice_ptr"], b["idx"], b["typ"], b["sugg"],
                                  st, re, fi, pos, crit)
        return {"status": st, "reason": re, "field": fi, "pos": pos, "crit": crit}

    def result(self, out, i, ctx):
        return {"positive": V.tri(out["pos"][i]), "criterion": CRITERIA[int(out["crit"][i])]}

    def field(self, index, ctx):
        return f"lesions[{index}]" if index >= 0 else ""


AXSPA_FEATURES = ("ibp", "arthritis", "enthesitis_heel", "uveitis", "dactylitis", "psoriasis", "ibd",
                  "nsaid_response", "family_history", "elevated_crp")
AXSPA_TOP = ("back_pain_months", "onset_age", "mri_sacroiliitis", "xray_sacroiliitis", "hla_b27",
             "features")
AXSPA_FIELDS = ("back_pain_months", "onset_age", "mri_sacroiliitis", "xray_sacroiliitis", "hla_b27") + tuple(
    "features." + f for f in AXSPA_FEATURES)


class AsasAxspa(System):
    """Input: back_pain_months, onset_age (years), mri_sacroiliitis (ASAS MRI
    positive), xray_sacroiliitis (mNY radiographic criterion), hla_b27 and
    features{10 keys}; booleans or null."""

    name = "asas_axspa"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", AXSPA_TOP)
        months = V.real(data["back_pain_months"], "back_pain_months", 0.0)
        age = V.real(data["onset_age"], "onset_age", 0.0, 150.0)
        flags = [V.boolean(data[k], k) for k in AXSPA_TOP[2:5]]
        feats = V.mapping(data["features"], "features")
        V.keys(feats, "features", AXSPA_FEATURES)
        flags += [V.boolean(feats[k], V.join("features", k)) for k in AXSPA_FEATURES]
        return {"m": np.array([months]), "a": np.array([age]), "f": np.array([flags], np.int8)}, None

    def run(self, b, n, group):
        st, re, fi = V.rows_out(n)
        out = np.empty((n, 5), np.int8)
        _core.scores_asas_axspa(n, b["m"], b["a"], b["f"], st, re, fi, out)
        return {"status": st, "reason": re, "field": fi, "out": out}

    def result(self, out, i, ctx):
        o = out["out"][i]
        sub = int(o[4])
        return {"entry_met": V.tri(o[0]), "imaging_arm": V.tri(o[1]), "clinical_arm": V.tri(o[2]),
                "classified": V.tri(o[3]), "subtype": None if sub < 0 else ("nr-axSpA", "r-axSpA")[sub]}

    def field(self, index, ctx):
        return AXSPA_FIELDS[index] if index >= 0 else ""
