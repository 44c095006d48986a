"""Preprocessing transforms: orientation, resampling, cropping, intensity
normalization, filters and seeded augmentation.  Import as
``sacroai.transforms``."""
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
