"""The numbered notebooks run from top to bottom (quick mode, public API only)."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 5


def _script(path):
    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return "import matplotlib\nmatplotlib.use('Agg')\n" + "\n\n".join(cells)


def test_notebooks_use_only_the_public_api():
    for nb in NOTEBOOKS:
        assert "._core" not in _script(nb) and "from sacroai._" not in _script(nb), nb.name


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(nb, tmp_path):
    env = dict(os.environ, SACROAI_QUICK="1", SACROAI_NOTEBOOK_DIR=str(tmp_path), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", _script(nb)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{nb.name} failed:\n{r.stderr[-3000:]}"
