"""Reading and writing medical images: NIfTI through the C core, plus
conversions to nibabel and ITK-style (LPS, ``(z, y, x)``) peers."""
from .nifti import load, save
from .interop import from_nibabel, from_sitk_array, to_nibabel, to_sitk_array
from .radiograph import load_radiograph, save_radiograph

__all__ = ["load", "save", "load_radiograph", "save_radiograph", "to_nibabel", "from_nibabel", "to_sitk_array", "from_sitk_array"]
