"""NIfTI-1/NIfTI-2 reading and writing through the C core (libnifti headers).

Supported: ``.nii``, ``.nii.gz``, ``.hdr``/``.img`` pairs (optionally
gzipped), NIfTI-1 and NIfTI-2, 1 to 7 dimensions, either byte order, and every
NIfTI datatype NumPy can hold (RGB24/RGBA32 as structured ``R, G, B(, A)``
uint8 records, as nibabel).
"""
from __future__ import annotations

import os

import numpy as np

from .. import _core
from .._core import FileFormatError
from .. import _geometry as geo
from ..volume import Volume

# NIfTI datatype code -> NumPy dtype (native byte order)
_RGB24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
_RGBA32 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")])
NIFTI_DTYPES = {
    2: np.dtype(np.uint8), 4: np.dtype(np.int16), 8: np.dtype(np.int32), 16: np.dtype(np.float32),
    32: np.dtype(np.complex64), 64: np.dtype(np.float64), 128: _RGB24, 256: np.dtype(np.int8),
    512: np.dtype(np.uint16), 768: np.dtype(np.uint32), 1024: np.dtype(np.int64),
    1280: np.dtype(np.uint64), 1792: np.dtype(np.complex128), 2304: _RGBA32,
}
if np.dtype(np.longdouble).itemsize == 16:
    NIFTI_DTYPES[1536] = np.dtype(np.longdouble)
if np.dtype(np.clongdouble).itemsize == 32:
    NIFTI_DTYPES[2048] = np.dtype(np.clongdouble)
_CODE_OF = {}
for _code, _dt in NIFTI_DTYPES.items():
    _CODE_OF.setdefault(_dt, _code)

SPACE_UNITS = {0: "unknown", 1: "m", 2: "mm", 3: "um"}
TIME_UNITS = {0: "unknown", 8: "sec", 16: "msec", 24: "usec", 32: "hz", 40: "ppm", 48: "rads"}
_TO_SECONDS = {8: 1.0, 16: 1e-3, 24: 1e-6}
_TO_MM = {1: 1000.0, 2: 1.0, 3: 1e-3}
INTENT_NAMES = {0: "none", 2: "correl", 3: "ttest", 4: "ftest", 5: "zscore", 6: "chisq",
                7: "beta", 8: "binom", 9: "gamma", 10: "poisson", 11: "normal", 22: "pval",
                1001: "estimate", 1002: "label", 1003: "neuroname", 1004: "genmatrix",
                1005: "symmatrix", 1006: "dispvect", 1007: "vector", 1008: "pointset",
                1009: "triangle", 1010: "quaternion", 1011: "dimless", 2001: "time_series",
                2002: "node_index", 2003: "rgb_vector", 2004: "rgba_vector", 2005: "shape"}


def _slope_inter(info) -> tuple:
    """NIfTI scaling as nibabel reads it: a slope of 0 or non-finite means unscaled."""
    slope, inter = info["scl_slope"], info["scl_inter"]
    if slope == 0 or not np.isfinite(slope):
        return None
    if not np.isfinite(inter):
        inter = 0.0
    if slope == 1.0 and inter == 0.0:
        return None
    return float(slope), float(inter)


def _affine(info, no_code_affine: str) -> np.ndarray:
    if info["sform_code"] > 0:
        return np.array(info["sform"])
    if info["qform_code"] > 0:
        return np.array(info["qform"])
    pix = np.abs(info["pixdim"][1:4])
    pix[pix == 0] = 1.0
    if no_code_affine == "nibabel":
        return geo.shape_zoom_affine(info["shape"], pix, x_flip=True)
    return np.diag([pix[0], pix[1], pix[2], 1.0])


def _header(info, path) -> dict:
    tu = info["time_units"]
    pixdim = np.array(info["pixdim"])
    tr = float(pixdim[4]) * _TO_SECONDS.get(tu, 1.0) if len(info["shape"]) > 3 else None
    return {
        "file": os.fspath(path),
        "nifti_version": info["nifti_version"],
        "datatype": info["datatype"],
        "datatype_name": str(NIFTI_DTYPES[info["datatype"]]),
        "byteorder": ">" if info["big_endian"] else "<",
        "vox_offset": info["vox_offset"],
        "scl_slope": info["scl_slope"],
        "scl_inter": info["scl_inter"],
        "cal_min": info["cal_min"],
        "cal_max": info["cal_max"],
        "qform_code": info["qform_code"],
        "sform_code": info["sform_code"],
        "qform": np.array(info["qform"]),
        "sform": np.array(info["sform"]),
        "pixdim": pixdim,
        "space_units": SPACE_UNITS.get(info["xyz_units"], "unknown"),
        "time_units": TIME_UNITS.get(tu, "unknown"),
        "xyz_units": info["xyz_units"],
        "time_units_code": tu,
        "TR": tr,
        "toffset": info["toffset"],
        "dim_info": (info["freq_dim"], info["phase_dim"], info["slice_dim"]),
        "slice_code": info["slice_code"],
        "slice_start": info["slice_start"],
        "slice_end": info["slice_end"],
        "slice_duration": info["slice_duration"],
        "intent": INTENT_NAMES.get(info["intent_code"], str(info["intent_code"])),
        "intent_code": info["intent_code"],
        "intent_params": tuple(float(p) for p in info["intent_params"]),
        "intent_name": info["intent_name"],
        "descrip": info["descrip"],
        "aux_file": info["aux_file"],
        "extensions": list(info["extensions"]),
    }


def _read_raw(info, mmap) -> np.ndarray:
    """The stored voxels in native byte order, Fortran-ordered, unscaled."""
    dtype = NIFTI_DTYPES[info["datatype"]]
    shape = tuple(info["shape"])
    native = not info["swapped"] or info["swapsize"] == 0
    if mmap and not info["data_gz"] and native and info["nbytes"] > 0:
        return np.memmap(info["data_path"], dtype=dtype, mode="c", offset=info["vox_offset"],
                         shape=shape, order="F")
    prefix = info["vox_offset"] if info["data_gz"] else 0
    align = max(dtype.alignment, 1)
    buf = np.empty(prefix + info["nbytes"] + align, dtype=np.uint8)
    # shift so that the voxels (after the prefix) start on an aligned address
    shift = (-(buf.ctypes.data + prefix)) % align
    buf = buf[shift: shift + prefix + info["nbytes"]]
    _core.read_file_bytes(info["data_path"], info["data_gz"], info["vox_offset"], buf)
    raw = buf[prefix:]
    if not native:
        _core.byteswap(raw, info["swapsize"])
    return raw.view(dtype).reshape(shape, order="F")


def _apply_scaling(raw: np.ndarray, scaling, dtype) -> np.ndarray:
    if scaling is None:
        if dtype is None or np.dtype(dtype) == raw.dtype:
            return raw
        return raw.astype(dtype, order="F")
    slope, inter = scaling
    if dtype is None:
        dtype = np.float64 if raw.dtype in (np.float64, np.int64, np.uint64) else np.float32
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or raw.dtype.kind not in "iuf" or raw.dtype.itemsize > 8:
        out = raw.astype(np.result_type(dtype, np.float64)) * slope + inter
        return out.astype(dtype, copy=False)
    out = np.empty(raw.shape, dtype=dtype, order="F")
    flat_in = raw.reshape(-1, order="F")
    _core.scale(np.ascontiguousarray(flat_in) if not flat_in.flags.c_contiguous else flat_in,
                slope, inter, out.reshape(-1, order="F"))
    return out


def load(path, *, dtype=None, mmap="auto", no_code_affine: str = "nibabel") -> Volume:
    """Read a NIfTI-1/2 file into a :class:`~sacroai.Volume`.

    Parameters
    ----------
    path : str or os.PathLike
        ``.nii``, ``.nii.gz``, or either file of a ``.hdr``/``.img`` pair.
        The exact file named is read (a ``.nii`` beside a ``.nii.gz`` is
        never substituted).
    dtype : numpy dtype, optional
        Output type.  ``None`` keeps unscaled data in its stored type (an
        int16 CT stays int16) and gives float32 for scaled data (float64 when
        the stored type is float64 or 64-bit integer).  Scaling follows NIfTI:
        ``value = stored * scl_slope + scl_inter``; a slope of 0 (or NaN)
        means unscaled.
    mmap : {"auto", True, False}
        Memory-map uncompressed, native-order, unscaled data (no copy: a big
        scan costs nothing until read; copy-on-write, the file is never
        modified).  ``False`` reads into memory.
    no_code_affine : {"nibabel", "nifti"}
        The affine when both ``sform_code`` and ``qform_code`` are 0.  The
        default follows nibabel (and so MONAI and TorchIO): the Analyze
        convention, x flipped and the array centre at the origin, so that
        such files land on the same grid in all of them.  ``"nifti"`` gives
        the NIfTI standard's "method 1", ``diag(pixdim)`` with no offset (as
        libnifti and ITK).

    Returns
    -------
    Volume
        ``array`` indexed ``[i, j, k, ...]`` and the affine chosen as nibabel
        chooses it: the sform when ``sform_code > 0``, else the qform when
        ``qform_code > 0``, else ``no_code_affine``.  ``header`` holds the
        fields that matter (datatype, scl_slope/scl_inter, qform/sform and
        codes, units, intent, descrip, TR in seconds, extensions, …).

    Raises
    ------
    FileNotFoundError
        The file (or the other file of a pair) does not exist.
    sacroai.FileFormatError
        A corrupt, truncated or unsupported file; the message names the file
        and the defect.  It is an ``OSError`` and a ``ValueError``.
    """
    if no_code_affine not in ("nibabel", "nifti"):
        raise ValueError(f"no_code_affine must be 'nibabel' or 'nifti', got {no_code_affine!r}")
    if mmap not in ("auto", True, False):
        raise ValueError(f"mmap must be 'auto', True or False, got {mmap!r}")
    if dtype is not None:
        dtype = np.dtype(dtype)
    path = os.fspath(path)
    info = _core.nifti_read_info(path)
    scaling = _slope_inter(info)
    if NIFTI_DTYPES[info["datatype"]].names is not None:
        scaling = None  # RGB is never scaled
    use_mmap = bool(mmap) and scaling is None and (dtype is None or dtype == NIFTI_DTYPES[info["datatype"]])
    raw = _read_raw(info, use_mmap)
    affine = _affine(info, no_code_affine)
    which = "sform" if info["sform_code"] > 0 else "qform" if info["qform_code"] > 0 else "pixdim"
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise FileFormatError(f"{path}: the {which} affine is singular or not finite: {affine[:3].tolist()}")
    array = _apply_scaling(raw, scaling, dtype)
    return Volume(array, affine, header=_header(info, path))


# ---------------------------------------------------------------- saving

def _nifti_code(dtype: np.dtype) -> int:
    dt = np.dtype(dtype)
    dt = dt if dt.isnative else dt.newbyteorder("=")
    if dt in _CODE_OF:
        return _CODE_OF[dt]
    raise TypeError(f"volume dtype {dtype} has no NIfTI datatype; convert it first "
                    f"(supported: {sorted({str(d) for d in NIFTI_DTYPES.values()})})")


def _is_rotation_zoom(affine: np.ndarray) -> bool:
    m = affine[:3, :3]
    zooms = np.sqrt((m ** 2).sum(axis=0))
    r = m / zooms
    return np.allclose(r.T @ r, np.eye(3), atol=1e-6)


def _encode_scaled(array: np.ndarray, header: dict):
    """Re-encode a float array with the integer type and scaling it was read
    with, when that is lossless (so load -> save round-trips the header)."""
    code = header.get("datatype")
    slope, inter = header.get("scl_slope", 0.0), header.get("scl_inter", 0.0)
    stored = NIFTI_DTYPES.get(code)
    if stored is None or stored.kind not in "iu" or array.dtype.kind != "f":
        return None
    if _slope_inter({"scl_slope": slope, "scl_inter": inter}) is None:
        return None
    raw = np.rint((np.asarray(array, dtype=np.float64) - inter) / slope)
    info = np.iinfo(stored)
    if raw.size and (raw.min() < info.min or raw.max() > info.max):
        return None
    back = raw * slope + inter
    tol = np.finfo(array.dtype).eps * 4 * max(1.0, float(np.max(np.abs(back))) if back.size else 1.0)
    if back.size and np.max(np.abs(back - array)) > tol:
        return None
    return raw.astype(stored), slope, inter


def _pad(values, n, fill=0.0):
    v = list(values)[:n]
    return v + [fill] * (n - len(v))


def save(volume: Volume, path, *, nifti_version: int | None = None, compresslevel: int = 1) -> None:
    """Write ``volume`` to ``path`` (``.nii``, ``.nii.gz``, ``.hdr``/``.img``).

    The file is written to a temporary name in the same folder and renamed
    into place, so an interrupted save never leaves a half-written scan and
    never destroys the previous file.

    Geometry: the volume's affine is written as the sform (code from the
    header, else 2 = aligned) and, when it is a rotation with zooms, as the
    qform too (else qform_code 0).  A volume loaded from a file and saved
    unchanged keeps both forms and their codes exactly.  A float array that
    was read from scaled integers is written back as those integers with the
    same ``scl_slope``/``scl_inter`` when that is lossless; otherwise the
    array's own dtype is written unscaled.

    Parameters
    ----------
    nifti_version : {None, 1, 2}
        ``None`` keeps the loaded file's version, else NIfTI-1 unless a
        dimension exceeds 32767.
    compresslevel : int
        gzip level 1-9 for ``.gz`` names (1, nibabel's default, is fastest).
    """
    if not isinstance(volume, Volume):
        raise TypeError(f"volume must be a sacroai.Volume, not {type(volume).__name__}")
    if not 1 <= int(compresslevel) <= 9:
        raise ValueError(f"compresslevel must be 1 to 9, got {compresslevel}")
    h = volume.header
    array = volume.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)
    slope, inter = 1.0, 0.0
    encoded = _encode_scaled(array, h)
    if encoded is not None:
        array, slope, inter = encoded
    elif "scl_slope" in h and _slope_inter({"scl_slope": h["scl_slope"], "scl_inter": h.get("scl_inter", 0.0)}) is None:
        slope, inter = h["scl_slope"], h.get("scl_inter", 0.0)  # an "unscaled" marker, kept as read
    code = _nifti_code(array.dtype)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    data = np.asfortranarray(array).reshape(-1, order="F")

    affine = volume.affine
    loaded_affine = None
    if h.get("sform_code", 0) > 0 and "sform" in h:
        loaded_affine = np.asarray(h["sform"])
    elif h.get("qform_code", 0) > 0 and "qform" in h:
        loaded_affine = np.asarray(h["qform"])
    geometry_as_loaded = loaded_affine is not None and np.array_equal(loaded_affine, affine)
    if geometry_as_loaded:
        qform, sform = np.asarray(h["qform"]), np.asarray(h["sform"])
        qcode, scode = int(h["qform_code"]), int(h["sform_code"])
    else:
        sform, scode = affine, int(h.get("sform_code", 0)) or 2
        if _is_rotation_zoom(affine):
            qform, qcode = affine, int(h.get("qform_code", 0)) or scode
        else:
            qform, qcode = affine, 0

    ndim = array.ndim
    pixdim = _pad(np.asarray(h.get("pixdim", np.ones(8)), dtype=np.float64), 8, 1.0)
    nsp = volume.spatial_ndim
    if not geometry_as_loaded:  # the qform is built from pixdim: keep them consistent
        pixdim[1:1 + nsp] = geo.voxel_sizes(affine, nsp)
    time_code = int(h.get("time_units_code", 8 if ndim > 3 else 0))
    if ndim > 3 and h.get("TR") is not None:
        pixdim[4] = float(h["TR"]) / _TO_SECONDS.get(time_code, 1.0)
    header = {
        "shape": tuple(int(s) for s in array.shape),
        "nifti_version": int(nifti_version or h.get("nifti_version", 0) or 0),
        "datatype": code,
        "nbyper": array.dtype.itemsize,
        "pixdim": np.asarray(pixdim),
        "scl_slope": float(slope),
        "scl_inter": float(inter),
        "cal_min": float(h.get("cal_min", 0.0)),
        "cal_max": float(h.get("cal_max", 0.0)),
        "qform_code": qcode,
        "sform_code": scode,
        "qform": np.asarray(qform, dtype=np.float64),
        "sform": np.asarray(sform, dtype=np.float64),
        "xyz_units": int(h.get("xyz_units", 2)),
        "time_units": time_code,
        "toffset": float(h.get("toffset", 0.0)),
        "freq_dim": int(h.get("dim_info", (0, 0, 0))[0]),
        "phase_dim": int(h.get("dim_info", (0, 0, 0))[1]),
        "slice_dim": int(h.get("dim_info", (0, 0, 0))[2]),
        "slice_code": int(h.get("slice_code", 0)),
        "slice_start": int(h.get("slice_start", 0)),
        "slice_end": int(h.get("slice_end", 0)),
        "slice_duration": float(h.get("slice_duration", 0.0)),
        "intent_code": int(h.get("intent_code", 0)),
        "intent_params": np.asarray(_pad(h.get("intent_params", ()), 3), dtype=np.float64),
        "intent_name": str(h.get("intent_name", "")),
        "descrip": str(h.get("descrip", "")),
        "aux_file": str(h.get("aux_file", "")),
        "extensions": [(int(c), bytes(b)) for c, b in h.get("extensions", [])],
    }
    if header["nifti_version"] not in (0, 1, 2):
        raise ValueError(f"nifti_version must be 1 or 2, got {nifti_version}")
    _core.nifti_write(os.fspath(path), header, data.view(np.uint8), int(compresslevel))
