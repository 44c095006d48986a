"""DLR study: multi-sequence phantoms, patient-level CV without leakage, stacking and the
combined model against statsmodels, input messages, the ResNet width option against a
PyTorch twin, reproducible weights, the shipped weights on held-out phantoms, the demo."""
import hashlib
import json
import os

import numpy as np
import pytest

from sacroai import Volume
from sacroai.phantoms.sij_mri_multiseq import generate_multiseq_case, generate_multiseq_cohort
from sacroai.pipelines import dlr
from sacroai.pipelines.dlr import DLRStudy
from sacroai.stats import roc_auc

WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are tiny: one thread is fastest, and immune to OpenMP barriers on a busy machine."""
    from sacroai import config
    threads = config.get_num_threads()
    config.set_num_threads(1)
    yield
    config.set_num_threads(threads)


# ---------------------------------------------------------------- PyTorch twin (torchvision layout, any width)
def torch_resnet(torch, layers, width, in_channels=1, num_classes=1):
    """torchvision's ResNet (Bottleneck) transcribed with every stage scaled by ``width`` (64 = torchvision)."""
    tnn = torch.nn

    class Bottleneck(tnn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = tnn.BatchNorm2d(planes * 4)
            self.relu = tnn.ReLU()
            self.downsample = downsample

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + idt)

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = width
            self.conv1 = tnn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(width)
            self.relu = tnn.ReLU()
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            self.layer1 = self._layer(width, layers[0], 1)
            self.layer2 = self._layer(2 * width, layers[1], 2)
            self.layer3 = self._layer(4 * width, layers[2], 2)
            self.layer4 = self._layer(8 * width, layers[3], 2)
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(8 * width * 4, num_classes)

        def _layer(self, planes, blocks, stride):
            down = None
            if stride != 1 or self.inplanes != planes * 4:
                down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                      tnn.BatchNorm2d(planes * 4))
            mods = [Bottleneck(self.inplanes, planes, stride, down)]
            self.inplanes = planes * 4
            mods += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return tnn.Sequential(*mods)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


# ---------------------------------------------------------------- phantoms
def test_phantom_is_deterministic_and_coregistered():
    a, b = generate_multiseq_case(5, patient="P005"), generate_multiseq_case(5, patient="P005")
    c = generate_multiseq_case(6)
    for s in ("t1", "stir", "adc"):
        assert np.array_equal(a[s].array, b[s].array)
        assert np.allclose(a[s].affine, a["stir"].affine) and a[s].shape == a["stir"].shape
        assert not np.array_equal(a[s].array, c[s].array)
    assert {k: a[k] for k in dlr.KNOWN_CLINICAL} == {k: b[k] for k in dlr.KNOWN_CLINICAL}
    assert a["evidence"] == b["evidence"] and a["axspa"] == b["axspa"]
    # a cohort's first patients do not depend on its size
    c5, c3 = generate_multiseq_cohort(5, seed=2), generate_multiseq_cohort(3, seed=2)
    assert [x["patient"] for x in c3] == ["P000", "P001", "P002"]
    assert all(np.array_equal(x["adc"].array, z["adc"].array) for x, z in zip(c3, c5))


def _central(v):
    a = np.asarray(v.array, np.float64)
    k = a.shape[2] // 2
    return a[40:136, 20:108, k - 2:k + 2]


def test_each_sequence_carries_partial_signal():
    """Simple image statistics find each sequence's planted evidence, and none is perfect for the outcome.
    Thresholds: AUCs measured on this cohort (evidence/outcome: stir 1.00/0.77, t1 0.81/0.72, adc 0.93/0.70)
    minus a margin."""
    cs = generate_multiseq_cohort(40, seed=3)
    ev = {k: np.array([c["evidence"][k] for c in cs]).astype(int) for k in ("oedema", "structural", "diffuse_adc")}
    y = np.array([c["axspa"] for c in cs])

    def stir(c):    # oedema is brighter than anything else on the central slices
        a = _central(c["stir"])
        return np.percentile(a, 99.5) / np.median(a)

    def t1(c):      # fat bright, erosions dark against the marrow
        a = _central(c["t1"])
        m = np.median(a[a > np.percentile(a, 60)])
        return np.mean(a > 1.22 * m) + np.mean(a < 0.45 * m)

    def adc(c):     # raised marrow ADC (oedema or diffuse)
        a = _central(c["adc"])
        return np.mean((a > 650) & (a < 1050))

    for f, truth, lo_ev in ((stir, ev["oedema"], 0.95), (t1, ev["structural"], 0.75),
                            (adc, ev["oedema"] | ev["diffuse_adc"], 0.88)):
        s = np.array([f(c) for c in cs])
        assert roc_auc(truth, s).estimate >= lo_ev, f.__name__
        assert 0.55 <= roc_auc(y, s).estimate <= 0.9, f.__name__
    # the evidence itself is partial: some axSpA patients show none, some controls show some
    any_ev = ev["oedema"] | ev["structural"] | ev["diffuse_adc"]
    assert any_ev[y == 1].mean() < 1.0 and any_ev[y == 0].mean() > 0.0


def test_phantom_bad_arguments():
    with pytest.raises(ValueError, match="prevalence"):
        generate_multiseq_case(0, prevalence=1.5)
    with pytest.raises(ValueError, match="n_patients"):
        generate_multiseq_cohort(0)


# ---------------------------------------------------------------- the CV study (tiny)
@pytest.fixture(scope="module")
def tiny_cv():
    """A tiny CV study whose networks record the data they see, to check for leakage."""
    cases = generate_multiseq_cohort(18, seed=7)
    seen = {"train": [], "test": []}
    orig_train, orig_prob = dlr.train_network, dlr.patient_probability

    def digest(x):
        return {hashlib.sha1(np.ascontiguousarray(xi).tobytes()).hexdigest() for xi in x}

    def train(x, *a, **k):
        seen["train"].append(digest(x))
        return orig_train(x, *a, **k)

    def prob(model, x):
        seen["test"].append(digest(x))
        return orig_prob(model, x)

    from sacroai import config
    threads = config.get_num_threads()
    config.set_num_threads(1)  # tiny networks: one thread is fastest (no OpenMP barriers)
    dlr.train_network, dlr.patient_probability = train, prob
    try:
        study = DLRStudy(width=2, folds=3, epochs=1, n_slices=2, seed=0,
                         backbones={"t1": "resnet50", "stir": "resnet50", "adc": "resnet50"})
        cv = study.fit_cv(cases)
    finally:
        dlr.train_network, dlr.patient_probability = orig_train, orig_prob
        config.set_num_threads(threads)
    return cases, study, cv, seen


def test_fit_cv_has_no_leakage(tiny_cv):
    cases, study, cv, seen = tiny_cv
    n_seq = len(study.sequences)
    assert len(seen["train"]) == len(seen["test"]) == 3 * n_seq
    for tr, te in zip(seen["train"], seen["test"]):
        assert tr and te and not (tr & te)       # no slice of a test patient in its fold's training data
    # every patient is tested exactly once, in a fold whose size is about n / folds
    assert sorted(cv.folds.tolist()) == sorted(np.repeat(np.arange(3), np.bincount(cv.folds)).tolist())
    assert (cv.folds >= 0).all() and sum(cv.fold_sizes) == len(cases)
    for name in list(study.sequences) + ["ensemble", "clinical", "combined"]:
        p = cv.oof[name]
        assert p.shape == (len(cases),) and np.all((p > 0) & (p < 1)), name
    # stratified: each fold holds both outcomes
    for f in range(3):
        assert set(cv.y[cv.folds == f]) == {0, 1}


def test_fit_final_save_and_reload_predict_the_same(tiny_cv, tmp_path):
    cases, study, cv, _ = tiny_cv
    study.fit_final(cases)
    assert study.cv_ is cv   # the CV of the same cases is reused, not rerun
    new = generate_multiseq_cohort(3, seed=41, id_prefix="N")
    before = study.predict(new)
    study.save(str(tmp_path), card={"trained_on": "test", "created": None})
    after = DLRStudy.from_weights(str(tmp_path)).predict(new)
    assert after["patients"] == ["N000", "N001", "N002"]
    for k in ("t1", "stir", "adc", "ensemble", "clinical", "combined", "dlr_score"):
        np.testing.assert_allclose(after[k], before[k], rtol=1e-6, atol=1e-9, err_msg=k)
    # the combined probability is the logistic of its coefficients on (DLR score, clinical factors)
    comb = study.meta_models["combined"]
    crp = np.log1p([c["crp_mg_l"] for c in new])
    X = np.column_stack([before["dlr_score"], [c["age"] for c in new], [c["sex"] == "M" for c in new],
                         [c["hla_b27"] for c in new], crp]).astype(float)
    lp = comb["coef"][0] + X @ np.asarray(comb["coef"][1:])
    np.testing.assert_allclose(before["combined"], np.clip(1 / (1 + np.exp(-lp)), 1e-9, 1 - 1e-9), rtol=1e-9)


def _sm_logit(X, y):
    sm = pytest.importorskip("statsmodels.api")
    return sm.Logit(y, sm.add_constant(X, has_constant="add")).fit(disp=0, tol=1e-12, maxiter=200)


def test_stacker_and_combined_model_match_statsmodels(tiny_cv):
    cases, study, cv, _ = tiny_cv
    y = cv.y
    P = np.column_stack([cv.oof[s] for s in study.sequences])
    st = study.meta_models["stacker"]
    ref = _sm_logit(np.log(P / (1 - P)), y)
    if st["method"].startswith("maximum likelihood"):
        np.testing.assert_allclose(st["coef"], ref.params, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(st["se"], ref.bse, rtol=1e-4)
    else:  # one-epoch networks give near-constant probabilities: quasi-separation, flagged ridge fit
        assert "ridge" in st["method"]
        lp = ref.params[0] + np.log(P / (1 - P)) @ ref.params[1:]
        assert np.abs(lp).max() > dlr.MAX_FITTED_LOGIT or not ref.mle_retvals["converged"]
        return
    # the combined model on the DLR score (statsmodels' stacker) and the clinical factors
    score = sm_score = ref.params[0] + np.log(P / (1 - P)) @ ref.params[1:]
    crp = np.log1p([c["crp_mg_l"] for c in cases])
    clin = np.column_stack([[c["age"] for c in cases], [c["sex"] == "M" for c in cases],
                            [c["hla_b27"] for c in cases], crp]).astype(float)
    comb = study.meta_models["combined"]
    if comb["method"] == "maximum likelihood":
        ref2 = _sm_logit(np.column_stack([sm_score, clin]), y)
        np.testing.assert_allclose(comb["coef"], ref2.params, rtol=1e-5, atol=1e-6)
    else:  # this tiny cohort separates: the ridge fallback is flagged, and its probabilities are sane
        assert "ridge" in comb["method"]
    ref3 = _sm_logit(clin, y) if study.meta_models["clinical"]["method"] == "maximum likelihood" else None
    if ref3 is not None:
        np.testing.assert_allclose(study.meta_models["clinical"]["coef"], ref3.params, rtol=1e-5, atol=1e-6)
    assert np.isfinite(score).all()


def test_meta_models_match_statsmodels_on_larger_oof():
    """Stacker and combined coefficients against statsmodels on synthetic OOF probabilities (no separation)."""
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.5).astype(int)
    P = 1 / (1 + np.exp(-(0.8 * y[:, None] - 0.4 + rng.normal(0, 1.2, (n, 3)))))
    clin = np.column_stack([rng.normal(40, 10, n), rng.random(n) < 0.5, (rng.random(n) < 0.2 + 0.5 * y),
                            np.log1p(rng.gamma(2, 5, n))]).astype(float)
    m = dlr.fit_meta_models(P, clin, y, ("t1", "stir", "adc"), dlr.DEFAULT_CLINICAL)
    ref = _sm_logit(np.log(P / (1 - P)), y)
    np.testing.assert_allclose(m["stacker"]["coef"], ref.params, rtol=1e-6, atol=1e-8)
    score = ref.params[0] + np.log(P / (1 - P)) @ ref.params[1:]
    ref2 = _sm_logit(np.column_stack([score, clin]), y)
    np.testing.assert_allclose(m["combined"]["coef"], ref2.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m["clinical"]["coef"], _sm_logit(clin, y).params, rtol=1e-6, atol=1e-8)
    pred = dlr.apply_meta_models(m, P, clin)
    np.testing.assert_allclose(pred["combined"], ref2.predict(np.column_stack([np.ones(n), score, clin])),
                               rtol=1e-6)
    nom = dlr.nomogram_of(m["combined"])
    # the nomogram's points give back the combined model's probability
    X = np.column_stack([score, clin])
    np.testing.assert_allclose(nom.total_to_probability(nom.total_points(X)), pred["combined"], rtol=1e-6)


def test_evaluate_models_against_direct_formulas():
    """AUC by pair counting, net benefit TP/n - FP/n * pt/(1-pt), Brier, DeLong difference."""
    rng = np.random.default_rng(5)
    y = (rng.random(80) < 0.4).astype(int)
    risks = {"t1": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.25, 80), 0.01, 0.99),
             "combined": np.clip(0.2 + 0.5 * y + rng.normal(0, 0.2, 80), 0.01, 0.99)}
    out = dlr.evaluate_models(y, risks, ("t1",))
    for k, p in risks.items():
        pos, neg = p[y == 1], p[y == 0]
        auc = (np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])) / (len(pos) * len(neg))
        assert out["auc"][k]["estimate"] == pytest.approx(auc, abs=1e-12)
        assert out["brier"][k] == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)
        for t, nb in zip(out["decision_curve"]["thresholds"], out["decision_curve"]["net_benefit"][k]):
            tp, fp = np.sum((p >= t) & (y == 1)), np.sum((p >= t) & (y == 0))
            assert nb == pytest.approx(tp / 80 - fp / 80 * t / (1 - t), abs=1e-12)
    d = out["delong"]["combined vs t1"]
    assert d["auc_difference"] == pytest.approx(out["auc"]["combined"]["estimate"] - out["auc"]["t1"]["estimate"])
    assert 0 <= d["p_value"] <= 1 and set(out["delong"]) == {"combined vs t1"}


# ---------------------------------------------------------------- bad input
def test_missing_sequence_and_clinical_messages():
    case = generate_multiseq_case(1, patient="P012")
    study = DLRStudy()
    bad = dict(case)
    del bad["adc"]
    with pytest.raises(ValueError) as e:
        study.check_cases([bad])
    assert str(e.value) == "case 'P012': sequence 'adc' missing; the model needs t1, stir, adc (got t1, stir)"
    bad = dict(case)
    del bad["crp_mg_l"]
    with pytest.raises(ValueError, match=r"case 'P012': clinical value 'crp_mg_l' missing; the model needs "
                                         r"age, sex, hla_b27, crp_mg_l \(got age, sex, hla_b27, basdai"):
        study.check_cases([bad])
    with pytest.raises(TypeError, match=r"case 'P012': sequence 'stir' must be a sacroai.Volume"):
        study.check_cases([dict(case, stir=np.zeros((4, 4, 4)))])
    with pytest.raises(ValueError, match=r"clinical value 'sex' must be 'M'/'F'"):
        study.check_cases([dict(case, sex="X")])
    with pytest.raises(ValueError, match=r"clinical value 'age' must be finite"):
        study.check_cases([dict(case, age=float("nan"))])
    with pytest.raises(TypeError, match=r"cases\[0\] must be a dict"):
        study.check_cases([case["t1"]])
    with pytest.raises(ValueError, match="outcome 'axspa' must be 0 or 1"):
        study.check_cases([dict(case, axspa=None)], training=True)
    short = dict(case, t1=case["t1"].with_array(np.asarray(case["t1"].array)[..., :2]))
    with pytest.raises(ValueError, match="sequence 't1' has 2 slices; the model needs at least 4"):
        dlr.case_inputs([short], ("t1",), 4)
    blank = dict(case, t1=case["t1"].with_array(np.zeros(case["t1"].shape, np.float32)))
    with pytest.raises(ValueError, match="sequence 't1' is all zeros"):
        dlr.case_inputs([blank], ("t1",), 4)
    with pytest.raises(ValueError, match="the study has no trained networks"):
        study.predict([case])


def test_study_argument_messages():
    with pytest.raises(ValueError, match=r"backbones\['t1'\] must be one of resnet50, resnet101, densenet121"):
        DLRStudy(backbones={"t1": "vgg16"})
    with pytest.raises(ValueError, match="backbones names sequences"):
        DLRStudy(backbones={"dwi": "resnet50"})
    with pytest.raises(ValueError, match="width must be a positive integer"):
        DLRStudy(width=0)
    with pytest.raises(ValueError, match="folds must be an integer >= 2"):
        DLRStudy(folds=1)
    with pytest.raises(ValueError, match="clinical factors must be among"):
        DLRStudy(clinical=("bmi",))
    cases = generate_multiseq_cohort(6, seed=1)
    with pytest.raises(ValueError, match="5-fold stratified CV needs at least 5 patients of each outcome"):
        DLRStudy(folds=5).fit_cv(cases)
    with pytest.raises(FileNotFoundError, match="train them with `python weights/train_dlr.py`"):
        DLRStudy.from_weights(os.path.dirname(__file__))


# ---------------------------------------------------------------- ResNet width option and ResNet-101
def test_resnet_width_option_keys_and_validation():
    from sacroai.nn.models import resnet50, resnet101
    full = resnet50(in_channels=1, num_classes=2)
    narrow = resnet50(in_channels=1, num_classes=2, base_width=8)
    assert list(full.state_dict()) == list(narrow.state_dict())
    assert narrow.state_dict()["conv1.weight"].shape == (8, 1, 7, 7)
    assert narrow.state_dict()["fc.weight"].shape == (2, 8 * 8 * 4)
    assert full.state_dict()["fc.weight"].shape == (2, 2048)
    keys = list(resnet101(in_channels=1, num_classes=2, base_width=4).state_dict())
    assert "layer3.22.conv3.weight" in keys and "layer3.23.conv1.weight" not in keys
    with pytest.raises(ValueError, match="base_width must be a positive integer"):
        resnet50(base_width=0)
    with pytest.raises(ValueError, match="base_width must be a positive integer"):
        resnet50(base_width=8.0)


@pytest.mark.parametrize("layers,builder", [([3, 4, 6, 3], "resnet50"), ([3, 4, 23, 3], "resnet101")])
def test_narrow_resnet_matches_pytorch_twin(layers, builder):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from sacroai import nn
    torch.manual_seed(0)
    tm = torch_resnet(torch, layers, 4)
    ours = dlr.build_backbone(builder, 4, rng=0)
    assert list(ours.state_dict()) == list(tm.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 1, 64, 48)).astype(np.float32)
    # training mode: logits, input gradient and parameter gradients.  Training-mode BatchNorm over few
    # values deep in the net amplifies float32 rounding (see tests/test_nn_resnet.py), so the reference is
    # PyTorch in float64 and ours must be as close to it as PyTorch float32 is (x3), or within 1e-4.
    import copy
    ref = {}
    for name, m, dt in (("f32", tm, torch.float32), ("f64", copy.deepcopy(tm).double(), torch.float64)):
        m.train()
        tx = torch.tensor(x, dtype=dt, requires_grad=True)
        ty = m(tx)
        ty.sum().backward()
        tp = dict(m.named_parameters())
        ref[name] = {"logits": ty.detach().numpy(), "grad_input": tx.grad.numpy(),
                     **{n: tp[n].grad.numpy() for n in ("conv1.weight", "layer4.2.conv3.weight", "fc.weight")}}
    ours.train()
    with nn.enable_grad():
        y = ours(x)
    mine = {"logits": y, "grad_input": ours.backward(np.ones_like(y))}
    mine.update({n: dict(ours.named_parameters())[n].grad for n in ("conv1.weight", "layer4.2.conv3.weight",
                                                                    "fc.weight")})
    for k in mine:
        assert _rel(mine[k], ref["f64"][k]) <= max(1e-4, 3 * _rel(ref["f32"][k], ref["f64"][k])), k
    # eval mode with the updated running statistics
    tm.eval()
    with torch.no_grad():
        ref_eval = tm(torch.tensor(x)).numpy()
    from sacroai.nn.inference import predict
    assert _rel(predict(ours, x), ref_eval) < 1e-4


def test_narrow_densenet121_matches_pytorch_twin():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from test_nn_models_densenet import TDenseNet
    torch.manual_seed(1)
    tm = TDenseNet(4, (6, 12, 24, 16), 8, 1, cin=1).eval()
    ours = dlr.build_backbone("densenet121", 4, rng=0)
    assert list(ours.state_dict()) == list(tm.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 1, 64, 48)).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.tensor(x)).numpy()
    from sacroai.nn.inference import predict
    assert _rel(predict(ours, x), ref) < 1e-4


# ---------------------------------------------------------------- weights
def test_training_is_bitwise_reproducible(tmp_path):
    from sacroai import config
    from sacroai.pipelines.dlr_train import train_dlr
    threads = config.get_num_threads()
    try:
        for d in ("a", "b"):
            train_dlr(str(tmp_path / d), seed=0, n_train=16, n_test=12, folds=2, epochs=1, width=2, threads=1,
                      progress=False)
    finally:
        config.set_num_threads(threads)
    files = sorted(os.listdir(tmp_path / "a"))
    assert files == sorted(["dlr_t1.safetensors", "dlr_t1.json", "dlr_stir.safetensors", "dlr_stir.json",
                            "dlr_adc.safetensors", "dlr_adc.json", "dlr_models.json"])
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    # the saved study predicts what it predicted before saving
    study = DLRStudy.from_weights(str(tmp_path / "a"))
    cases = generate_multiseq_cohort(4, seed=99)
    p = study.predict(cases)
    assert set(p) >= {"t1", "stir", "adc", "ensemble", "clinical", "combined", "dlr_score", "patients"}
    assert np.all((p["combined"] > 0) & (p["combined"] < 1))


def _shipped():
    if not os.path.exists(os.path.join(WEIGHTS, dlr.MODELS_FILE)):
        pytest.fail("shipped DLR weights missing: run python weights/train_dlr.py")
    return DLRStudy.from_weights(WEIGHTS)


def test_shipped_weights_are_small_and_cards_truthful():
    study = _shipped()
    total = sum(os.path.getsize(os.path.join(WEIGHTS, f)) for f in os.listdir(WEIGHTS) if f.startswith("dlr_"))
    assert total <= 3 * 1024 * 1024
    from sacroai.nn.weights import read_model_card
    for s in study.sequences:
        card = read_model_card(os.path.join(WEIGHTS, dlr.weights_file(s)))
        assert "phantoms" in card["trained_on"] and "never on patient data" in card["trained_on"]
        assert card["architecture"].startswith(study.backbones[s]) or "DenseNet" in card["architecture"]
        assert card["held_out_phantoms"]["n"] == 100


def test_shipped_models_on_held_out_phantoms():
    """The demo's held-out cohort (seed 5000, never used in training).  Thresholds: the AUCs measured on
    these 40 phantoms minus 0.05 (see the report); the combined model beats the weakest sequence."""
    study = _shipped()
    cases = generate_multiseq_cohort(40, seed=5000, id_prefix="D")
    y = np.array([c["axspa"] for c in cases])
    p = study.predict(cases)
    auc = {k: roc_auc(y, p[k]).estimate for k in ("t1", "stir", "adc", "ensemble", "clinical", "combined")}
    for k, lo in MEASURED_MIN.items():
        assert auc[k] >= lo, (k, auc[k])
    assert auc["combined"] > max(auc["t1"], auc["stir"], auc["adc"])


# measured with the shipped weights: t1 0.800, stir 0.887, adc 0.748, ensemble 0.873, clinical 0.863, combined 0.913
MEASURED_MIN = {"t1": 0.75, "stir": 0.83, "adc": 0.70, "ensemble": 0.82, "clinical": 0.81, "combined": 0.86}


def test_demo_writes_report(tmp_path):
    from sacroai.demo import run_study_demo   # the `sacroai demo --study dlr` path
    from sacroai.pipelines.dlr_demo import run_demo
    m = run_study_demo("dlr", out=str(tmp_path), patients=24, seed=0, progress=False)
    for f in ("index.html", "report.png", "roc.png", "nomogram.png", "metrics.json"):
        assert (tmp_path / f).stat().st_size > 0, f
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["delong"]) >= {"combined vs t1", "combined vs stir", "combined vs adc"}
    for k, t in saved["delong"].items():
        assert 0.0 <= t["p_value"] <= 1.0
        assert t["auc_difference"] == pytest.approx(m["auc"]["combined"]["estimate"]
                                                    - m["auc"][k.split(" vs ")[1]]["estimate"], abs=1e-9)
    with pytest.raises(ValueError, match="patients must be an integer >= 20"):
        run_demo(out=str(tmp_path), patients=5, progress=False)
