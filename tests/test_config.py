"""The thread knob and show_config."""
import os
import subprocess
import sys

import pytest

import sacroai


def test_set_and_get_num_threads():
    old = sacroai.get_num_threads()
    try:
        sacroai.set_num_threads(1)
        assert sacroai.get_num_threads() == 1
        assert sacroai.config.build_info()["blas_threads"] == 1
        sacroai.set_num_threads(2)
        assert sacroai.get_num_threads() == 2
    finally:
        sacroai.set_num_threads(old)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), ("2", TypeError), (1.5, TypeError)])
def test_bad_thread_counts(bad, exc):
    with pytest.raises(exc, match="n must"):
        sacroai.set_num_threads(bad)


def test_default_comes_from_omp_num_threads():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", "import sacroai; print(sacroai.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True, cwd=os.getcwd())
    assert out.stdout.strip() == "1"


def test_show_config_reports_the_link(capsys):
    info = sacroai.show_config()
    printed = capsys.readouterr().out
    for key in ("blas_build", "blas_corename", "blas_parallel", "nifti_build", "cflags", "openmp", "threads"):
        assert key in info
    assert info["blas_corename"] in printed and "libnifti" in printed and "OPENBLAS_CORETYPE" in printed
    assert info["openmp"] > 0
