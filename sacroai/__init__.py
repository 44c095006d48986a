"""sacroai: rheumatology imaging research on a CPU.

NIfTI volumes with their geometry (:class:`Volume`, :func:`load`, :func:`save`)
and a C core for the numeric work.  Subpackages are imported on first use:
``sacroai.transforms``, ``sacroai.nn``, ``sacroai.train``, ``sacroai.scores``,
``sacroai.stats``, ``sacroai.plotting``, ``sacroai.explain``,
``sacroai.phantoms``, ``sacroai.cohort``, ``sacroai.pipelines``.
See the README for a tour.
"""
import importlib

from ._version import __version__
from ._core import FileFormatError, NumericalError, SacroaiError
from .config import get_num_threads, set_num_threads, show_config
from .volume import Volume
from .io import load, save

_SUBPACKAGES = {"transforms", "nn", "train", "scores", "stats", "plotting", "explain", "phantoms",
                "cohort", "pipelines", "io", "config"}

__all__ = [
    "__version__", "Volume", "load", "save", "set_num_threads", "get_num_threads",
    "show_config", "SacroaiError", "FileFormatError", "NumericalError", *sorted(_SUBPACKAGES),
]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sacroai' has no attribute {name!r}")
