"""Reading and writing 2-D radiographs: PNG, TIFF (Pillow) and DICOM (pydicom).

A radiograph is a 2-D :class:`sacroai.Volume` indexed ``[row, col]`` whose
spacing is ``(row_mm, col_mm)`` (the order of the DICOM *Pixel Spacing*
attribute), built with :meth:`sacroai.Volume.from_radiograph`.  Values are
returned as ``float32`` with bone bright.

Where the pixel spacing comes from
----------------------------------
* DICOM: *Pixel Spacing* (0028,0030) when present.  Otherwise, for
  projection radiographs, *Imager Pixel Spacing* (0018,1164).  The two differ:
  Pixel Spacing is the spacing in the patient (or a calibrated plane, see
  *Pixel Spacing Calibration Type*), whereas Imager Pixel Spacing is measured
  at the front face of the detector and therefore includes the geometric
  magnification of the projection (typically 5-20 % for a pelvis).  We use
  Imager Pixel Spacing as-is, without dividing by *Estimated Radiographic
  Magnification Factor* (0018,1114), because that factor is an estimate for
  one plane only; the header records which tag was used
  (``header["spacing_source"]``) and the factor when the file has one
  (``header["magnification_factor"]``).
* TIFF: the *XResolution* / *YResolution* tags when *ResolutionUnit* is a
  physical unit (2 = inch, 3 = centimetre): row spacing from YResolution, column
  spacing from XResolution.  Beware: some programs write a display default
  (72 or 96 dpi) that says nothing about the patient; pass ``pixel_spacing=``
  to override it.
* PNG: none (its optional pHYs chunk is a display hint and is ignored).

An explicit ``pixel_spacing=`` argument always overrides what the file says.
A file with no spacing and no argument raises ``ValueError``.
"""
from __future__ import annotations

import os
import secrets
import warnings

import numpy as np

from .._core import FileFormatError
from ..volume import Volume

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_SAVE_FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}
_MM_PER_UNIT = {2: 25.4, 3: 10.0}  # TIFF ResolutionUnit: 2 inch, 3 centimetre


def _no_spacing_error(path, what):
    return ValueError(f"{path}: a radiograph with no pixel spacing ({what}); pass "
                      f"pixel_spacing=(row_mm, col_mm), the size of one pixel in mm along rows and columns")


def _check_spacing(pixel_spacing):
    try:
        sp = np.asarray(pixel_spacing, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        sp = np.array([np.nan])
    if sp.size == 1:
        sp = np.repeat(sp, 2)
    if sp.size != 2 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"pixel_spacing must be (row_mm, col_mm), two positive finite sizes in mm "
                         f"(or one for square pixels), got {pixel_spacing!r}")
    return (float(sp[0]), float(sp[1]))


def _sniff(path) -> str:
    with open(path, "rb") as f:
        head = f.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head[:4] in _TIFF_MAGICS:
        return "tiff"
    if os.path.splitext(path)[1].lower() in (".dcm", ".dicom"):
        return "dicom"  # DICOM without the 128-byte preamble
    return "other"


def _rgb_to_gray(arr, path):
    warnings.warn(f"{path}: colour image converted to grayscale (ITU-R 601 luma: 0.299 R + 0.587 G + 0.114 B)",
                  UserWarning, stacklevel=3)
    rgb = arr[..., :3].astype(np.float64)
    # weighted sum without a BLAS product (NumPy's BLAS threads would spin after it)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def load_radiograph(path, pixel_spacing=None, *, frame=None, dtype=np.float32) -> Volume:
    """Read a 2-D radiograph from a PNG, TIFF or DICOM file.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG or TIFF (8- or 16-bit grayscale; colour images are converted to
        gray with a warning) or a DICOM file (needs the optional dependency
        pydicom: ``pip install 'sacroai[dicom]'``).
    pixel_spacing : (row_mm, col_mm) or float, optional
        Pixel size in mm.  Required for a PNG and for a TIFF or DICOM file that
        carries no spacing (see the module docstring); when given it
        overrides the file's own spacing.
    frame : int, optional
        For a multi-frame DICOM (*Number of Frames* > 1): which frame to read
        (0-based).  Required when the file has more than one frame.
    dtype : numpy dtype
        Output dtype (default float32).

    DICOM handling: *Bits Stored* (0028,0101) masks (or sign-extends) the
    stored values; *Rescale Slope* (0028,1053) / *Rescale Intercept*
    (0028,1052) are applied; a *Photometric Interpretation* (0028,0004) of
    MONOCHROME1 (low values white) is inverted to MONOCHROME2 so bone is
    bright: ``v' = lo + hi - v`` with ``[lo, hi]`` the rescaled range of the
    *Bits Stored* values.  Values are modality values: no VOI LUT or window
    is applied, and *Presentation LUT Shape* (2050,0020) is not applied either
    (for DX images it restates the photometric interpretation: INVERSE goes
    with MONOCHROME1).  Colour DICOM (*Samples per Pixel* 3) is converted to
    gray with a warning, like colour PNG/TIFF.

    Returns
    -------
    Volume
        2-D, indexed ``[row, col]``, spacing ``(row_mm, col_mm)``.  ``header``
        holds ``format``, ``bits_stored``, ``spacing_source`` and, for DICOM,
        ``photometric`` (as stored), ``inverted``, ``rescale_slope``,
        ``rescale_intercept`` and ``n_frames``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    sacroai.FileFormatError
        The file is not a readable image (the message names it).
    ValueError
        No pixel spacing anywhere, a bad ``pixel_spacing``, or a missing or
        out-of-range ``frame``.
    ImportError
        A DICOM file and pydicom is not installed.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"radiograph file not found: {path}")
    if os.path.isdir(path):
        raise FileFormatError(f"{path}: is a folder, not a radiograph file")
    user_spacing = None if pixel_spacing is None else _check_spacing(pixel_spacing)
    kind = _sniff(path)
    if kind == "dicom":
        arr, spacing, header = _read_dicom(path, frame)
    else:
        if frame not in (None, 0):
            raise ValueError(f"frame={frame!r}: {path} is a single-frame {kind.upper()} image; frame must be None or 0")
        arr, spacing, header = _read_pillow(path)
    if user_spacing is not None:
        spacing = user_spacing
        header["spacing_source"] = "pixel_spacing argument"
    if spacing is None:
        raise _no_spacing_error(path, f"a {header['format'].upper()} file does not say its pixel size")
    header["path"] = path
    return Volume.from_radiograph(np.asarray(arr, dtype=dtype), spacing, header=header)


# ---------------------------------------------------------------- Pillow

def _read_pillow(path):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise FileFormatError(f"{path}: not a readable PNG, TIFF or DICOM image ({e})") from None
    fmt = (img.format or "image").lower()
    mode = img.mode
    if getattr(img, "n_frames", 1) > 1:
        warnings.warn(f"{path}: {img.n_frames} pages; reading the first", UserWarning, stacklevel=3)
    if mode in ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "P", "LA", "PA", "HSV", "LAB"):
        if mode == "LA":
            arr, bits = np.asarray(img.getchannel(0)), 8
        else:
            arr, bits = _rgb_to_gray(np.asarray(img.convert("RGB")), path), 8
    elif mode == "1":
        arr, bits = np.asarray(img.convert("L")), 8
    elif mode == "L":
        arr, bits = np.asarray(img), 8
    elif mode.startswith("I;16"):
        arr, bits = np.asarray(img).astype(np.uint16), 16
    elif mode in ("I", "F"):
        arr = np.asarray(img)
        bits = 32
    else:
        raise FileFormatError(f"{path}: unsupported image mode {mode!r} (expected 8- or 16-bit grayscale)")
    if arr.ndim != 2:
        raise FileFormatError(f"{path}: expected a 2-D image, got shape {arr.shape}")
    spacing, source = None, None
    if fmt == "tiff":
        spacing, source = _tiff_spacing(img)
    header = {"format": fmt, "bits_stored": bits, "spacing_source": source, "mode": mode}
    return arr, spacing, header


def _tiff_spacing(img):
    tags = getattr(img, "tag_v2", None)
    if tags is None:
        return None, None
    unit = int(tags.get(296, 2))  # ResolutionUnit; the TIFF default is inch
    xres, yres = tags.get(282), tags.get(283)
    if unit not in _MM_PER_UNIT or xres is None or yres is None:
        return None, None
    try:
        xres, yres = float(xres), float(yres)
    except (TypeError, ValueError, ZeroDivisionError):
        return None, None
    if not (np.isfinite(xres) and np.isfinite(yres) and xres > 0 and yres > 0):
        return None, None
    mm = _MM_PER_UNIT[unit]
    return (mm / yres, mm / xres), f"TIFF resolution tags ({'inch' if unit == 2 else 'cm'})"


# ---------------------------------------------------------------- DICOM

def _import_pydicom():
    try:
        import pydicom
    except ImportError:
        raise ImportError("reading DICOM radiographs needs pydicom, an optional dependency of sacroai: "
                          "pip install 'sacroai[dicom]'  (or: pip install pydicom)") from None
    return pydicom


def _read_dicom(path, frame):
    pydicom = _import_pydicom()
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as e:  # pydicom raises many types for a broken file
        raise FileFormatError(f"{path}: not a readable DICOM file ({type(e).__name__}: {e})") from None
    if "PixelData" not in ds:
        raise FileFormatError(f"{path}: DICOM file without pixel data (no (7FE0,0010) element)")
    try:
        pixels = ds.pixel_array
    except Exception as e:
        raise FileFormatError(f"{path}: cannot decode the DICOM pixel data "
                              f"(transfer syntax {getattr(ds.file_meta, 'TransferSyntaxUID', '?')}): {e}") from None
    n_frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if n_frames > 1:
        if frame is None:
            raise ValueError(f"{path} has {n_frames} frames; pass frame= (0 to {n_frames - 1}) to choose one")
        if not isinstance(frame, (int, np.integer)) or not 0 <= frame < n_frames:
            raise ValueError(f"frame must be an integer from 0 to {n_frames - 1} for {path}, got {frame!r}")
        pixels = pixels[int(frame)]
    elif frame not in (None, 0):
        raise ValueError(f"frame={frame!r}: {path} has a single frame; frame must be None or 0")

    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bits_alloc = int(getattr(ds, "BitsAllocated", pixels.dtype.itemsize * 8))
    bits = int(getattr(ds, "BitsStored", bits_alloc))
    signed = int(getattr(ds, "PixelRepresentation", 0)) == 1
    if samples > 1 or pixels.ndim == 3:
        # pydicom >= 3 already returns YBR_* data as RGB; pydicom 2 does not
        if photometric.startswith("YBR") and int(pydicom.__version__.split(".")[0]) < 3:
            from pydicom.pixel_data_handlers.util import convert_color_space
            pixels = convert_color_space(pixels, photometric, "RGB")
        arr = _rgb_to_gray(pixels, path)
        lo_s, hi_s = 0.0, float(2 ** bits - 1)
    else:
        arr = pixels.astype(np.int64)
        if bits < bits_alloc:  # drop bits above Bits Stored (overlays), sign-extend signed values
            arr &= (1 << bits) - 1
            if signed:
                arr = np.where(arr >= (1 << (bits - 1)), arr - (1 << bits), arr)
        lo_s, hi_s = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1) if signed else (0.0, 2.0 ** bits - 1)
        arr = arr.astype(np.float64)
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0) if "RescaleSlope" in ds else 1.0
    inter = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0) if "RescaleIntercept" in ds else 0.0
    arr = arr * slope + inter
    inverted = photometric == "MONOCHROME1"
    if inverted:
        lo, hi = sorted((lo_s * slope + inter, hi_s * slope + inter))
        arr = (lo + hi) - arr

    spacing, source = None, None
    for keyword, tag in (("PixelSpacing", "(0028,0030)"), ("ImagerPixelSpacing", "(0018,1164)")):
        value = getattr(ds, keyword, None)
        if value is not None and len(value) == 2:
            try:
                spacing = _check_spacing([float(v) for v in value])
            except ValueError:
                raise FileFormatError(f"{path}: invalid {keyword} {tag}: {list(value)!r}") from None
            source = f"{keyword} {tag}"
            break
    header = {"format": "dicom", "bits_stored": bits, "spacing_source": source, "photometric": photometric,
              "inverted": inverted, "rescale_slope": slope, "rescale_intercept": inter, "n_frames": n_frames,
              "modality": str(getattr(ds, "Modality", ""))}
    mag = getattr(ds, "EstimatedRadiographicMagnificationFactor", None)
    if mag is not None:
        header["magnification_factor"] = float(mag)
    return arr, spacing, header


# ---------------------------------------------------------------- saving

def save_radiograph(volume: Volume, path, *, bits: int = 16, rescale: bool = False) -> None:
    """Write a 2-D radiograph to a PNG or TIFF file (grayscale, 16-bit by default).

    The file is written to a temporary name in the same folder and renamed
    into place (``os.replace``), so an interrupted save never leaves a
    half-written image nor destroys the previous file.

    A TIFF stores the pixel spacing in its resolution tags (unit centimetre),
    so :func:`load_radiograph` reads it back; a PNG stores none (keep the
    spacing in a sidecar or pass ``pixel_spacing=`` when loading).

    Parameters
    ----------
    volume : Volume
        2-D ``[row, col]``.  Without ``rescale`` its values must be integers
        in ``0 .. 2**bits - 1`` (they are written exactly).
    path : str or os.PathLike
        ``.png``, ``.tif`` or ``.tiff``.
    bits : {8, 16}
        Bits per pixel.
    rescale : bool
        Map ``[min, max]`` of the values linearly onto ``0 .. 2**bits - 1``
        (rounded) instead of requiring integers in range.
    """
    if not isinstance(volume, Volume):
        raise TypeError(f"volume must be a sacroai.Volume, not {type(volume).__name__}")
    arr = np.asarray(volume.array)
    if arr.ndim != 2:
        raise ValueError(f"volume must be a 2-D radiograph [row, col], got {arr.ndim} dimensions")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in _SAVE_FORMATS:
        raise ValueError(f"path must end in .png, .tif or .tiff, got {path!r}")
    top = 2 ** bits - 1
    out_dtype = np.uint8 if bits == 8 else np.uint16
    if rescale:
        a = arr.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError("volume has non-finite values; cannot rescale them")
        lo, hi = float(a.min()), float(a.max())
        scaled = np.zeros_like(a) if hi == lo else (a - lo) * (top / (hi - lo))
        data = np.rint(scaled).astype(out_dtype)
    else:
        if arr.dtype.kind == "b":
            arr = arr.astype(np.uint8)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError("volume has non-finite values; pass rescale=True or clean them first")
        if arr.size and (arr.min() < 0 or arr.max() > top or
                         (arr.dtype.kind == "f" and np.any(arr != np.round(arr)))):
            raise ValueError(f"volume values must be integers in 0..{top} for a {bits}-bit file "
                             f"(got range {float(arr.min())}..{float(arr.max())}); pass rescale=True "
                             f"to map min..max onto 0..{top}")
        data = arr.astype(out_dtype)

    from PIL import Image

    data = np.ascontiguousarray(data)
    img = Image.fromarray(data)  # mode "L" for uint8, "I;16" for uint16
    kwargs = {}
    if _SAVE_FORMATS[ext] == "TIFF":
        row_mm, col_mm = volume.spacing[:2]
        kwargs = {"resolution_unit": 3, "x_resolution": 10.0 / col_mm, "y_resolution": 10.0 / row_mm}
    folder = os.path.dirname(os.path.abspath(path))
    # a fresh name in the same folder; mode 0o666 filtered by the umask, as for an ordinary file
    tmp = os.path.join(folder, f".tmp_{os.getpid()}_{secrets.token_hex(6)}{ext}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            img.save(f, format=_SAVE_FORMATS[ext], **kwargs)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
