"""sacroai: rheumatology imaging research on a CPU.

NIfTI volumes with their geometry (:class:`Volume`, :func:`load`, :func:`save`),
and a C core for the numeric work.  See the README for a tour.
"""
from ._version import __version__
from ._core import FileFormatError, NumericalError, SacroaiError
from .config import get_num_threads, set_num_threads, show_config
from .volume import Volume
from .io import load, save

__all__ = [
    "__version__", "Volume", "load", "save", "set_num_threads", "get_num_threads",
    "show_config", "SacroaiError", "FileFormatError", "NumericalError",
]
