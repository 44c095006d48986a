"""Deep-learning radiomics (DLR) on multi-sequence SIJ MRI, combined with clinical factors.

The study (:class:`DLRStudy`):

1. one CNN per MRI sequence (default T1, STIR, ADC), each a ResNet-50,
   ResNet-101 or DenseNet-121 layout, trained on 2-D slices labelled with the
   patient's outcome; a patient's probability is the mean of its slices'
   probabilities;
2. under patient-level stratified K-fold cross-validation
   (:class:`sacroai.stats.StratifiedPatientKFold`; every fold checked with
   :func:`sacroai.stats.check_no_leakage`), each fold trains one CNN per
   sequence on its training patients only, giving out-of-fold (OOF)
   probabilities for every patient;
3. the stacked ensemble: a logistic meta-model on the logits of the OOF
   probabilities (:func:`sacroai.stats.stack_predictions`); its linear
   predictor is the *DLR score*;
4. the clinical model (logistic on the clinical factors) and the combined
   model (logistic on the DLR score plus the clinical factors,
   :func:`sacroai.stats.logistic_regression`) with its nomogram;
5. the report: each model's AUC with its DeLong interval, paired DeLong
   tests of the combined model against each single-sequence model,
   calibration (intercept, slope, Brier) and decision curves.  The meta-models'
   own OOF predictions come from refitting them within the same folds, so
   every reported figure is out-of-fold.

Input of a network (:func:`sequence_input`): the series reoriented to RSA,
resampled in-plane to 1.6 mm, normalized (T1/STIR: z-score over non-zero
voxels; ADC: fixed scale, value / 1000 in 10^-6 mm^2/s, since it is
quantitative), a 64 x 48 pixel (102 x 77 mm) crop around the centre of the
semicoronal plane (both joints on a centred scan) on the ``n_slices``
central slices.

Widths: the named layouts are kept (block counts, torchvision state_dict
keys), but at full width (ResNet ``base_width=64``, DenseNet growth 32) they
cannot be trained on a 2-core CPU in minutes; the study's ``width`` is the
ResNet ``base_width`` and the DenseNet ``growth_rate`` (stem 2 x width), and
the shipped demo weights use width 4 on 64 x 48 crops.

A *case* is a dict with ``"patient"`` (id), one :class:`sacroai.Volume` per
sequence name and the clinical values (and the outcome for training);
:func:`sacroai.phantoms.sij_mri_multiseq.generate_multiseq_case` makes them.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from ..volume import Volume

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "weights")
MODELS_FILE = "dlr_models.json"
BACKBONES = ("resnet50", "resnet101", "densenet121")
SEQUENCES = ("t1", "stir", "adc")
DEFAULT_BACKBONES = {"t1": "resnet50", "stir": "densenet121", "adc": "resnet101"}
DEFAULT_CLINICAL = ("age", "sex", "hla_b27", "crp_mg_l")
KNOWN_CLINICAL = ("age", "sex", "hla_b27", "crp_mg_l", "basdai", "symptom_months")
SPACING_MM = 1.6
CROP = (64, 48)
QUANTITATIVE = {"adc": 1000.0}   # sequences on an absolute scale: divided by this instead of z-scored


def weights_file(sequence: str) -> str:
    return f"dlr_{sequence}.safetensors"


# ---------------------------------------------------------------- networks
def build_backbone(name: str, width: int = 4, rng=0):
    """A 1-channel, 1-logit 2-D network of layout ``name`` at ``width``.

    ``resnet50``/``resnet101``: :class:`sacroai.nn.models.ResNet` with
    ``base_width=width``; ``densenet121``: :class:`sacroai.nn.models.DenseNet`
    with blocks (6, 12, 24, 16), ``growth_rate=width`` and
    ``num_init_features=2 * width``.  Full width is 64 (ResNet) / 32 (DenseNet).
    """
    from ..nn.models import DenseNet, resnet50, resnet101

    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer (64 is torchvision's ResNet), got {width!r}")
    if name == "resnet50":
        return resnet50(spatial_dims=2, in_channels=1, num_classes=1, base_width=int(width), rng=rng)
    if name == "resnet101":
        return resnet101(spatial_dims=2, in_channels=1, num_classes=1, base_width=int(width), rng=rng)
    if name == "densenet121":
        return DenseNet(growth_rate=int(width), block_config=(6, 12, 24, 16), num_init_features=2 * int(width),
                        num_classes=1, spatial_dims=2, in_channels=1, rng=rng)
    raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {name!r}")


def architecture(name: str, width: int) -> str:
    if name == "densenet121":
        return (f"DenseNet(growth_rate={width}, block_config=(6, 12, 24, 16), num_init_features={2 * width}, "
                f"in_channels=1, num_classes=1)  [DenseNet-121 layout, full width is growth 32]")
    return f"{name}(spatial_dims=2, in_channels=1, num_classes=1, base_width={width})  [full width is 64]"


# ---------------------------------------------------------------- input checks
def _fmt(names) -> str:
    return ", ".join(names) if names else "none"


def check_case(case, sequences=SEQUENCES, clinical=DEFAULT_CLINICAL, outcome: str | None = None,
               index: int = 0) -> str:
    """Raise a ValueError/TypeError naming what a case lacks; returns the case's id."""
    if not isinstance(case, dict):
        raise TypeError(f"cases[{index}] must be a dict of sequence name -> sacroai.Volume plus clinical values, "
                        f"got {type(case).__name__}")
    pid = str(case.get("patient", f"#{index}"))
    got = [s for s in case if isinstance(case[s], Volume)]
    for s in sequences:
        if s not in case or case[s] is None:
            raise ValueError(f"case {pid!r}: sequence {s!r} missing; the model needs {_fmt(sequences)} "
                             f"(got {_fmt(got)})")
        v = case[s]
        if not isinstance(v, Volume):
            raise TypeError(f"case {pid!r}: sequence {s!r} must be a sacroai.Volume, got {type(v).__name__}")
        if v.ndim != 3 or v.spatial_ndim != 3:
            raise ValueError(f"case {pid!r}: sequence {s!r} must be a 3-D semicoronal series, got shape {v.shape}")
        if v.shape[2] < 1:
            raise ValueError(f"case {pid!r}: sequence {s!r} has no slices")
    for c in clinical:
        if c not in case or case[c] is None:
            have = [k for k in KNOWN_CLINICAL if k in case and case[k] is not None]
            raise ValueError(f"case {pid!r}: clinical value {c!r} missing; the model needs {_fmt(clinical)} "
                             f"(got {_fmt(have)})")
        _clinical_value(c, case[c], pid)
    if outcome is not None:
        if outcome not in case or case[outcome] not in (0, 1, True, False):
            raise ValueError(f"case {pid!r}: outcome {outcome!r} must be 0 or 1 for training, "
                             f"got {case.get(outcome)!r}")
    return pid


def _clinical_value(name, value, pid="?") -> float:
    """The numeric predictor of a clinical value: sex M = 1 / F = 0, CRP as ln(1 + mg/L)."""
    if name == "sex":
        if value in ("M", "m", 1, True):
            return 1.0
        if value in ("F", "f", 0, False):
            return 0.0
        raise ValueError(f"case {pid!r}: clinical value 'sex' must be 'M'/'F' (or 1/0), got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"case {pid!r}: clinical value {name!r} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"case {pid!r}: clinical value {name!r} must be finite, got {value!r}")
    if name == "crp_mg_l":
        if x < 0:
            raise ValueError(f"case {pid!r}: clinical value 'crp_mg_l' must be >= 0 mg/L, got {value!r}")
        return math.log1p(x)
    return x


def clinical_names(clinical) -> list:
    return ["ln(1+crp_mg_l)" if c == "crp_mg_l" else ("sex_male" if c == "sex" else c) for c in clinical]


def clinical_matrix(cases, clinical) -> np.ndarray:
    """(n, q) predictors of the clinical factors (see :func:`_clinical_value`)."""
    return np.array([[_clinical_value(c, case[c], case.get("patient")) for c in clinical] for case in cases],
                    dtype=np.float64).reshape(len(cases), len(clinical))


# ---------------------------------------------------------------- preprocessing
def sequence_input(vol: Volume, sequence: str, n_slices: int = 4, crop=CROP, spacing_mm: float = SPACING_MM):
    """A series -> the network's slices, ``(n_slices, 1, crop[0], crop[1])`` float32.

    RSA reorientation, in-plane resampling to ``spacing_mm`` (the slice axis is
    never interpolated), normalization (z-score over non-zero voxels, or the
    fixed scale of :data:`QUANTITATIVE`), a centred crop (padding with the
    minimum) and the ``n_slices`` central slices.
    """
    from ..transforms import crop_or_pad, reorient, resample, zscore

    vol = reorient(vol, "RSA")
    nk = vol.shape[2]
    if nk < n_slices:
        raise ValueError(f"sequence {sequence!r} has {nk} slices; the model needs at least {n_slices}")
    if not np.any(np.asarray(vol.array)):
        raise ValueError(f"sequence {sequence!r} is all zeros; the model needs an image")
    res = resample(vol, spacing=(spacing_mm, spacing_mm, vol.spacing[2]), order=1, anisotropic=False)
    if sequence in QUANTITATIVE:
        arr = np.asarray(res.array, dtype=np.float32) / np.float32(QUANTITATIVE[sequence])
        res = res.with_array(arr)
    else:
        res = zscore(res, nonzero=True)
    out = crop_or_pad(res, (crop[0], crop[1], nk), cval=float(np.asarray(res.array).min()))
    k0 = (nk - n_slices) // 2
    arr = np.asarray(out.array, dtype=np.float32)[..., k0:k0 + n_slices]
    return np.ascontiguousarray(np.moveaxis(arr, 2, 0)[:, None])


def case_inputs(cases, sequences, n_slices, progress=False) -> dict:
    """sequence -> (n_patients, n_slices, 1, H, W) float32."""
    it = range(len(cases))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="preprocessing", unit="patient")
    per = {s: [] for s in sequences}
    for i in it:
        for s in sequences:
            per[s].append(sequence_input(cases[i][s], s, n_slices))
    return {s: np.stack(v) for s, v in per.items()}


# ---------------------------------------------------------------- one network
def _flip_lr(x, y, rng):
    """Augmentation: mirror left-right (the two joints swap) with probability 1/2 per sample."""
    flip = rng.random(len(x)) < 0.5
    if flip.any():
        x = x.copy()
        x[flip] = x[flip, :, ::-1, :]
    return x, y


def train_network(x, y, backbone: str, width: int, seed: int, epochs: int = 8, batch_size: int = 16,
                  lr: float = 2e-3, progress: bool = False):
    """Train one sequence's network on slices ``x`` (n, n_slices, 1, H, W) with patient labels ``y``."""
    from ..nn.losses import BCEWithLogitsLoss
    from ..nn.optim import Adam
    from ..train import fit

    n, ns = x.shape[:2]
    xs = np.ascontiguousarray(x.reshape((n * ns,) + x.shape[2:]))
    ys = np.repeat(np.asarray(y, dtype=np.float32), ns)[:, None]
    model = build_backbone(backbone, width, rng=seed)
    fit(model, BCEWithLogitsLoss(), Adam(model.parameters(), lr=lr), (xs, ys), epochs=epochs,
        batch_size=batch_size, seed=seed, progress=progress, augment=_flip_lr)
    model.eval()
    return model


def patient_probability(model, x) -> np.ndarray:
    """Mean slice probability per patient; ``x`` is (n, n_slices, 1, H, W)."""
    from ..nn.inference import predict

    n, ns = x.shape[:2]
    logits = predict(model, x.reshape((n * ns,) + x.shape[2:]), batch_size=64).reshape(n, ns)
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).mean(axis=1)


# ---------------------------------------------------------------- logistic models
def _logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_logistic(X, y, names) -> dict:
    """Unpenalised ML logistic fit (``sacroai.stats.logistic_regression``); under
    separation or a singular design, a ridge fit (lambda 1 on standardized
    predictors) transformed back to the raw scale, flagged ``"method"``."""
    from ..stats import SeparationError, logistic_regression
    from .sij_mri import ridge_logistic

    X = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y, dtype=np.int64)
    ranges = np.column_stack([X.min(axis=0), X.max(axis=0)])
    try:
        fit = logistic_regression(X, y, names=list(names))
        _check_not_separated(fit.coef, X)
        return {"names": list(names), "coef": [float(c) for c in fit.coef],
                "se": [float(s) for s in fit.se], "p_value": [float(p) for p in fit.p_value],
                "odds_ratio": [float(o) for o in fit.odds_ratio], "method": "maximum likelihood",
                "x_ranges": ranges.tolist(), "n": int(len(y))}
    except (SeparationError, ValueError, np.linalg.LinAlgError):
        mu, sd = X.mean(axis=0), X.std(axis=0)
        sd[sd == 0] = 1.0
        b = ridge_logistic((X - mu) / sd, y)
        coef = np.r_[b[0] - np.sum(b[1:] * mu / sd), b[1:] / sd]
        return {"names": list(names), "coef": coef.tolist(), "method": "ridge (lambda 1, standardized): "
                "separation or a singular design in an unpenalised fit", "x_ranges": ranges.tolist(),
                "n": int(len(y))}


MAX_FITTED_LOGIT = 15.0  # |linear predictor| beyond this on a training row: (quasi-)separation


def _check_not_separated(coef, X):
    """An ML fit whose fitted probabilities reach 0 or 1 (|logit| > 15) is treated as separated."""
    from ..stats import SeparationError

    coef = np.asarray(coef, dtype=np.float64)
    lp = coef[0] + np.asarray(X, dtype=np.float64) @ coef[1:]
    if not np.all(np.isfinite(lp)) or np.abs(lp).max() > MAX_FITTED_LOGIT:
        raise SeparationError("fitted probabilities of 0 or 1: (quasi-)separation")


def linear_predictor(model: dict, X) -> np.ndarray:
    b = np.asarray(model["coef"], dtype=np.float64)
    X = np.asarray(X, dtype=np.float64).reshape(-1, len(b) - 1)
    return b[0] + X @ b[1:]


def _expit(z):
    """Probabilities kept inside [1e-9, 1 - 1e-9]: a degenerate meta-model (e.g. on near-constant
    base predictions) extrapolates to logits whose exact 0/1 would break logit-scale statistics."""
    return np.clip(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))), 1e-9, 1 - 1e-9)


def fit_meta_models(oof: np.ndarray, clin: np.ndarray, y, sequences, clinical) -> dict:
    """Stacker (logistic on the logits of the OOF probabilities), clinical and combined models.

    The stacker is :func:`sacroai.stats.stack_predictions` (falling back to a
    ridge fit under separation); the combined model is a logistic model on
    the stacker's linear predictor (the DLR score) and the clinical factors.
    """
    from ..stats import SeparationError, stack_predictions

    names = [f"logit_p_{s}" for s in sequences]
    try:
        st = stack_predictions(np.clip(oof, 1e-6, 1 - 1e-6), y, names=names)
        F = _logit(oof)
        _check_not_separated(st.model.coef, F)
        stacker = {"names": names, "coef": [float(c) for c in st.model.coef],
                   "se": [float(s) for s in st.model.se], "p_value": [float(p) for p in st.model.p_value],
                   "method": "maximum likelihood (stack_predictions, logit link)",
                   "x_ranges": np.column_stack([F.min(0), F.max(0)]).tolist(), "n": int(len(y))}
    except (SeparationError, ValueError, np.linalg.LinAlgError):
        stacker = fit_logistic(_logit(oof), y, names)
    score = linear_predictor(stacker, _logit(oof))
    cn = clinical_names(clinical)
    return {"stacker": stacker,
            "clinical": fit_logistic(clin, y, cn),
            "combined": fit_logistic(np.column_stack([score, clin]), y, ["dlr_score"] + cn)}


def apply_meta_models(models: dict, seq_probs: np.ndarray, clin: np.ndarray) -> dict:
    """Probabilities of the ensemble, clinical and combined models (and the DLR score)."""
    score = linear_predictor(models["stacker"], _logit(seq_probs))
    return {"dlr_score": score, "ensemble": _expit(score),
            "clinical": _expit(linear_predictor(models["clinical"], clin)),
            "combined": _expit(linear_predictor(models["combined"], np.column_stack([score, clin])))}


def nomogram_of(model: dict):
    """The :class:`sacroai.stats.Nomogram` of a fitted combined model dict."""
    from ..stats import nomogram

    ns = SimpleNamespace(add_intercept=True, coef=np.asarray(model["coef"]), names=["(Intercept)"] + model["names"],
                         x_ranges=np.asarray(model["x_ranges"]))
    return nomogram(ns)


# ---------------------------------------------------------------- evaluation
DCA_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def evaluate_models(y, risks: dict, sequences, reference: str = "combined") -> dict:
    """AUC (DeLong CI) per model, paired DeLong tests ``reference`` vs each
    single-sequence model (and vs the ensemble and clinical models),
    calibration (intercept, slope), Brier score and the decision curve's net
    benefit at :data:`DCA_THRESHOLDS` (with treat-all and treat-none)."""
    from ..stats import brier_score, calibration_fit, decision_curve, delong_test, roc_auc

    y = np.asarray(y, dtype=np.int64)
    out = {"auc": {}, "delong": {}, "calibration": {}, "brier": {}}
    for name, p in risks.items():
        a = roc_auc(y, p, ci="delong")
        out["auc"][name] = {"estimate": float(a.estimate), "ci": [float(a.ci_low), float(a.ci_high)],
                            "method": a.method}
        out["brier"][name] = brier_score(y, p)
        try:
            cf = calibration_fit(y, np.clip(p, 1e-6, 1 - 1e-6))
            out["calibration"][name] = {"citl": float(cf.citl.estimate), "slope": float(cf.slope.estimate)}
        except ValueError as exc:  # e.g. separation in a tiny cohort
            out["calibration"][name] = {"error": str(exc)}
    for other in list(sequences) + ["ensemble", "clinical"]:
        if other in risks and other != reference:
            t = delong_test(y, risks[reference], risks[other])
            out["delong"][f"{reference} vs {other}"] = {"auc_difference": float(t.estimate), "z": float(t.statistic),
                                                        "p_value": float(t.p_value),
                                                        "ci": [float(t.ci_low), float(t.ci_high)]}
    dca = decision_curve(y, risks, thresholds=np.array(DCA_THRESHOLDS))
    out["decision_curve"] = {"thresholds": list(DCA_THRESHOLDS),
                             "net_benefit": {k: [float(v) for v in nb] for k, nb in dca.net_benefit.items()}}
    return out


@dataclass
class DLRCVResult:
    """Out-of-fold results of :meth:`DLRStudy.fit_cv` (arrays aligned with ``patients``)."""

    patients: list
    y: np.ndarray
    folds: np.ndarray                 # the test fold of each patient
    oof: dict                         # model name -> OOF probability (sequences, ensemble, clinical, combined)
    meta_models: dict                 # stacker, clinical, combined fitted on all OOF rows
    metrics: dict                     # evaluate_models on the OOF probabilities
    seconds: float = 0.0
    fold_sizes: list = field(default_factory=list)


class DLRStudy:
    """One CNN per sequence under patient-level CV, stacked, combined with clinical factors.

    Parameters
    ----------
    sequences : names of the series each case must hold (default t1, stir, adc).
    backbones : sequence -> "resnet50" | "resnet101" | "densenet121" (default
        :data:`DEFAULT_BACKBONES`; ``resnet50`` for other sequence names).
    width : ResNet ``base_width`` / DenseNet ``growth_rate`` (full: 64 / 32).
    clinical : clinical factors of the clinical and combined models.
    folds : K of the stratified patient-level K-fold.
    seed : seeds the folds, the networks' initial weights and batch order.
    epochs, batch_size, lr : training of each network (Adam, BCE on logits).
    n_slices : central slices per series fed to the networks.
    outcome : the case key holding the 0/1 outcome.
    """

    def __init__(self, sequences=SEQUENCES, backbones=None, width: int = 4, clinical=DEFAULT_CLINICAL,
                 folds: int = 5, seed: int = 0, epochs: int = 15, batch_size: int = 16, lr: float = 2e-3,
                 n_slices: int = 4, outcome: str = "axspa", progress: bool = False):
        self.sequences = tuple(sequences)
        if not self.sequences or len(set(self.sequences)) != len(self.sequences):
            raise ValueError(f"sequences must be distinct names, got {sequences!r}")
        backbones = dict(backbones or {})
        unknown = set(backbones) - set(self.sequences)
        if unknown:
            raise ValueError(f"backbones names sequences {sorted(unknown)} not in sequences {self.sequences}")
        self.backbones = {s: backbones.get(s, DEFAULT_BACKBONES.get(s, "resnet50")) for s in self.sequences}
        for s, b in self.backbones.items():
            if b not in BACKBONES:
                raise ValueError(f"backbones[{s!r}] must be one of {', '.join(BACKBONES)}, got {b!r}")
        build_backbone("resnet50", width)  # validates width
        self.width = int(width)
        self.clinical = tuple(clinical)
        bad = [c for c in self.clinical if c not in KNOWN_CLINICAL]
        if bad:
            raise ValueError(f"clinical factors must be among {', '.join(KNOWN_CLINICAL)}, got {bad}")
        if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
            raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
        self.folds, self.seed = int(folds), int(seed)
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), float(lr)
        self.n_slices, self.outcome, self.progress = int(n_slices), outcome, progress
        self.networks = {}
        self.meta_models = None
        self.cv_ = None
        self.info = {}   # the saved document when loaded by from_weights

    # ---------------------------------------------------------------- helpers
    def config(self) -> dict:
        return {"sequences": list(self.sequences), "backbones": self.backbones, "width": self.width,
                "clinical": list(self.clinical), "folds": self.folds, "seed": self.seed, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "n_slices": self.n_slices, "outcome": self.outcome,
                "crop": list(CROP), "spacing_mm": SPACING_MM}

    def check_cases(self, cases, training: bool = False) -> list:
        if not isinstance(cases, (list, tuple)) or not cases:
            raise ValueError("cases must be a non-empty list of dicts (sequence name -> sacroai.Volume plus "
                             f"clinical values); the model needs {_fmt(self.sequences)} and {_fmt(self.clinical)}")
        ids = [check_case(c, self.sequences, self.clinical, self.outcome if training else None, i)
               for i, c in enumerate(cases)]
        return ids

    def _seed(self, fold, j):
        return self.seed * 1000 + 10 * fold + j

    def _train_all(self, X, y, idx, fold):
        nets = {}
        for j, s in enumerate(self.sequences):
            nets[s] = train_network(X[s][idx], y[idx], self.backbones[s], self.width, self._seed(fold, j),
                                    self.epochs, self.batch_size, self.lr)
        return nets

    # ---------------------------------------------------------------- CV
    def fit_cv(self, cases) -> DLRCVResult:
        """Patient-level stratified K-fold CV: OOF probabilities of every model and the report."""
        from ..stats import StratifiedPatientKFold, check_no_leakage

        t0 = time.perf_counter()
        ids = self.check_cases(cases, training=True)
        y = np.array([int(c[self.outcome]) for c in cases], dtype=np.int64)
        counts = np.bincount(y, minlength=2)
        if counts.min() < self.folds:
            raise ValueError(f"cases: {self.folds}-fold stratified CV needs at least {self.folds} patients of each "
                             f"outcome, got {counts[1]} with and {counts[0]} without {self.outcome!r}")
        groups = np.array(ids)
        X = case_inputs(cases, self.sequences, self.n_slices, progress=self.progress)
        clin = clinical_matrix(cases, self.clinical)
        oof = np.full((len(y), len(self.sequences)), np.nan)
        fold_of = np.full(len(y), -1, dtype=np.int64)
        splits = list(StratifiedPatientKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
                      .split(None, y, groups))
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(splits) * len(self.sequences), desc="CV: CNN per sequence and fold", unit="net")
        for f, (tr, te) in enumerate(splits):
            check_no_leakage(tr, te, groups)
            for j, s in enumerate(self.sequences):
                net = train_network(X[s][tr], y[tr], self.backbones[s], self.width, self._seed(f, j),
                                    self.epochs, self.batch_size, self.lr)
                oof[te, j] = patient_probability(net, X[s][te])
                if bar is not None:
                    bar.update(1)
            fold_of[te] = f
        if bar is not None:
            bar.close()
        # meta-models' own OOF predictions: refit within the same folds on the OOF rows
        meta_oof = {k: np.full(len(y), np.nan) for k in ("ensemble", "clinical", "combined")}
        for f, (tr, te) in enumerate(splits):
            m = fit_meta_models(oof[tr], clin[tr], y[tr], self.sequences, self.clinical)
            pred = apply_meta_models(m, oof[te], clin[te])
            for k in meta_oof:
                meta_oof[k][te] = pred[k]
        self.meta_models = fit_meta_models(oof, clin, y, self.sequences, self.clinical)
        risks = {s: oof[:, j] for j, s in enumerate(self.sequences)}
        risks.update(meta_oof)
        metrics = evaluate_models(y, risks, self.sequences)
        self.cv_ = DLRCVResult(patients=ids, y=y, folds=fold_of, oof=risks, meta_models=self.meta_models,
                               metrics=metrics, seconds=time.perf_counter() - t0,
                               fold_sizes=[int(len(te)) for _, te in splits])
        return self.cv_

    def fit_final(self, cases) -> "DLRStudy":
        """Train each sequence's network on all ``cases``; the meta-models come from :meth:`fit_cv`
        (run first when it has not been)."""
        if self.cv_ is None or list(self.cv_.patients) != [str(c.get("patient")) for c in cases]:
            self.fit_cv(cases)
        y = np.array([int(c[self.outcome]) for c in cases], dtype=np.int64)
        X = case_inputs(cases, self.sequences, self.n_slices)
        it = self.sequences
        if self.progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc="final CNN per sequence", unit="net")
        for j, s in enumerate(it):
            self.networks[s] = train_network(X[s], y, self.backbones[s], self.width, self._seed(self.folds, j),
                                             self.epochs, self.batch_size, self.lr)
        return self

    # ---------------------------------------------------------------- inference
    def predict(self, cases) -> dict:
        """Probabilities for new patients: each sequence's network, the ensemble, clinical and
        combined models (arrays aligned with ``"patients"``) and the DLR score."""
        if not self.networks or self.meta_models is None:
            raise ValueError("the study has no trained networks: call fit_final(cases) or DLRStudy.from_weights()")
        ids = self.check_cases(cases)
        X = case_inputs(cases, self.sequences, self.n_slices, progress=self.progress)
        seq = np.column_stack([patient_probability(self.networks[s], X[s]) for s in self.sequences])
        out = {"patients": ids}
        out.update({s: seq[:, j] for j, s in enumerate(self.sequences)})
        out.update(apply_meta_models(self.meta_models, seq, clinical_matrix(cases, self.clinical)))
        return out

    def nomogram(self):
        """Nomogram of the combined model (DLR score + clinical factors)."""
        if self.meta_models is None:
            raise ValueError("no combined model yet: call fit_cv(cases) or DLRStudy.from_weights()")
        return nomogram_of(self.meta_models["combined"])

    # ---------------------------------------------------------------- weights
    def save(self, folder: str, card: dict | None = None, held_out: dict | None = None) -> dict:
        """Write each network (``dlr_<sequence>.safetensors`` + card) and ``dlr_models.json``."""
        from ..nn.weights import save_weights

        if not self.networks or self.meta_models is None:
            raise ValueError("nothing to save: call fit_final(cases) first")
        os.makedirs(folder, exist_ok=True)
        card = dict(card or {})
        for s in self.sequences:
            c = dict(card, architecture=architecture(self.backbones[s], self.width), sequence=s,
                     input=f"{s}: RSA, in-plane {SPACING_MM} mm, "
                           + (f"value / {QUANTITATIVE[s]:g}" if s in QUANTITATIVE else "z-score over non-zero voxels")
                           + f", centred {CROP[0]}x{CROP[1]} crop, {self.n_slices} central slices; "
                           "patient probability = mean slice sigmoid",
                     held_out_phantoms=held_out, created=None)
            save_weights(self.networks[s], os.path.join(folder, weights_file(s)), card=c)
        doc = {"config": self.config(), "meta_models": self.meta_models, "held_out_phantoms": held_out,
               "cv": None if self.cv_ is None else {"metrics": self.cv_.metrics, "n": len(self.cv_.y),
                                                      "fold_sizes": self.cv_.fold_sizes}}
        doc.update({k: v for k, v in card.items() if k not in doc})
        tmp = os.path.join(folder, MODELS_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(folder, MODELS_FILE))
        return doc

    @classmethod
    def from_weights(cls, folder: str | None = None, progress: bool = False) -> "DLRStudy":
        """Load networks and meta-models written by :meth:`save` (the shipped ``weights/`` by default)."""
        from ..nn.weights import load_weights

        folder = folder or WEIGHTS_DIR
        path = os.path.join(folder, MODELS_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"DLR models {MODELS_FILE} not found in {folder}; "
                                    f"train them with `python weights/train_dlr.py`")
        with open(path) as f:
            doc = json.load(f)
        cfg = doc["config"]
        study = cls(sequences=cfg["sequences"], backbones=cfg["backbones"], width=cfg["width"],
                    clinical=cfg["clinical"], folds=cfg["folds"], seed=cfg["seed"], epochs=cfg["epochs"],
                    batch_size=cfg["batch_size"], lr=cfg["lr"], n_slices=cfg["n_slices"], outcome=cfg["outcome"],
                    progress=progress)
        for s in study.sequences:
            wpath = os.path.join(folder, weights_file(s))
            if not os.path.exists(wpath):
                raise FileNotFoundError(f"DLR weights {weights_file(s)} for sequence {s!r} not found in {folder}")
            net = build_backbone(study.backbones[s], study.width, rng=0)
            load_weights(net, wpath)
            study.networks[s] = net.eval()
        study.meta_models = doc["meta_models"]
        study.info = doc
        return study
