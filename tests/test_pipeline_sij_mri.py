"""The SIJ MRI pipeline with the shipped weights, and the weights script's determinism."""
import hashlib
import os

import numpy as np
import pytest

import sacroai
from sacroai.phantoms import Lesion, generate_sij_mri
from sacroai.pipelines import sij_mri
from sacroai.pipelines.sij_mri_train import dice, train_sij_mri
from sacroai.scores import evaluate

HAVE_WEIGHTS = os.path.exists(os.path.join(sij_mri.WEIGHTS_DIR, sij_mri.BONES_FILE))
needs_weights = pytest.mark.skipif(not HAVE_WEIGHTS, reason="shipped weights not present")


@pytest.fixture(scope="module")
def pipeline():
    return sij_mri.SIJMRIPipeline.from_weights()


@pytest.fixture(scope="module")
def phantom():
    lesions = [Lesion("left", "iliac", "upper", (5, 6), depth_mm=13, intensity_ratio=1.3),
               Lesion("right", "sacral", "lower", (6,), depth_mm=6, intensity_ratio=0.7),
               Lesion("right", "iliac", "lower", (6,), depth_mm=7, intensity_ratio=0.7)]
    return generate_sij_mri(987654, lesions)


@needs_weights
def test_segmentation_and_sparcc_on_a_held_out_phantom(pipeline, phantom):
    res = pipeline.run(phantom.stir)
    assert dice(res.bones == 1, phantom.bones == 1) > 0.9
    assert dice(res.bones == 2, phantom.bones == 2) > 0.9
    assert dice(res.bme, phantom.bme) > 0.6
    truth = evaluate("sparcc_sij", phantom.sheet)
    assert abs(res.sparcc["total"] - truth["total"]) <= 3
    assert res.asas["positive"] is True or res.asas["positive"] == 1
    # the audit trail: six slices, both joints, flags and measurements
    assert len(res.sparcc["slices"]) == 6 and len(res.sparcc["units"]) == 6
    assert {"left", "right"} <= set(res.sparcc["units"][0])
    assert 0.0 <= res.p_active <= 1.0
    assert abs(res.vessel_signal / phantom.vessel_signal - 1) < 0.1


@needs_weights
def test_laterality_does_not_depend_on_storage_order(pipeline, phantom):
    """The same scan stored left-right flipped (LSA) gives the same left/right scores."""
    flipped = sacroai.transforms.reorient(phantom.stir, "LSA")
    a, b = pipeline.run(phantom.stir), pipeline.run(flipped)
    assert a.sparcc["left"] == b.sparcc["left"] and a.sparcc["right"] == b.sparcc["right"]
    assert a.sparcc["left"] > a.sparcc["right"]  # the planted deep, intense lesion is on the left


@needs_weights
def test_overlay_and_summary(pipeline, phantom, tmp_path):
    res = pipeline.run(phantom.stir)
    res.overlay(str(tmp_path / "o.png"))
    assert (tmp_path / "o.png").stat().st_size > 5000
    s = res.summary()
    assert s["sparcc_total"] == res.sparcc["total"] and len(s["slices"]) == 6


@needs_weights
def test_bad_inputs(pipeline):
    with pytest.raises(ValueError, match="3-D"):
        pipeline.run(sacroai.Volume(np.zeros((20, 20)), spacing=(1, 1)))
    axial = sacroai.Volume(np.ones((64, 64, 12), np.float32), spacing=(0.8, 0.8, 4.0))  # RAS: thick axis S-I
    with pytest.raises(ValueError, match="semicoronal"):
        pipeline.run(axial)


def _digest(folder):
    return {f: hashlib.sha256(open(os.path.join(folder, f), "rb").read()).hexdigest()
            for f in sorted(os.listdir(folder))}


def test_weights_script_is_deterministic(tmp_path):
    kw = dict(seed=3, n_train=2, n_val=1, n_test=2, epochs_bones=1, epochs_bme=1, threads=2, progress=False)
    train_sij_mri(str(tmp_path / "a"), **kw)
    train_sij_mri(str(tmp_path / "b"), **kw)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert set(a) == {sij_mri.BONES_FILE, sij_mri.BME_FILE, sij_mri.CLASSIFIER_FILE,
                      sij_mri.BONES_FILE.replace(".safetensors", ".json"), sij_mri.BME_FILE.replace(".safetensors", ".json")}
    assert a == b
