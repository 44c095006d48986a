"""Shared fixtures: where the real public data lives, and temporary files."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
REAL_DATA = pathlib.Path(os.environ.get("SACROAI_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data():
    """Folder of the real, public scans (skips the test when absent)."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data folder {REAL_DATA} not found")
    return REAL_DATA
