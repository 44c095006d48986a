"""Preprocessing transforms for CT/MRI volumes and radiographs.

Import as ``sacroai.transforms``.  Every function takes a
:class:`sacroai.Volume` (or a bare array) and returns a Volume whose affine
keeps voxels at their world positions (mm, RAS+).

Geometry
    :func:`reorient` (axis codes, no interpolation), :func:`resample`
    (spacing / shape / target grid; orders 0, 1, 3 on the
    ``scipy.ndimage.affine_transform`` grid; nnU-Net's anisotropic rule),
    :func:`resample_labels`, :func:`target_spacing`, :func:`crop_to_mask`,
    :func:`crop_or_pad`, :func:`extract_patch`.
Intensity
    :func:`zscore`, :func:`percentile` (exactly ``numpy.percentile``),
    :func:`clip_percentiles`, :func:`minmax`, :func:`ct_window` (HU),
    :class:`CTNormalizer` (nnU-Net CT scheme), :class:`NyulNormalizer`
    (MRI histogram standardization); fitted objects save to JSON.
Filters
    :func:`gaussian_smooth` (sigma in mm), :func:`hessian_eigenvalues`,
    :func:`frangi` vesselness (2-D and 3-D).
Augmentation
    :class:`Compose` and seeded random transforms that record what they drew.

Extra array axes (time, channels) are trailing, as in nibabel arrays.
"""
from .orientation import reorient
from .resample import anisotropic_axis, resample, resample_labels, target_spacing

__all__ = ["reorient", "resample", "resample_labels", "target_spacing", "anisotropic_axis"]
from .crop import bounding_box, crop_or_pad, crop_to_mask, extract_patch

__all__ += ["crop_to_mask", "crop_or_pad", "extract_patch", "bounding_box"]
from .normalize import (CTNormalizer, NyulNormalizer, clip_percentiles, ct_window, minmax, percentile,
                        zscore)

__all__ += ["zscore", "percentile", "clip_percentiles", "minmax", "ct_window", "CTNormalizer",
            "NyulNormalizer"]
from .filters import frangi, gaussian_smooth, hessian_eigenvalues

__all__ += ["gaussian_smooth", "hessian_eigenvalues", "frangi"]
from .augment import (Compose, RandomAffine, RandomBiasField, RandomFlip, RandomGamma,
                      RandomIntensityScale, RandomIntensityShift, RandomNoise, RandomTransform)

__all__ += ["Compose", "RandomTransform", "RandomFlip", "RandomAffine", "RandomIntensityShift",
            "RandomIntensityScale", "RandomGamma", "RandomNoise", "RandomBiasField"]
