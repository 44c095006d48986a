"""The demo study end to end on a small cohort (the README's main command runs 60 patients)."""
import json
import os

import pytest

from sacroai.pipelines import sij_mri

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(sij_mri.WEIGHTS_DIR, sij_mri.BONES_FILE)),
                                reason="shipped weights not present")


def test_demo_writes_the_report(tmp_path):
    from sacroai.demo import run_demo
    m = run_demo(out=str(tmp_path), patients=16, seed=5, progress=False, overlays=1)
    for f in ("index.html", "report.png", "bland_altman.png", "metrics.json"):
        assert (tmp_path / f).stat().st_size > 1000, f
    assert len(list((tmp_path / "patients").iterdir())) == 16
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["patients"] == 16 and set(saved["auc"]) == {"image model", "clinical model", "combined model"}
    # the shipped networks on phantoms they never saw
    assert m["sparcc_icc_2_1_pipeline_vs_truth"]["estimate"] > 0.9
    assert m["dice"]["sij_bones"] > 0.9 and m["dice"]["bme"] > 0.75


def test_demo_rejects_tiny_cohorts(tmp_path):
    from sacroai.demo import run_demo
    with pytest.raises(ValueError, match="at least 10"):
        run_demo(out=str(tmp_path), patients=3)
