"""Corrupt, truncated and absurd files, made on the fly: each raises a clear
exception naming the file and the defect, never crashes or leaks."""
import gzip
import resource
import struct

import numpy as np
import pytest

import sacroai

# byte offsets in a NIfTI-1 header
SIZEOF_HDR, DIM, DATATYPE, PIXDIM, VOX_OFFSET, MAGIC = 0, 40, 70, 76, 108, 344


@pytest.fixture
def good_nii(tmp_path):
    path = tmp_path / "good.nii"
    sacroai.save(sacroai.Volume(np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6), spacing=(1, 1, 2)), path)
    return path


def _patched(src, dst, offset, fmt, *values, gz=False):
    raw = bytearray(src.read_bytes())
    struct.pack_into(fmt, raw, offset, *values)
    data = gzip.compress(bytes(raw)) if gz else bytes(raw)
    dst.write_bytes(data)
    return dst


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nii"):
        sacroai.load(tmp_path / "nope.nii")


def test_missing_img_of_a_pair(tmp_path):
    sacroai.save(sacroai.Volume(np.zeros((2, 2, 2), np.uint8)), tmp_path / "p.hdr")
    (tmp_path / "p.img").unlink()
    with pytest.raises(FileNotFoundError, match=r"p\.img"):
        sacroai.load(tmp_path / "p.hdr")


@pytest.mark.parametrize("gz", [False, True])
def test_bad_sizeof_hdr(good_nii, tmp_path, gz):
    bad = _patched(good_nii, tmp_path / ("b.nii.gz" if gz else "b.nii"), SIZEOF_HDR, "<i", 1234, gz=gz)
    with pytest.raises(sacroai.FileFormatError, match=r"b\.nii.*sizeof_hdr 1234"):
        sacroai.load(bad)


def test_bad_magic(good_nii, tmp_path):
    bad = _patched(good_nii, tmp_path / "m.nii", MAGIC, "4s", b"xyz\0")
    with pytest.raises(sacroai.FileFormatError, match=r"m\.nii.*magic 'xyz"):
        sacroai.load(bad)


@pytest.mark.parametrize("dim0, dims, message", [
    (3, (-4, 5, 6), r"dim\[1\] = -4"),
    (3, (4, 0, 6), r"dim\[2\] = 0"),
    (9, (4, 5, 6), r"dim\[0\] = 9"),
])
def test_bad_dimensions(good_nii, tmp_path, dim0, dims, message):
    bad = _patched(good_nii, tmp_path / "d.nii", DIM, "<4h", dim0, *dims)
    with pytest.raises(sacroai.FileFormatError, match=message):
        sacroai.load(bad)


@pytest.mark.parametrize("gz", [False, True])
def test_absurd_dimensions_are_rejected_before_allocating(good_nii, tmp_path, gz):
    # 30000^3 int16 voxels = 54 TB: more than memory and more than the file holds
    bad = _patched(good_nii, tmp_path / ("a.nii.gz" if gz else "a.nii"), DIM, "<4h", 3, 30000, 30000, 30000, gz=gz)
    with pytest.raises(sacroai.FileFormatError, match=r"a\.nii"):
        sacroai.load(bad)


@pytest.mark.parametrize("value", [float("nan"), 0.0, float("inf")])
def test_bad_pixdim(good_nii, tmp_path, value):
    bad = _patched(good_nii, tmp_path / "p.nii", PIXDIM + 8, "<f", value)
    with pytest.raises(sacroai.FileFormatError, match=r"pixdim\[2\]"):
        sacroai.load(bad)


@pytest.mark.parametrize("code", [1, 3, 9999])
def test_unsupported_datatype(good_nii, tmp_path, code):
    bad = _patched(good_nii, tmp_path / "t.nii", DATATYPE, "<h", code)
    with pytest.raises(sacroai.FileFormatError, match=f"datatype code {code}"):
        sacroai.load(bad)


def test_data_shorter_than_header_says(good_nii, tmp_path):
    raw = good_nii.read_bytes()
    short = tmp_path / "s.nii"
    short.write_bytes(raw[:-10])
    with pytest.raises(sacroai.FileFormatError, match=r"s\.nii: data block shorter"):
        sacroai.load(short)
    gz = tmp_path / "s.nii.gz"
    gz.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(sacroai.FileFormatError, match=r"s\.nii\.gz.*(shorter|truncated)"):
        sacroai.load(gz)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_truncated_gzip(tmp_path, keep):
    rng = np.random.default_rng(0)
    path = tmp_path / "full.nii.gz"
    sacroai.save(sacroai.Volume(rng.integers(0, 1000, size=(40, 40, 40)).astype(np.int16)), path)
    raw = path.read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(sacroai.FileFormatError, match=r"cut\.nii\.gz.*(truncated|corrupt|ends|short)"):
        sacroai.load(cut)


def test_corrupt_gzip_body(tmp_path):
    path = tmp_path / "c.nii.gz"
    sacroai.save(sacroai.Volume(np.arange(8000, dtype=np.float32).reshape(20, 20, 20)), path)
    raw = bytearray(path.read_bytes())
    for i in range(200, 260):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    with pytest.raises(sacroai.FileFormatError, match=r"c\.nii\.gz"):
        sacroai.load(path)


def test_empty_and_tiny_files(tmp_path):
    (tmp_path / "e.nii").write_bytes(b"")
    with pytest.raises(sacroai.FileFormatError, match=r"e\.nii.*too short"):
        sacroai.load(tmp_path / "e.nii")
    (tmp_path / "t.nii").write_bytes(struct.pack("<i", 348) + b"\0" * 20)
    with pytest.raises(sacroai.FileFormatError, match=r"t\.nii"):
        sacroai.load(tmp_path / "t.nii")


def test_errors_are_oserror_and_valueerror(good_nii, tmp_path):
    bad = _patched(good_nii, tmp_path / "x.nii", SIZEOF_HDR, "<i", 7)
    for cls in (OSError, ValueError, sacroai.SacroaiError):
        with pytest.raises(cls):
            sacroai.load(bad)


def test_random_bytes_never_crash(tmp_path):
    """Random headers with a valid sizeof_hdr and magic: an exception or a
    volume, never a crash or a read past the buffer."""
    rng = np.random.default_rng(42)
    for trial in range(300):
        raw = bytearray(rng.integers(0, 256, size=352 + int(rng.integers(0, 200)), dtype=np.uint8).tobytes())
        struct.pack_into("<i", raw, 0, 348)
        struct.pack_into("4s", raw, MAGIC, b"n+1\0")
        if trial % 2:  # plausible small dims and a known datatype, random rest
            struct.pack_into("<4h", raw, DIM, 3, 2, 2, 2)
            struct.pack_into("<h", raw, DATATYPE, 4)
        path = tmp_path / f"r{trial}.nii"
        path.write_bytes(bytes(raw))
        try:
            sacroai.load(path)
        except (sacroai.FileFormatError, FileNotFoundError):
            pass


def test_no_leak_when_loading_corrupt_files_in_a_loop(good_nii, tmp_path):
    bad = _patched(good_nii, tmp_path / "l.nii", DIM, "<4h", 3, 4, 5, 60)  # claims 10x the data
    ext = tmp_path / "ext.nii.gz"
    vol = sacroai.Volume(np.zeros((8, 8, 8), np.float32), header={"extensions": [(6, b"x" * 10000)]})
    sacroai.save(vol, ext)

    def churn(n):
        for _ in range(n):
            with pytest.raises(sacroai.FileFormatError):
                sacroai.load(bad)
            sacroai.load(ext)
    churn(200)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    churn(2000)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 20_000, f"resident set grew by {grown_kb} kB over 2000 loads"


def test_argument_errors(good_nii):
    with pytest.raises(ValueError, match="no_code_affine"):
        sacroai.load(good_nii, no_code_affine="itk")
    with pytest.raises(ValueError, match="mmap"):
        sacroai.load(good_nii, mmap="yes")
    with pytest.raises(TypeError, match="Volume"):
        sacroai.save(np.zeros((2, 2, 2)), good_nii)
    with pytest.raises(ValueError, match="compresslevel"):
        sacroai.save(sacroai.load(good_nii), good_nii.with_suffix(".nii.gz"), compresslevel=0)
