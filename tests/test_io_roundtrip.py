"""save -> load round trips, checked by sacroai and by nibabel as an independent reader."""
import os

import numpy as np
import pytest

import sacroai
from sacroai.io.nifti import NIFTI_DTYPES

nib = pytest.importorskip("nibabel")

DTYPES = sorted({dt for dt in NIFTI_DTYPES.values()}, key=str)
SUFFIXES = [".nii", ".nii.gz", ".hdr", ".img.gz"]


def _random(dtype, shape, rng):
    dtype = np.dtype(dtype)
    if dtype.names:
        out = np.zeros(shape, dtype=dtype)
        for n in dtype.names:
            out[n] = rng.integers(0, 256, size=shape)
        return out
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _oblique_affine():
    theta = 0.3
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([0.8, 0.9, 4.0])
    aff[:3, 3] = [-100.5, 20.25, 33.0]
    return aff


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_roundtrip_every_dtype_and_layout(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    arr = _random(dtype, (5, 4, 3), rng)
    vol = sacroai.Volume(arr, _oblique_affine(), header={"descrip": "round trip"})
    path = tmp_path / f"x{suffix}"
    sacroai.save(vol, path)
    back = sacroai.load(path)
    assert back.dtype == arr.dtype
    np.testing.assert_array_equal(back.array, arr)
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-6)
    assert back.header["descrip"] == "round trip"
    if arr.dtype not in (np.dtype(np.longdouble), np.dtype(np.clongdouble)):  # nibabel lacks these
        img = nib.load(str(path))  # an independent reader agrees
        np.testing.assert_array_equal(np.asanyarray(img.dataobj), arr)
        np.testing.assert_allclose(img.affine, vol.affine, atol=1e-5)


@pytest.mark.parametrize("ndim", [2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("version", [1, 2])
def test_roundtrip_dimensions_and_versions(tmp_path, ndim, version):
    shape = (3, 4, 2, 2, 3, 2, 2)[:ndim]
    arr = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    vol = sacroai.Volume(arr, spacing=(0.7, 0.7) if ndim == 2 else (0.7, 0.7, 1.5),
                         header={"TR": 2.5} if ndim > 3 else None)
    path = tmp_path / "d.nii.gz"
    sacroai.save(vol, path, nifti_version=version)
    back = sacroai.load(path)
    assert back.header["nifti_version"] == version
    assert back.shape == shape
    np.testing.assert_array_equal(back.array, arr)
    np.testing.assert_allclose(back.spacing, vol.spacing)
    if ndim > 3:
        assert back.header["TR"] == pytest.approx(2.5)
    img = nib.load(str(path))
    assert img.shape == shape
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), arr)


def test_roundtrip_of_real_files_keeps_header(real_data, tmp_path):
    for rel in ["nifti_formats/nibabel/functional.nii",
                "nifti_formats/nibabel/example4d.nii.gz",
                "nifti_formats/nifti_test_data/ATestReferenceImageForReadingAndWriting.nii.gz",
                "nifti_formats/nifti1_official/zstat1.nii.gz",
                "nifti_formats/nibabel/example_nifti2.nii.gz"]:
        src = sacroai.load(real_data / rel)
        out = tmp_path / os.path.basename(rel)
        sacroai.save(src, out)
        back = sacroai.load(out)
        np.testing.assert_array_equal(back.array, src.array)
        np.testing.assert_allclose(back.affine, src.affine, atol=1e-6)
        for key in ("datatype", "scl_slope", "scl_inter", "qform_code", "sform_code", "intent_code",
                    "intent_params", "descrip", "xyz_units", "time_units_code", "TR", "dim_info",
                    "nifti_version", "extensions"):
            assert back.header[key] == pytest.approx(src.header[key]) if isinstance(src.header[key], float) \
                else back.header[key] == src.header[key], (rel, key)
        np.testing.assert_allclose(back.header["qform"], src.header["qform"], atol=1e-4)
        np.testing.assert_allclose(back.header["sform"], src.header["sform"], atol=1e-6)


def test_big_endian_files_written_by_nibabel(tmp_path):
    rng = np.random.default_rng(1)
    for dtype in [np.int16, np.uint16, np.int32, np.float32, np.float64, np.int64, np.complex64]:
        arr = _random(dtype, (4, 3, 2), rng)
        hdr = nib.Nifti1Header(endianness=">")
        hdr.set_data_dtype(dtype)
        img = nib.Nifti1Image(arr, np.diag([2.0, 2.0, 3.0, 1.0]), header=hdr)
        path = tmp_path / f"be_{np.dtype(dtype).name}.nii"
        nib.save(img, str(path))
        vol = sacroai.load(path)
        assert vol.header["byteorder"] == ">"
        assert vol.dtype == np.dtype(dtype)  # returned in native order
        np.testing.assert_array_equal(vol.array, arr)


def test_scaled_integers(tmp_path):
    rng = np.random.default_rng(2)
    raw = rng.integers(-1000, 3000, size=(6, 5, 4)).astype(np.int16)
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.int16)
    img = nib.Nifti1Image(raw, np.eye(4), header=hdr)
    img.header.set_slope_inter(0.5, -1024.0)
    path = tmp_path / "scaled.nii"
    # nibabel would rescale a float array; write the int16 raw values directly
    img.to_filename(str(path))
    ref = nib.load(str(path)).get_fdata()
    vol = sacroai.load(path)
    assert vol.dtype == np.float32
    np.testing.assert_allclose(vol.array, ref, rtol=1e-7)
    assert sacroai.load(path, dtype=np.float64).dtype == np.float64
    # a scaled load saved again keeps the integers and the scaling
    out = tmp_path / "again.nii"
    sacroai.save(vol, out)
    again = sacroai.load(out)
    assert again.header["datatype"] == 4 and again.header["scl_slope"] == 0.5
    np.testing.assert_array_equal(again.array, vol.array)


def test_unscaled_integers_stay_integer_and_nii_is_memory_mapped(tmp_path):
    arr = np.arange(60, dtype=np.int16).reshape(5, 4, 3)
    sacroai.save(sacroai.Volume(arr), tmp_path / "a.nii")
    vol = sacroai.load(tmp_path / "a.nii")
    assert vol.dtype == np.int16
    assert isinstance(vol.array, np.memmap)
    assert vol.array.flags.f_contiguous
    inmem = sacroai.load(tmp_path / "a.nii", mmap=False)
    assert not isinstance(inmem.array, np.memmap)
    np.testing.assert_array_equal(inmem.array, arr)
    # copy-on-write: writing to the map never touches the file
    vol.array[0, 0, 0] = 999
    assert sacroai.load(tmp_path / "a.nii").array[0, 0, 0] == 0


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "keep.nii.gz"
    sacroai.save(sacroai.Volume(np.ones((3, 3, 3), np.float32)), path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="dtype"):
        sacroai.save(sacroai.Volume(np.ones((3, 3, 3), dtype=object)), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.nii.gz"]


def test_save_into_missing_folder_raises_and_keeps_nothing(tmp_path):
    with pytest.raises(OSError, match="missing"):
        sacroai.save(sacroai.Volume(np.ones((2, 2, 2), np.float32)), tmp_path / "missing" / "x.nii")


def test_save_rejects_a_bad_name(tmp_path):
    with pytest.raises(ValueError, match=r"\.nii"):
        sacroai.save(sacroai.Volume(np.ones((2, 2, 2), np.float32)), tmp_path / "x.png")


def test_bool_and_float16_are_widened(tmp_path):
    sacroai.save(sacroai.Volume(np.ones((2, 2, 2), bool)), tmp_path / "b.nii")
    assert sacroai.load(tmp_path / "b.nii").dtype == np.uint8
    sacroai.save(sacroai.Volume(np.ones((2, 2, 2), np.float16)), tmp_path / "h.nii")
    assert sacroai.load(tmp_path / "h.nii").dtype == np.float32


def test_exact_file_is_read_not_a_neighbour(tmp_path):
    """A .nii beside a .nii.gz of the same name is never substituted."""
    sacroai.save(sacroai.Volume(np.zeros((2, 2, 2), np.int16)), tmp_path / "x.nii")
    sacroai.save(sacroai.Volume(np.ones((2, 2, 2), np.int16)), tmp_path / "x.nii.gz")
    assert sacroai.load(tmp_path / "x.nii.gz").array.sum() == 8
    assert sacroai.load(tmp_path / "x.nii").array.sum() == 0
