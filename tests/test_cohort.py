"""Cohort manifests: lazy loading, patient-level splits, preprocessing cache."""
import numpy as np
import pytest

import sacroai
from sacroai.cohort import Cohort
from sacroai.phantoms import generate_cohort


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cohort")
    generate_cohort(d, n_patients=6, seed=3, progress=False)
    return d


def test_read_and_load(cohort_dir):
    c = Cohort.read_csv(cohort_dir / "manifest.csv")
    assert len(c) == 6 and c[0]["patient"] == "patient000"
    assert c.column("sparcc_truth").dtype.kind == "i"
    vol = c.load(0)
    assert isinstance(vol, sacroai.Volume) and vol.orientation == "RSA"
    with pytest.raises(KeyError, match="no column 'nope'"):
        c.column("nope")


def test_split_keeps_patients_together(cohort_dir):
    rows = Cohort.read_csv(cohort_dir / "manifest.csv").rows
    # two rows per patient (e.g. two readers): a patient-level splitter must keep them together
    doubled = Cohort(rows + [dict(r, reader="reader2") for r in rows], root=str(cohort_dir))
    from sklearn.model_selection import GroupKFold
    for train, test in doubled.split(GroupKFold(n_splits=3)):
        assert not set(train.groups) & set(test.groups)

    class Leaky:
        def split(self, X, y, groups):
            yield np.arange(0, 7), np.arange(6, 12)
    with pytest.raises(ValueError, match="both train and test"):
        list(doubled.split(Leaky()))


def _smooth(vol, factor=2.0):
    return vol.with_array(np.asarray(vol.array) * factor)


def test_preprocessing_cache(cohort_dir, tmp_path):
    c = Cohort.read_csv(cohort_dir / "manifest.csv", cache_dir=str(tmp_path / "cache"))
    a = c.preprocessed(0, _smooth, factor=2.0)
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1
    b = c.preprocessed(0, _smooth, factor=2.0)          # from the cache
    np.testing.assert_allclose(a.array, b.array)
    c.preprocessed(0, _smooth, factor=3.0)              # new parameters, new entry
    assert len(list((tmp_path / "cache").iterdir())) == 2
    np.testing.assert_allclose(b.array, np.asarray(c.load(0).array) * 2.0, rtol=1e-6)


def test_bad_manifests(tmp_path):
    with pytest.raises(ValueError, match="at least one row"):
        Cohort([])
    with pytest.raises(ValueError, match="no 'path'"):
        Cohort([{"patient": "p1"}])
    (tmp_path / "m.csv").write_text("id,file\n1,a.nii\n")
    with pytest.raises(ValueError, match="'patient' and 'path'"):
        Cohort.read_csv(tmp_path / "m.csv")


def test_radiograph_rows_load_with_their_spacing(tmp_path):
    from sacroai.phantoms import generate_hip_cohort
    generate_hip_cohort(tmp_path, 2, seed=0)
    c = Cohort.read_csv(tmp_path / "manifest.csv")
    vol = c.load(0)
    assert vol.is_radiograph and vol.spacing[0] > 0
