"""Threads and build facts: one knob for OpenBLAS and the core's OpenMP loops."""
from __future__ import annotations

import os
import sys

from . import _core


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in OpenBLAS and in the core's own parallel loops.

    The default is ``OMP_NUM_THREADS`` when set, else the number of cores this
    process may run on.  When several Python threads (joblib, Dask workers)
    each call sacroai, give each ``n = cores // workers`` to avoid
    oversubscription.
    """
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive number of threads, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The thread count used by OpenBLAS and the core's loops."""
    return _core.get_num_threads()


def build_info() -> dict:
    """Build and run-time facts as a dict (what :func:`show_config` prints)."""
    info = dict(_core.build_info())
    info["openblas_coretype_env"] = os.environ.get("OPENBLAS_CORETYPE")
    from ._version import __version__
    info["sacroai"] = __version__
    import numpy
    info["numpy"] = numpy.__version__
    info["python"] = sys.version.split()[0]
    return info


def show_config(file=None) -> dict:
    """Print what the core was built with and what it runs with now.

    Reports the BLAS (origin, OpenBLAS core type and threading model, thread
    count), libnifti, the gzip backend, compiler flags and OpenMP.  When
    ``OPENBLAS_CORETYPE`` is set in the environment OpenBLAS honours it (for
    example ``Haswell`` selects the AVX2 kernels on an AVX-512 machine, about
    half the speed); the variable is shown so timings can be read correctly.
    Returns the same facts as a dict.
    """
    info = build_info()
    omp = info["openmp"]
    lines = [
        f"sacroai {info['sacroai']} (Python {info['python']}, NumPy {info['numpy']})",
        f"  threads        : {info['threads']} (OpenBLAS reports {info['blas_threads']})",
        f"  BLAS           : {info['blas_build']}",
        f"  BLAS core      : {info['blas_corename']} ({info['blas_parallel']} threading)",
        f"  BLAS config    : {info['blas_config'].strip()}",
        f"  OPENBLAS_CORETYPE: {info['openblas_coretype_env'] or '(not set)'}",
        f"  libnifti       : {info['nifti_build']}",
        f"  gzip           : {info['deflate']}",
        f"  OpenMP         : {omp if omp else 'no'}",
        f"  compiler       : {info['compiler']}",
        f"  flags          : {info['cflags']}",
    ]
    print("\n".join(lines), file=file or sys.stdout)
    return info


_core.set_num_threads(_default_threads())
