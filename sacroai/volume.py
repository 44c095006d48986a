"""Volume: a NumPy array with the affine that places its voxels in the patient.

``Volume.affine`` maps voxel indices ``(i, j, k, 1)`` to RAS+ world
coordinates in mm, as in nibabel, MONAI and TorchIO.  Arrays are indexed
``[i, j, k, ...]`` like nibabel's (a zero-copy view of NIfTI data is
Fortran-ordered; that is fine).  Axes after the third (time, echoes,
channels) carry no geometry.

Radiographs are 2-D volumes ``[row, col]``: their affine maps
``(row, col, 0)`` to millimetres on the detector plane; use
:meth:`Volume.from_radiograph`.
"""
from __future__ import annotations

import numpy as np

from . import _geometry as geo


class Volume:
    """A voxel array plus a 4×4 affine (voxel ``(i, j, k)`` → RAS+ mm).

    Parameters
    ----------
    array : array_like, 2-D to 7-D
        Voxel values, indexed ``[i, j, k, ...]``.  Not copied (a memory map
        stays a memory map).
    affine : (4, 4) array_like, optional
        Voxel-to-world matrix in mm.  Defaults to ``diag(spacing)`` with the
        origin at 0.
    spacing : sequence of float, optional
        Voxel size in mm per spatial axis; only used when ``affine`` is None.
    header : dict, optional
        File header fields (see :func:`sacroai.load` for the keys).  Kept and
        written back by :func:`sacroai.save`.
    """

    __slots__ = ("_array", "_affine", "header")

    def __init__(self, array, affine=None, *, spacing=None, header=None):
        arr = array if isinstance(array, np.ndarray) else np.asarray(array)
        if arr.ndim < 2 or arr.ndim > 7:
            raise ValueError(f"array must have 2 to 7 dimensions (2-D radiograph, 3-D volume, "
                             f"extra axes for time/channels), got {arr.ndim}")
        nsp = 2 if arr.ndim == 2 else 3
        if affine is None:
            if spacing is None:
                spacing = (1.0,) * nsp
            sp = np.asarray(spacing, dtype=np.float64).ravel()
            if sp.size != nsp:
                raise ValueError(f"spacing must have {nsp} values for a {arr.ndim}-D array, got {sp.size}")
            if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
                raise ValueError(f"spacing must be positive and finite (mm), got {sp.tolist()}")
            affine = np.eye(4)
            affine[np.arange(nsp), np.arange(nsp)] = sp
        elif spacing is not None:
            raise ValueError("give either affine or spacing, not both")
        aff = geo.check_affine(affine)
        if abs(np.linalg.det(aff[:3, :3])) < 1e-12 and nsp == 3:
            raise ValueError("affine is singular: its voxel axes do not span 3-D space")
        self._array = arr
        self._affine = aff
        self._affine.setflags(write=False)
        self.header = dict(header) if header else {}

    # ------------------------------------------------------------ basics
    @property
    def array(self) -> np.ndarray:
        """The voxel array, indexed ``[i, j, k, ...]``."""
        return self._array

    @property
    def affine(self) -> np.ndarray:
        """4×4 voxel-to-world (RAS+, mm) matrix, read-only."""
        return self._affine

    @property
    def shape(self) -> tuple:
        return self._array.shape

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def ndim(self) -> int:
        return self._array.ndim

    @property
    def spatial_ndim(self) -> int:
        """2 for a radiograph, else 3."""
        return 2 if self._array.ndim == 2 else 3

    @property
    def spatial_shape(self) -> tuple:
        return self._array.shape[: self.spatial_ndim]

    @property
    def spacing(self) -> tuple:
        """Voxel size in mm along each spatial voxel axis."""
        return geo.voxel_sizes(self._affine, self.spatial_ndim)

    @property
    def origin(self) -> np.ndarray:
        """World position (mm) of the centre of voxel (0, 0, 0)."""
        return self._affine[:3, 3].copy()

    @property
    def orientation(self) -> str:
        """Axis codes, e.g. ``"RAS"``: the direction each voxel axis points to."""
        return geo.axcodes(self._affine, self.spatial_ndim)

    @property
    def is_radiograph(self) -> bool:
        return self._array.ndim == 2

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._array, dtype=dtype, copy=True)
        return np.asarray(self._array, dtype=dtype)

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:.3g}" for s in self.spacing)
        return (f"Volume(shape={self.shape}, dtype={self.dtype}, spacing=({sp}) mm, "
                f"orientation={self.orientation!r})")

    # ------------------------------------------------------------ derived
    def with_array(self, array, affine=None) -> "Volume":
        """A new Volume with ``array`` and this volume's affine (or ``affine``) and header."""
        return Volume(array, self._affine if affine is None else affine, header=self.header)

    def copy(self) -> "Volume":
        """A deep copy (the array is copied into memory)."""
        return Volume(np.array(self._array, copy=True), self._affine.copy(), header=_copy_header(self.header))

    def world(self, ijk) -> np.ndarray:
        """World coordinates (mm) of voxel indices ``ijk`` of shape (..., 2 or 3)."""
        ijk = np.asarray(ijk, dtype=np.float64)
        n = ijk.shape[-1]
        return ijk @ self._affine[:3, :n].T + self._affine[:3, 3]

    def index(self, xyz) -> np.ndarray:
        """Continuous voxel indices of world points ``xyz`` (mm), shape (..., 3)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        inv = np.linalg.inv(self._affine)
        return xyz @ inv[:3, :3].T + inv[:3, 3]

    # ------------------------------------------------------------ construction
    @classmethod
    def from_radiograph(cls, pixels, pixel_spacing, header=None) -> "Volume":
        """A 2-D radiograph ``[row, col]`` with ``pixel_spacing = (row_mm, col_mm)``.

        The DICOM *Pixel Spacing* attribute is (row spacing, column spacing),
        the same order.
        """
        arr = np.asarray(pixels)
        if arr.ndim != 2:
            raise ValueError(f"pixels must be a 2-D [row, col] array, got {arr.ndim} dimensions")
        return cls(arr, spacing=tuple(float(s) for s in np.ravel(pixel_spacing)), header=header)

    # ------------------------------------------------------------ interop
    def to_nibabel(self):
        """This volume as a ``nibabel.Nifti1Image`` (see :mod:`sacroai.io.interop`)."""
        from .io.interop import to_nibabel
        return to_nibabel(self)

    @classmethod
    def from_nibabel(cls, img, dtype=None) -> "Volume":
        """A Volume from a nibabel spatial image (scaling applied as nibabel does)."""
        from .io.interop import from_nibabel
        return from_nibabel(img, dtype=dtype)

    def to_sitk_array(self):
        """``(array_zyx, spacing_xyz, origin_lps, direction_lps)`` for ITK-style peers.

        See :func:`sacroai.io.interop.to_sitk_array`.
        """
        from .io.interop import to_sitk_array
        return to_sitk_array(self)

    @classmethod
    def from_sitk_array(cls, array_zyx, spacing, origin, direction) -> "Volume":
        """Inverse of :meth:`to_sitk_array`."""
        from .io.interop import from_sitk_array
        return from_sitk_array(array_zyx, spacing, origin, direction)


def _copy_header(h: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else list(v) if isinstance(v, list) else v)
            for k, v in h.items()}
