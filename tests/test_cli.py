"""The sacroai command line: exit codes and one-line messages."""
import csv
import subprocess
import sys

import numpy as np
import pytest

import sacroai


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sacroai", *args], capture_output=True, text=True, cwd=cwd)


def test_info():
    r = run("info")
    assert r.returncode == 0 and "BLAS core" in r.stdout


def test_sparcc_missing_file(tmp_path):
    r = run("sparcc", str(tmp_path / "nope.nii.gz"))
    assert r.returncode == 1
    assert r.stderr.strip().startswith("sacroai: error:") and "nope.nii.gz" in r.stderr
    assert "Traceback" not in r.stderr


def test_sparcc_not_a_nifti(tmp_path):
    bad = tmp_path / "notes.nii"
    bad.write_text("this is not an image\n" * 40)
    r = run("sparcc", str(bad))
    assert r.returncode == 1 and "notes.nii" in r.stderr and "sizeof_hdr" in r.stderr
    assert "Traceback" not in r.stderr


def test_sparcc_scan_without_a_joint(tmp_path):
    rng = np.random.default_rng(0)
    noise = sacroai.Volume(rng.normal(100, 5, size=(96, 80, 10)).astype(np.float32), spacing=(0.8, 0.8, 4.0))
    path = tmp_path / "noise.nii.gz"
    sacroai.save(noise, path)
    r = run("sparcc", str(path), "--out", str(tmp_path / "o"), "--any-orientation")
    assert r.returncode == 1 and "no sacroiliac joint" in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = run("--debug", "sparcc", str(tmp_path / "nope.nii"))
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_evaluate_writes_a_report(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    p = np.clip(0.3 * y + rng.random(80) * 0.7, 0.01, 0.99)
    with open(tmp_path / "pred.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient", "y", "p"])
        for i in range(80):
            w.writerow([f"p{i // 2}", y[i], p[i]])
    r = run("evaluate", str(tmp_path / "pred.csv"), "--outcome", "y", "--score", "p", "--groups", "patient",
            "--out", str(tmp_path / "ev"))
    assert r.returncode == 0, r.stderr
    assert "AUC" in r.stdout
    assert (tmp_path / "ev" / "report.html").stat().st_size > 1000
    r = run("evaluate", str(tmp_path / "pred.csv"), "--outcome", "nope", "--score", "p")
    assert r.returncode == 1 and "no column 'nope'" in r.stderr


def test_usage_errors_exit_2():
    assert run().returncode == 2
    assert run("demo", "--patients", "x").returncode == 2
    assert run("demo", "--study", "knee").returncode == 2


def test_demo_study_dispatch_checks_its_arguments():
    from sacroai.demo import STUDY_DEMOS, run_study_demo
    assert set(STUDY_DEMOS) == {"sij_mri", "sij_ct", "hip_xray", "dlr"}
    with pytest.raises(ValueError, match="study must be one of"):
        run_study_demo("knee")
    with pytest.raises(ValueError, match="patients must be at least 10"):
        run_study_demo("sij_mri", patients=3)
