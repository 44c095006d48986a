"""Radiograph I/O: PNG/TIFF round trips, DICOM written on the fly with pydicom, errors."""
import os

import numpy as np
import pytest

import sacroai
from sacroai.io.radiograph import load_radiograph, save_radiograph

Image = pytest.importorskip("PIL.Image")


def _pixels(shape=(23, 31), top=65535, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, top + 1, size=shape)


# ---------------------------------------------------------------- PNG / TIFF

@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("bits", [8, 16])
def test_round_trip_exact(tmp_path, ext, bits):
    a = _pixels(top=2 ** bits - 1, seed=bits).astype(np.uint8 if bits == 8 else np.uint16)
    vol = sacroai.Volume.from_radiograph(a, (0.15, 0.2))
    p = tmp_path / f"img{ext}"
    save_radiograph(vol, p, bits=bits)
    # Pillow (the peer) sees the right bit depth and the same pixels
    with Image.open(p) as img:
        assert img.mode == ("L" if bits == 8 else "I;16")
        np.testing.assert_array_equal(np.asarray(img).astype(np.int64), a)
    back = load_radiograph(p, pixel_spacing=None if ext != ".png" else (0.15, 0.2))
    assert back.array.dtype == np.float32 and back.shape == a.shape
    np.testing.assert_array_equal(back.array, a.astype(np.float32))
    assert back.header["bits_stored"] == bits
    np.testing.assert_allclose(back.spacing, (0.15, 0.2), rtol=1e-6)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp_")]


def test_png_without_spacing_says_what_is_needed(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(p)
    with pytest.raises(ValueError, match="no pixel spacing.*pixel_spacing=\\(row_mm, col_mm\\)"):
        load_radiograph(p)
    vol = load_radiograph(p, pixel_spacing=0.5)
    assert vol.spacing == (0.5, 0.5) and vol.header["spacing_source"] == "pixel_spacing argument"


def test_tiff_resolution_in_inch_written_by_pillow(tmp_path):
    p = tmp_path / "a.tif"
    Image.fromarray(np.zeros((4, 5), np.uint16)).save(p, dpi=(254, 127))  # x 254 dpi, y 127 dpi
    vol = load_radiograph(p)
    np.testing.assert_allclose(vol.spacing, (0.2, 0.1), rtol=1e-6)  # row from y, col from x
    assert "inch" in vol.header["spacing_source"]
    # an explicit argument overrides the file
    assert load_radiograph(p, pixel_spacing=(1, 2)).spacing == (1.0, 2.0)


def test_tiff_without_resolution_needs_spacing(tmp_path):
    p = tmp_path / "a.tif"
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(p)
    with pytest.raises(ValueError, match="no pixel spacing"):
        load_radiograph(p)


def test_rgb_converted_to_gray_with_warning(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 200, 50
    p = tmp_path / "c.png"
    Image.fromarray(rgb).save(p)
    with pytest.warns(UserWarning, match="grayscale"):
        vol = load_radiograph(p, pixel_spacing=1.0)
    np.testing.assert_allclose(vol.array, 0.299 * 100 + 0.587 * 200 + 0.114 * 50, rtol=1e-6)


def test_save_rejects_out_of_range_and_rescales(tmp_path):
    vol = sacroai.Volume.from_radiograph(np.array([[-1.0, 2.0], [3.5, 4.0]]), (1, 1))
    with pytest.raises(ValueError, match="integers in 0..65535.*rescale=True"):
        save_radiograph(vol, tmp_path / "a.png")
    save_radiograph(vol, tmp_path / "a.png", rescale=True)
    back = load_radiograph(tmp_path / "a.png", pixel_spacing=1)
    assert back.array.min() == 0 and back.array.max() == 65535
    np.testing.assert_allclose(back.array[0, 1], round(3 / 5 * 65535))
    with pytest.raises(ValueError, match="bits"):
        save_radiograph(vol, tmp_path / "b.png", bits=12, rescale=True)
    with pytest.raises(ValueError, match="path must end in"):
        save_radiograph(vol, tmp_path / "b.jpg", rescale=True)
    with pytest.raises(ValueError, match="2-D"):
        save_radiograph(sacroai.Volume(np.zeros((2, 2, 2))), tmp_path / "c.png")
    with pytest.raises(TypeError, match="volume"):
        save_radiograph(np.zeros((2, 2)), tmp_path / "c.png")


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    good = sacroai.Volume.from_radiograph(np.full((3, 3), 7, np.uint16), (1, 1))
    save_radiograph(good, p)

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(RuntimeError):
        save_radiograph(sacroai.Volume.from_radiograph(np.zeros((3, 3), np.uint16), (1, 1)), p)
    monkeypatch.undo()
    assert np.all(load_radiograph(p, pixel_spacing=1).array == 7)
    assert os.listdir(tmp_path) == ["a.png"]


def test_saved_file_has_ordinary_permissions(tmp_path):
    save_radiograph(sacroai.Volume.from_radiograph(np.zeros((3, 3), np.uint16), (1, 1)), tmp_path / "a.tif")
    (tmp_path / "ref.txt").write_text("x")
    assert os.stat(tmp_path / "a.tif").st_mode == os.stat(tmp_path / "ref.txt").st_mode


def test_missing_and_non_image_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_radiograph(tmp_path / "nope.png", pixel_spacing=1)
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(sacroai.FileFormatError, match="notes.png"):
        load_radiograph(bad, pixel_spacing=1)
    with pytest.raises(ValueError, match="pixel_spacing"):
        load_radiograph(bad, pixel_spacing=(1, -1))


# ---------------------------------------------------------------- DICOM

pydicom = pytest.importorskip("pydicom")


def _write_dicom(path, pixels, *, photometric="MONOCHROME2", bits_stored=None, signed=False,
                 pixel_spacing=None, imager_spacing=None, slope=None, intercept=None, frames=1):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image for Presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    pixels = np.asarray(pixels)
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored or 16
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = list(imager_spacing)
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_dicom_monochrome2_pixel_spacing(tmp_path):
    a = _pixels((20, 30), top=4095)
    p = _write_dicom(tmp_path / "a.dcm", a, bits_stored=12, pixel_spacing=(0.14, 0.15),
                     imager_spacing=(0.16, 0.17))
    vol = load_radiograph(p)
    np.testing.assert_array_equal(vol.array, a)
    assert vol.spacing == (0.14, 0.15)  # PixelSpacing preferred over ImagerPixelSpacing
    assert "(0028,0030)" in vol.header["spacing_source"] and not vol.header["inverted"]
    # peer: pydicom's own pixel array
    np.testing.assert_array_equal(vol.array, pydicom.dcmread(p).pixel_array)


def test_dicom_imager_pixel_spacing_when_pixel_spacing_absent(tmp_path):
    p = _write_dicom(tmp_path / "a.dcm", _pixels((5, 6), top=100), imager_spacing=(0.16, 0.17))
    vol = load_radiograph(p)
    assert vol.spacing == (0.16, 0.17)
    assert "ImagerPixelSpacing (0018,1164)" == vol.header["spacing_source"]


def test_dicom_without_spacing(tmp_path):
    p = _write_dicom(tmp_path / "a.dcm", _pixels((5, 6), top=100))
    with pytest.raises(ValueError, match="no pixel spacing.*pixel_spacing="):
        load_radiograph(p)
    assert load_radiograph(p, pixel_spacing=(0.2, 0.3)).spacing == (0.2, 0.3)


def test_dicom_monochrome1_inverted_so_bone_is_bright(tmp_path):
    # MONOCHROME1: low stored values are white; bone stored low must come back high
    a = np.array([[0, 10, 4095], [100, 2000, 4000]])
    p = _write_dicom(tmp_path / "m1.dcm", a, photometric="MONOCHROME1", bits_stored=12, pixel_spacing=(1, 1))
    vol = load_radiograph(p)
    np.testing.assert_array_equal(vol.array, 4095 - a)
    assert vol.header["inverted"] and vol.header["photometric"] == "MONOCHROME1"
    # the same image stored as MONOCHROME2 with inverted values reads identically
    p2 = _write_dicom(tmp_path / "m2.dcm", 4095 - a, bits_stored=12, pixel_spacing=(1, 1))
    np.testing.assert_array_equal(load_radiograph(p2).array, vol.array)


def test_dicom_rescale_slope_intercept(tmp_path):
    a = np.array([[0, 1, 2], [1000, 2000, 3000]])
    p = _write_dicom(tmp_path / "r.dcm", a, pixel_spacing=(1, 1), slope=0.5, intercept=-1024)
    vol = load_radiograph(p)
    np.testing.assert_allclose(vol.array, a * 0.5 - 1024)
    # rescale then MONOCHROME1 inversion over the rescaled 12-bit range [-1024, 1023.5]
    p1 = _write_dicom(tmp_path / "r1.dcm", a, photometric="MONOCHROME1", bits_stored=12, pixel_spacing=(1, 1),
                      slope=0.5, intercept=-1024)
    np.testing.assert_allclose(load_radiograph(p1).array, (4095 - a) * 0.5 - 1024)


def test_dicom_bits_stored_masks_high_bits(tmp_path):
    a = np.array([[1, 4095], [17, 300]])
    with_overlay = a | (1 << 14)  # garbage above Bits Stored = 12
    p = _write_dicom(tmp_path / "o.dcm", with_overlay, bits_stored=12, pixel_spacing=(1, 1))
    np.testing.assert_array_equal(load_radiograph(p).array, a)


def test_dicom_signed(tmp_path):
    a = np.array([[-1000, 0], [5, 2047]])
    p = _write_dicom(tmp_path / "s.dcm", a, signed=True, bits_stored=12, pixel_spacing=(1, 1))
    np.testing.assert_array_equal(load_radiograph(p).array, a)


def test_dicom_multiframe_needs_frame(tmp_path):
    a = _pixels((3, 4, 5), top=1000)
    p = _write_dicom(tmp_path / "mf.dcm", a, pixel_spacing=(1, 1), frames=3)
    with pytest.raises(ValueError, match="3 frames.*frame="):
        load_radiograph(p)
    for f in range(3):
        np.testing.assert_array_equal(load_radiograph(p, frame=f).array, a[f])
    with pytest.raises(ValueError, match="frame must be an integer from 0 to 2"):
        load_radiograph(p, frame=3)


def test_dicom_rgb_converted_to_gray(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # secondary capture
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PlanarConfiguration = 4, 5, 3, 0
    ds.PhotometricInterpretation = "RGB"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelSpacing = [0.3, 0.3]
    ds.PixelData = rgb.tobytes()
    p = tmp_path / "rgb.dcm"
    ds.save_as(p, enforce_file_format=True)
    with pytest.warns(UserWarning, match="grayscale"):
        vol = load_radiograph(p)
    np.testing.assert_allclose(vol.array, 0.299 * 10 + 0.587 * 20 + 0.114 * 30, rtol=1e-6)
    assert vol.spacing == (0.3, 0.3)


def test_dicom_without_pixels_and_broken(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.PatientName = "Phantom"
    p = tmp_path / "nopix.dcm"
    ds.save_as(p, enforce_file_format=True)
    with pytest.raises(sacroai.FileFormatError, match="nopix.dcm.*pixel data"):
        load_radiograph(p, pixel_spacing=1)
    q = tmp_path / "trunc.dcm"
    good = _write_dicom(tmp_path / "g.dcm", _pixels((40, 40)), pixel_spacing=(1, 1))
    q.write_bytes(good.read_bytes()[:400])
    with pytest.raises(sacroai.FileFormatError, match="trunc.dcm"):
        load_radiograph(q)


def test_missing_pydicom_message(tmp_path, monkeypatch):
    import builtins
    p = _write_dicom(tmp_path / "a.dcm", _pixels((4, 4)), pixel_spacing=(1, 1))
    real_import = builtins.__import__

    def no_pydicom(name, *a, **k):
        if name == "pydicom" or name.startswith("pydicom."):
            raise ImportError("No module named 'pydicom'")
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_pydicom)
    with pytest.raises(ImportError, match="pip install 'sacroai\\[dicom\\]'"):
        load_radiograph(p)
