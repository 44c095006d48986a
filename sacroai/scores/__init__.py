"""Clinical scores for rheumatology imaging research (rules: SCORES.md).

``evaluate(system, data)`` implements the call contract of SCORES.md section 0:
a JSON-like dict in, a dict out with ``status`` ``"ok"``, ``"incomplete"`` or
``"error"`` (then ``{"status": "error", "reason": <code>}`` only).  The
arithmetic runs in the C core (``csrc/scores/``), which scores a whole table
of rows in one call; :func:`score_table` exposes that for cohort tables.

Typed helpers (:func:`sparcc_sij`, :func:`asdas_crp`, ...) take the same
fields as keyword arguments.  Image-derived scores live in
:mod:`sacroai.scores.from_maps`.
"""
from . import _validate
from ._activity import Asdas, AsdasChange, Basdai, Das28
from ._asas import AsasAxspa, AsasMriSij
from ._engine import run_rows
from ._radiographic import Kl, Mny, Msasss, OarsiHip, Svdh
from ._seg import SegMetrics
from ._sparcc import SPINE_LEVELS, SparccSij, SparccSpine, SparccSss
from ._table import COLUMNS, score_columns
from ._ultrasound import UsSynovitis

SYSTEMS = {s.name: s for s in (
    SparccSij(), SparccSpine(), SparccSss(), Msasss(), Mny(), AsasMriSij(), AsasAxspa(), Kl(),
    OarsiHip(), Svdh(), UsSynovitis(), Asdas(0), Asdas(1), AsdasChange(), Basdai(), Das28(),
    SegMetrics())}
REASONS = tuple(r for r in _validate.REASONS if r)

__all__ = ["evaluate", "score_table", "SYSTEMS", "REASONS", "SPINE_LEVELS", "COLUMNS",
           "sparcc_sij", "sparcc_spine", "sparcc_sss", "msasss", "mny", "asas_mri_sij",
           "asas_axspa", "kl", "oarsi_hip", "svdh", "us_synovitis", "asdas_crp", "asdas_esr",
           "asdas_change", "basdai", "das28", "seg_metrics",
           "sparcc_sij_from_maps", "sparcc_spine_from_maps", "quadrants_from_joint_masks",
           "asas_mri_positive_from_maps"]


def _system(system):
    if not isinstance(system, str):
        raise TypeError(f"system must be a str, not {type(system).__name__}")
    try:
        return SYSTEMS[system]
    except KeyError:
        raise ValueError(f"system must be one of {sorted(SYSTEMS)}, got {system!r}") from None


def evaluate(system, data):
    """Score one JSON-like record of ``system`` (a name from SCORES.md 0.3).

    Returns a dict with ``status`` and the system's outputs; contract errors
    (SCORES.md 0.1) are returned as ``{"status": "error", "reason": code}``,
    never raised.  An unknown ``system`` name raises ValueError."""
    return run_rows(_system(system), [data])[0]


def score_table(system, table):
    """Score a cohort table in one core call.

    ``table`` is either
    * a list of JSON-like dicts (any system): returns a list of result dicts;
      an error row is ``{"status": "error", "reason", "row", "field"}``;
    * a pandas DataFrame or a dict of equal-length 1-D arrays (systems in
      ``COLUMNS``; column names listed there, NaN/None = null): returns a dict of
      NumPy columns ``row, status, reason, field`` plus the outputs (a
      DataFrame when a DataFrame was given).  Null integer outputs are NaN.
    A bad row never drops the other rows."""
    sysobj = _system(system)
    if isinstance(table, (list, tuple)):
        return run_rows(sysobj, list(table), with_row=True)
    is_frame = type(table).__name__ == "DataFrame" and hasattr(table, "columns")
    if not (is_frame or isinstance(table, dict)):
        raise TypeError("table must be a list of dicts, a dict of arrays or a pandas DataFrame, "
                        f"not {type(table).__name__}")
    res = score_columns(system, table)
    if is_frame:
        import pandas as pd  # optional dependency, imported only when a DataFrame is given
        return pd.DataFrame(res, index=table.index)
    return res


def _kw(system, doc):
    def f(**fields):
        return evaluate(system, fields)
    f.__name__ = system
    f.__doc__ = doc
    return f


sparcc_sij = _kw("sparcc_sij", """SPARCC MRI SIJ inflammation score, 0-72 (SCORES.md 1).

    Source: Maksymowych WP et al., Arthritis Rheum 2005;53:703-709.
    ``slices``: six dicts (posterior -> anterior) ``{"left": side, "right": side}``,
    side = ``{"quadrants": [iliac_upper, iliac_lower, sacral_upper, sacral_lower],
    "intense": 0/1, "deep": 0/1}`` or None; quadrant values 0/1/None/"na".
    Returns total, left, right, quadrant_sum, intensity_sum, depth_sum, per_slice
    (+ partial_total when incomplete).""")
sparcc_spine = _kw("sparcc_spine", """SPARCC MRI spine inflammation score, 0-108 (SCORES.md 2).

    Source: Maksymowych WP et al., Arthritis Rheum 2005;53:502-509.
    ``dvus``: list of ``{"level": "T10-T11", "slices": [3 x {"quadrants": [ua, up, la, lp],
    "intense", "deep"}]}``.  Returns total (six highest DVUs), total_all_dvus,
    selected_levels (ties cranial first), dvu_scores.""")
sparcc_sss = _kw("sparcc_sss", """SPARCC SIJ structural score (SCORES.md 3).

    Source: Maksymowych WP et al., J Rheumatol 2015;42:79-86.  ``slices``: five
    ``{"left": {"fat": [4], "erosion": [4], "backfill": [2], "ankylosis": [2]}, "right": ...}``.
    Returns fat (0-40), erosion (0-40), backfill (0-20), ankylosis (0-20), sum_all, by_side.""")
msasss = _kw("msasss", """modified Stoke AS Spine Score, 0-72 (SCORES.md 4).

    Source: Creemers MCW et al., Ann Rheum Dis 2005;64:127-129.  24 corner keys
    (C2_lower ... T1_upper, T12_lower ... S1_upper), grades 0-3 or None; ``impute``
    "none" (default) or "segment_mean" (1-3 missing corners per segment).""")
mny = _kw("mny", """Modified New York radiographic criterion and 3-class grades (SCORES.md 5).

    Source: van der Linden S et al., Arthritis Rheum 1984;27:361-368.  ``left``,
    ``right``: grades 0-4 or None; optional ``clinical`` {inflammatory_lbp,
    lumbar_motion_limited, chest_expansion_limited}.""")
asas_mri_sij = _kw("asas_mri_sij", """ASAS active sacroiliitis on MRI, 2009 operational rule (SCORES.md 6.1).

    Source: Rudwaleit M et al., Ann Rheum Dis 2009;68:1520-1527; Lambert RGW et
    al., Ann Rheum Dis 2016;75:1958-1963.  ``lesions``: [{"slices": [int], "typical_location": bool}],
    ``highly_suggestive``: bool, optional ``other_inflammation``.""")
asas_axspa = _kw("asas_axspa", """ASAS classification criteria for axial SpA (SCORES.md 6.2).

    Source: Rudwaleit M et al., Ann Rheum Dis 2009;68:777-783.  Keys:
    back_pain_months, onset_age (years), mri_sacroiliitis, xray_sacroiliitis,
    hla_b27 (bool/None) and ``features`` with the ten SpA feature keys.""")
kl = _kw("kl", """Kellgren-Lawrence grade (SCORES.md 7.1).  Source: Kellgren JH, Lawrence JS,
    Ann Rheum Dis 1957;16:494-502.  ``grade`` 0-4 -> radiographic_oa (>= 2), label.""")
oarsi_hip = _kw("oarsi_hip", """OARSI hip features and the Croft grade (SCORES.md 7.2-7.3).

    Sources: Altman RD, Gold GE, Osteoarthritis Cartilage 2007;15 Suppl A;
    Croft P et al., Am J Epidemiol 1990;132:514-522.""")
svdh = _kw("svdh", """Modified Sharp / van der Heijde score, 0-448 (SCORES.md 8).

    Source: van der Heijde D, J Rheumatol 2000;27:261-263.  ``hands`` and ``feet``,
    each ``{"left": {"erosion": {joint: grade}, "jsn": {joint: grade}}, "right": ...}``.""")
us_synovitis = _kw("us_synovitis", """EULAR-OMERACT ultrasound synovitis score (SCORES.md 9).

    Source: D'Agostino MA et al., RMD Open 2017;3:e000428.  ``joints``:
    [{"joint": name, "gs": 0-3, "pd": 0-3}]; combined = max(GS, PD) when GS >= 1.""")
asdas_crp = _kw("asdas_crp", """ASDAS-CRP (SCORES.md 10.1).  Source: Lukas C et al., Ann Rheum Dis
    2009;68:18-24; states Machado P et al., Ann Rheum Dis 2011/2018.  Items 0-10,
    crp_mg_l in mg/L (floored at 2); coefficients "published" (default) or "rounded".""")
asdas_esr = _kw("asdas_esr", """ASDAS-ESR (SCORES.md 10.2).  Source: Lukas C et al., Ann Rheum Dis
    2009;68:18-24.  Items 0-10, esr_mm_h in mm/h.""")
asdas_change = _kw("asdas_change", """ASDAS improvement categories (SCORES.md 10.3).  Source: Machado P
    et al., Ann Rheum Dis 2011;70:47-53.  delta = baseline - followup; >= 1.1 important,
    >= 2.0 major.""")
basdai = _kw("basdai", """BASDAI, 0-10 (SCORES.md 10.4).  Source: Garrett S et al., J Rheumatol
    1994;21:2286-2291.  q1..q6 in 0-10; active = BASDAI >= 4.""")
das28 = _kw("das28", """DAS28 ESR/CRP, 4- or 3-variable (SCORES.md 10.5).  Source: Prevoo MLL et
    al., Arthritis Rheum 1995;38:44-48.  tjc28, sjc28, one of esr_mm_h / crp_mg_l,
    optional patient_global_mm (0-100).""")
seg_metrics = _kw("seg_metrics", """Segmentation metrics (SCORES.md 11): Dice, Jaccard, RVD, HD, HD95,
    ASSD with the spec's empty-mask rules.  ``pred``, ``ref``: 1-3-D 0/1 masks;
    ``spacing`` (mm per axis, optional); ``connectivity`` 1..ndim (default 1).""")


def __getattr__(name):
    # image-derived scores import lazily (they pull in more of sacroai)
    if name in ("sparcc_sij_from_maps", "sparcc_spine_from_maps", "quadrants_from_joint_masks",
                "asas_mri_positive_from_maps"):
        from . import from_maps
        return getattr(from_maps, name)
    raise AttributeError(f"module 'sacroai.scores' has no attribute {name!r}")
