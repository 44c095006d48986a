"""Hip radiograph pipeline: head mapping, Croft/K-L from sacroai.scores, the locator, input errors,
PNG/DICOM file paths, held-out phantom agreement with the shipped weights, reproducible training,
and the network against its PyTorch twin."""
import json
import os

import numpy as np
import pytest

import sacroai
from sacroai import Volume
from sacroai.io.radiograph import load_radiograph, save_radiograph
from sacroai.phantoms.hip_xray import SIDES, croft_grade, generate_hip_xray, implied_kl, random_hip_features
from sacroai.pipelines import hip_xray as pipe
from sacroai.pipelines import hip_xray_prep as prep
from sacroai.scores import kl as kl_score
from sacroai.scores import oarsi_hip

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "weights", pipe.WEIGHTS_FILE)
OARSI_KEYS = ("fos_superior", "fos_inferior", "aos_superior", "aos_inferior", "jsn_superior", "jsn_medial",
              "sclerosis", "cysts", "femoral_head_deformity")
# held-out phantom seeds: training uses 0-639 (seed 0 of weights/train_hip_xray.py)
HELD_OUT = range(700000, 700016)


def _features(rng):
    return random_hip_features(rng, int(rng.integers(0, 5)))


def _phantom(seed):
    rng = np.random.default_rng(seed)
    return generate_hip_xray(rng, {side: _features(rng) for side in SIDES})


@pytest.fixture(scope="module")
def pipeline():
    if not os.path.exists(WEIGHTS):
        pytest.skip(f"{WEIGHTS} not found (python weights/train_hip_xray.py)")
    before = sacroai.get_num_threads()
    sacroai.set_num_threads(1)  # a tiny network: one thread is fastest on a shared machine
    yield pipe.HipXrayPipeline.from_weights(WEIGHTS)
    sacroai.set_num_threads(before)


# ------------------------------------------------------------------ grades from the heads

def test_heads_are_the_worst_site_of_each_feature():
    rng = np.random.default_rng(0)
    for _ in range(200):
        f = _features(rng)
        h = pipe.heads_from_oarsi(f)
        assert h == {"femoral_osteophytes": max(f["fos_superior"], f["fos_inferior"]),
                     "acetabular_osteophytes": max(f["aos_superior"], f["aos_inferior"]),
                     "jsn": max(f["jsn_superior"], f["jsn_medial"]),
                     "sclerosis": f["sclerosis"], "cysts": f["cysts"]}


def test_croft_from_heads_matches_sacroai_scores_on_the_full_truth():
    """Croft from the five heads equals oarsi_hip on all nine true OARSI keys, 5 -> 4 (deformity not assessed)."""
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(300):
        f = _features(rng)
        for key in ("sclerosis", "cysts"):  # also the undefined single-feature cases
            if rng.random() < 0.1:
                f = dict.fromkeys(OARSI_KEYS, 0) | {key: 1}
        ref = oarsi_hip(**{k: bool(f[k]) if k in ("sclerosis", "cysts", "femoral_head_deformity") else f[k]
                           for k in OARSI_KEYS})
        assert ref["status"] == ("incomplete" if ref["croft_grade"] is None else "ok")
        want = ref["croft_grade"]
        want = None if want is None else min(want, 4)
        got = pipe.hip_grade(pipe.heads_from_oarsi(f))
        assert got["croft_grade"] == want, (f, ref, got)
        assert got["rhoa_croft"] == (None if want is None else want >= 3)
        seen.add(want)
    assert seen >= {None, 0, 1, 2, 3, 4}


@pytest.mark.parametrize("heads,croft", [
    ({}, 0),                                                   # SCORES.md H1
    ({"femoral_osteophytes": 1}, 1),                           # H2
    ({"jsn": 1}, 2),                                           # H3
    ({"jsn": 2, "femoral_osteophytes": 1}, 3),                 # H4
    ({"femoral_osteophytes": 1, "jsn": 1, "sclerosis": 1}, 4),  # H5
    ({"femoral_osteophytes": 2, "acetabular_osteophytes": 1, "jsn": 2, "sclerosis": 1, "cysts": 1}, 4),  # H6 w/o deformity
    ({"sclerosis": 1}, None),                                  # H7
])
def test_croft_worked_examples(heads, croft):
    g = dict.fromkeys(pipe.HEADS, 0) | heads
    r = pipe.hip_grade(g)
    assert r["croft_grade"] == croft
    assert (r["warnings"] == ["croft_undefined_combination"]) == (croft is None)


def test_kl_from_heads_is_the_phantom_convention_exactly():
    rng = np.random.default_rng(2)
    for _ in range(300):
        f = _features(rng)
        r = pipe.kl_from_grades(pipe.heads_from_oarsi(f))
        assert r["grade"] == implied_kl(f)
        assert r["radiographic_oa"] == kl_score(grade=implied_kl(f))["radiographic_oa"] == (implied_kl(f) >= 2)
        assert "phantom convention" in r["rule"]


def test_grade_errors_name_the_head():
    with pytest.raises(ValueError, match="grades is missing the head 'cysts'"):
        pipe.hip_grade({k: 0 for k in list(pipe.HEADS)[:4]})
    with pytest.raises(ValueError, match=r"grades\['sclerosis'\] must be an integer 0..1, got 2"):
        pipe.kl_from_grades(dict.fromkeys(pipe.HEADS, 0) | {"sclerosis": 2})
    with pytest.raises(ValueError, match="features is missing the OARSI keys"):
        pipe.heads_from_oarsi({"fos_superior": 1})


# ------------------------------------------------------------------ locating the hips

@pytest.mark.parametrize("blur_mm,noise", [(0.35, 0.012), (0.8, 0.05)])
def test_locator_finds_both_femoral_heads(blur_mm, noise):
    for seed in range(5):
        rng = np.random.default_rng(900 + seed)
        ph = generate_hip_xray(rng, {side: _features(rng) for side in SIDES}, blur_mm=blur_mm, noise=noise)
        loc = prep.locate_heads(ph.image)
        for side in SIDES:
            err = np.hypot(*np.subtract(loc[side]["centre_mm"], ph.hips[side]["head_centre_mm"]))
            assert err < 3.0, (seed, side, err)
            assert loc[side]["score"] >= pipe.MIN_HEAD_SCORE


def test_crops_mirror_the_left_hip():
    """With the same features on both sides, the left hip's crop (mirrored) looks like the right one's."""
    f = {"fos_superior": 2, "jsn_superior": 2, "sclerosis": 1}
    ph = generate_hip_xray(5, {"right": f, "left": f}, anatomy_jitter=False, noise=0.0)
    c = {s: prep.hip_crop(ph.image, ph.hips[s]["head_centre_mm"], s) for s in SIDES}
    same = np.corrcoef(c["right"].ravel(), c["left"].ravel())[0, 1]
    unmirrored = np.corrcoef(c["right"].ravel(), c["left"][:, ::-1].ravel())[0, 1]
    assert same > 0.9 and same > unmirrored + 0.1, (same, unmirrored)
    assert c["right"].shape == (prep.CROP_PX, prep.CROP_PX)


# ------------------------------------------------------------------ bad input

def test_no_pixel_spacing_from_a_png(tmp_path, pipeline):
    ph = _phantom(901)
    png = tmp_path / "pelvis.png"
    save_radiograph(ph.image, png)
    with pytest.raises(ValueError, match=r"radiograph: no pixel spacing in .*pelvis\.png.*"
                                         r"pass pixel_spacing=\(row_mm, col_mm\) to run_file.*83\.2 mm"):
        pipeline.run_file(png)
    # with the spacing it runs
    assert set(pipeline.run_file(png, pixel_spacing=0.5).hips) == set(SIDES)


@pytest.mark.parametrize("header", [{"spacing_source": "unknown"}, {"spacing_source": None},
                                    {"spacing_known": False}])
def test_no_pixel_spacing_in_a_volume_header(header, pipeline):
    vol = Volume.from_radiograph(_phantom(902).image.array, (0.5, 0.5), header=header)
    with pytest.raises(ValueError, match=r"radiograph: no pixel spacing \(the header says .*\); "
                                         r"pass pixel_spacing=\(row_mm, col_mm\)"):
        pipeline.run(vol)


def test_other_bad_inputs(pipeline):
    img = _phantom(903).image
    with pytest.raises(TypeError, match="radiograph must be a sacroai.Volume .* not ndarray"):
        pipeline.run(np.asarray(img.array))
    with pytest.raises(ValueError, match="radiograph must be a 2-D AP pelvis radiograph"):
        pipeline.run(Volume(np.zeros((40, 40, 3), np.float32)))
    with pytest.raises(ValueError, match=r"radiograph covers 20 x 26 mm .*is the pixel spacing \(0.05, 0.05\) mm right"):
        pipeline.run(Volume.from_radiograph(img.array, (0.05, 0.05)))
    with pytest.raises(ValueError, match="radiograph: MONOCHROME1 values .* not inverted; .* needs bone bright"):
        pipeline.run(Volume.from_radiograph(img.array, (0.5, 0.5), header={"photometric": "MONOCHROME1"}))
    with pytest.raises(ValueError, match="radiograph is constant"):
        pipeline.run(Volume.from_radiograph(np.ones((400, 520), np.float32), (0.5, 0.5)))
    noise = np.random.default_rng(0).random((400, 520)).astype(np.float32)
    with pytest.raises(ValueError, match=r"radiograph: no (right|left) femoral head found"):
        pipeline.run(Volume.from_radiograph(noise, (0.5, 0.5)))
    with pytest.raises(ValueError, match=r"heads has unknown names \['knee'\]"):
        pipeline.explain(np.zeros((prep.CROP_PX, prep.CROP_PX), np.float32), heads=["knee"])
    with pytest.raises(TypeError, match="model must be a HipNet"):
        pipe.HipXrayPipeline(object())
    with pytest.raises(FileNotFoundError, match="train them with `python weights/train_hip_xray.py`"):
        pipe.HipXrayPipeline.from_weights("/nonexistent/folder")


# ------------------------------------------------------------------ files and results

def test_tiff_carries_its_spacing_through_the_pipeline(tmp_path, pipeline):
    ph = _phantom(906)
    tif = tmp_path / "pelvis.tif"
    save_radiograph(ph.image, tif)
    res = pipeline.run_file(tif)  # spacing from the TIFF resolution tags
    assert res.radiograph.header["spacing_source"] != "pixel_spacing argument"
    np.testing.assert_allclose(res.radiograph.spacing, (0.5, 0.5), rtol=1e-6)
    ref = pipeline.run(ph.image)
    assert all(res.hips[s]["grades"] == ref.hips[s]["grades"] for s in SIDES)


def test_dicom_round_trip_through_the_pipeline(tmp_path, pipeline):
    pydicom = pytest.importorskip("pydicom")
    from sacroai.pipelines.hip_xray_demo import write_dicom

    ph = _phantom(904)
    counts = np.asarray(ph.image.array)
    p1 = write_dicom(counts, str(tmp_path / "m1.dcm"), (0.5, 0.5), "MONOCHROME1")
    # peer: pydicom's raw pixels are stored inverted; the loader gives bone-bright values back
    np.testing.assert_array_equal(pydicom.dcmread(p1).pixel_array, 65535 - counts.astype(np.int64))
    vol = load_radiograph(p1)
    np.testing.assert_array_equal(vol.array, counts)
    assert vol.spacing == (0.5, 0.5)
    ref = pipeline.run(ph.image)
    res = pipeline.run_file(p1)
    for side in SIDES:
        assert res.hips[side]["grades"] == ref.hips[side]["grades"]
        np.testing.assert_allclose(res.hips[side]["centre_mm"], ref.hips[side]["centre_mm"])


def test_result_summary_overlay_and_cams(tmp_path, pipeline):
    ph = _phantom(905)
    res = pipeline.run(ph.image, explain=["jsn"])
    s = json.loads(json.dumps(res.summary()))
    for side in SIDES:
        h = s[side]
        assert set(h["grades"]) == set(pipe.HEADS)
        for name, k in pipe.HEADS.items():
            p = np.asarray(h["probabilities"][name])
            assert p.shape == (k,) and abs(p.sum() - 1) < 1e-3 and int(np.argmax(p)) == h["grades"][name]
        assert h["kl_grade"] == implied_kl({"fos_superior": h["grades"]["femoral_osteophytes"],
                                            "aos_superior": h["grades"]["acetabular_osteophytes"],
                                            "jsn_superior": h["grades"]["jsn"], "sclerosis": h["grades"]["sclerosis"],
                                            "cysts": h["grades"]["cysts"]})
        cam = res.cams[side]["jsn"]
        assert cam.shape == (prep.CROP_PX, prep.CROP_PX) and 0 <= cam.min() and cam.max() <= 1
    assert "phantom convention" in s["kl_rule"]
    res.overlay(str(tmp_path / "o.png"))
    assert (tmp_path / "o.png").stat().st_size > 10000


def test_held_out_phantom_agreement(pipeline):
    """Shipped weights on 32 held-out hips (seeds 700000-700015, never trained on).

    Measured: every head 32/32 correct (accuracy and kappa 1.0) here; on the card's 200 held-out hips
    femoral osteophytes 0.99 (quadratic kappa 0.996), the others 1.0.  Thresholds are the measured
    values minus a margin of about 3 errors in 32 hips.
    """
    from sacroai.pipelines.hip_xray_train import evaluate_on_phantoms

    m = evaluate_on_phantoms(pipeline, HELD_OUT)
    assert m["n_hips"] == 32
    f = m["features"]
    for name in ("femoral_osteophytes", "acetabular_osteophytes", "jsn"):
        assert f[name]["accuracy"] >= 0.9 and f[name]["kappa_quadratic"] >= 0.9, (name, f[name])
    for name in ("sclerosis", "cysts"):
        assert f[name]["accuracy"] >= 0.9 and f[name]["kappa_quadratic"] >= 0.75, (name, f[name])
    assert m["kl_accuracy"] >= 0.9 and m["croft_accuracy"] >= 0.9


@pytest.mark.parametrize("spacing,shape", [((0.7, 0.7), (300, 380)), ((0.45, 0.55), (450, 480))])
def test_other_pixel_spacings(pipeline, spacing, shape):
    """Trained at 0.5 mm; the fixed-mm crops make other (and non-square) spacings work alike.
    Measured: 40/40 head grades right at both spacings on these 4 phantoms."""
    ok = n = 0
    for s in range(4):
        rng = np.random.default_rng(5000 + s)
        f = {side: _features(rng) for side in SIDES}
        res = pipeline.run(generate_hip_xray(rng, f, shape=shape, pixel_spacing=spacing).image)
        for side in SIDES:
            truth = pipe.heads_from_oarsi(f[side])
            ok += sum(truth[k] == res.hips[side]["grades"][k] for k in truth)
            n += len(truth)
    assert ok / n >= 0.9, ok / n


def test_card_is_truthful():
    if not os.path.exists(WEIGHTS):
        pytest.skip("no shipped weights")
    card = json.loads(open(WEIGHTS[:-len(".safetensors")] + ".json").read())
    assert "phantoms" in card["trained_on"] and "never on patient" in card["trained_on"]
    assert "phantom convention" in card["kl_rule"]
    for name in pipe.HEADS:
        assert {"accuracy", "kappa_quadratic", "kappa_linear"} <= set(card["held_out_phantoms"]["features"][name])
    assert os.path.getsize(WEIGHTS) <= 3 * 2 ** 20


# ------------------------------------------------------------------ training and the twin

TINY = {"growth_rate": 4, "block_config": (1, 1), "num_init_features": 8}


def test_training_is_bit_reproducible(tmp_path):
    from sacroai.pipelines.hip_xray_train import train_hip_xray

    outs = []
    before = sacroai.get_num_threads()
    for run in ("a", "b"):
        d = tmp_path / run
        try:
            train_hip_xray(str(d), seed=3, n_train=3, n_val=1, n_test=1, epochs=1, batch_size=4, threads=1,
                           backbone=TINY, progress=False)
        finally:
            sacroai.set_num_threads(before)
        outs.append({f: (d / f).read_bytes() for f in (pipe.WEIGHTS_FILE, pipe.WEIGHTS_FILE[:-12] + ".json")})
    assert outs[0] == outs[1]
    # the card carries the backbone, so from_weights rebuilds the tiny net
    p = pipe.HipXrayPipeline.from_weights(str(tmp_path / "a"))
    assert p.model.backbone.num_features == (8 + 4) // 2 + 4  # stem 8, +4, halved, +4
    assert pipe.HipXrayPipeline.from_weights(str(tmp_path / "a" / pipe.WEIGHTS_FILE)).card["seed"] == 3


def test_heads_loss_and_network_match_pytorch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import sys
    sys.path.insert(0, HERE)
    from hip_xray_twin import torch_twin

    rng = np.random.default_rng(4)
    cfg = dict(pipe.BACKBONE, **TINY)
    model = pipe.hip_model(rng=0, **TINY)
    tm = torch_twin(model, cfg, pipe.HEADS).double().train()
    model.train()
    x = rng.standard_normal((3, 1, 40, 40)).astype(np.float32)
    y = np.stack([rng.integers(0, k, 3) for k in pipe.HEADS.values()], axis=1)
    cw = {"jsn": np.array([1.0, 2.0, 0.5, 3.0], np.float32)}
    loss = pipe.HeadsLoss(weights={"cysts": 0.5}, class_weights=cw)
    out = model(x)
    value = loss(out, y)
    model.backward(loss.backward())
    tx = torch.tensor(x.astype(np.float64))
    tout = tm(tx)
    tl = 0
    for j, (name, sl) in enumerate(pipe.head_slices().items()):
        w = torch.tensor(cw[name], dtype=torch.float64) if name in cw else None
        tl = tl + (0.5 if name == "cysts" else 1.0) * torch.nn.functional.cross_entropy(
            tout[:, sl], torch.tensor(y[:, j]), weight=w)
    tl.backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-3, atol=1e-4)
    assert abs(value - tl.item()) <= 1e-4 * abs(tl.item())
    tp = dict(tm.named_parameters())
    scale = max(float(np.abs(p.grad.numpy()).max()) for p in tp.values())
    for name, p in model.named_parameters():  # some gradients cancel to ~0 before a batch norm: absolute scale
        g, tg = p.grad, tp[name].grad.numpy()
        assert np.abs(g - tg).max() <= 1e-3 * max(np.abs(tg).max(), 1e-3 * scale), name


def test_demo_writes_its_report(tmp_path, pipeline):
    pytest.importorskip("pydicom")
    from sacroai.pipelines.hip_xray_demo import run_demo

    with pytest.raises(ValueError, match="patients must be at least 2, got 1"):
        run_demo(out=str(tmp_path / "x"), patients=1, progress=False)
    out = tmp_path / "report"
    m = run_demo(out=str(out), patients=3, seed=5, progress=False, overlays=1, dicom=2)
    assert m["hips"] == 6 and set(m["features"]) == set(pipe.HEADS)
    assert m["io_checks"]["png_without_spacing"].startswith("radiograph: no pixel spacing")
    d = m["io_checks"]["dicom"]
    assert [r["photometric"] for r in d] == ["MONOCHROME1", "MONOCHROME2"]
    assert all(r["grades_equal_png"] and r["spacing_source"].startswith("PixelSpacing") for r in d)
    for f in ("metrics.json", "index.html", "confusion_features.png", "confusion_grades.png",
              "overlays/patient000.png", "patients/patient002.json"):
        assert (out / f).exists(), f
    # the patient files hold the truth next to the prediction, and accuracy is their agreement
    rows = [json.loads((out / "patients" / f"patient{i:03d}.json").read_text()) for i in range(3)]
    hits = [r[s]["grades"]["jsn"] == r["truth"][s]["heads"]["jsn"] for r in rows for s in SIDES]
    assert m["features"]["jsn"]["accuracy"] == pytest.approx(np.mean(hits))
