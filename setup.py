"""Build script for sacroai's C core (``sacroai._core``).

One extension is built from the explicit source lists below.  Native
dependencies are found the standard way and the result is printed:

* OpenBLAS: ``SACROAI_BLAS_SOURCE=wheel`` forces the wheel; ``SACROAI_BLAS_DIR``
  (a prefix with ``include/`` and ``lib/``), else
  pkg-config ``openblas`` (Debian's OpenMP flavour is preferred when installed,
  because the core's own loops use OpenMP and two spinning thread pools are
  several times slower), else the ``scipy-openblas32`` wheel.
* libnifti (NIfTI-1/2 header logic): ``SACROAI_NIFTI_DIR``, else pkg-config
  ``niftiio``/``nifti2``, else Debian's ``/usr/include/nifti`` layout.
* libdeflate (fast gzip inflate for ``.nii.gz``) when available, zlib always.
"""
import os
import shlex
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# ---------------------------------------------------------------- sources
# Each core module keeps its own list; add new files here explicitly.
COMMON_SOURCES = ["csrc/common/error.c", "csrc/common/threads.c", "csrc/common/memory.c", "csrc/common/blas.c"]

IO_SOURCES = ["csrc/io/nifti.c", "csrc/io/gzip.c", "csrc/io/scale.c"]

IMAGE_SOURCES = ["csrc/image/typed.c", "csrc/image/spline.c", "csrc/image/resample.c", "csrc/image/gather.c",
                 "csrc/image/normalize.c", "csrc/image/filters.c"]

NN_SOURCES = ["csrc/nn/workspace.c", "csrc/nn/conv.c", "csrc/nn/norm.c", "csrc/nn/act.c", "csrc/nn/pool.c",
              "csrc/nn/upsample.c", "csrc/nn/linear.c", "csrc/nn/loss.c", "csrc/nn/optim.c",
              "csrc/nn/gemm_avx512.c", "csrc/nn/winograd.c", "csrc/nn/winograd43.c",
              "csrc/nn/winograd_weight.c", "csrc/nn/pool_fast.c",
              "csrc/nn/act_avx512.c", "csrc/nn/pointwise.c", "csrc/nn/pointwise_weight.c", "csrc/nn/gate.c", "csrc/nn/bn_act.c"]

SCORES_SOURCES = ["csrc/scores/sparcc_sij.c", "csrc/scores/sparcc_spine.c", "csrc/scores/sparcc_sss.c",
                  "csrc/scores/msasss.c", "csrc/scores/mny.c", "csrc/scores/asas.c", "csrc/scores/kl.c",
                  "csrc/scores/oarsi_hip.c", "csrc/scores/svdh.c", "csrc/scores/us_synovitis.c", "csrc/scores/asdas.c",
                  "csrc/scores/basdai.c", "csrc/scores/das28.c", "csrc/scores/seg_metrics.c"]

STATS_SOURCES = ["csrc/stats/sort.c", "csrc/stats/roc.c", "csrc/stats/bootstrap.c"]

PY_SOURCES = ["csrc/py/module.c", "csrc/py/py_util.c", "csrc/py/py_config.c", "csrc/py/py_io.c",
              "csrc/py/py_image.c", "csrc/py/py_nn.c", "csrc/py/py_nn_train.c", "csrc/py/py_nn_fused.c",
              "csrc/py/py_scores.c",
              "csrc/py/py_stats.c"]

ALL_SOURCES = (COMMON_SOURCES + IO_SOURCES + IMAGE_SOURCES + NN_SOURCES + SCORES_SOURCES
               + STATS_SOURCES + PY_SOURCES)


def _pkg_config(name, *flags, extra_path=None):
    env = dict(os.environ)
    if extra_path:
        env["PKG_CONFIG_PATH"] = os.pathsep.join(p for p in [extra_path, env.get("PKG_CONFIG_PATH")] if p)
    try:
        out = subprocess.run(["pkg-config", *flags, name], capture_output=True, text=True,
                             env=env, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.strip()


def _multiarch_libdir():
    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    return f"/usr/lib/{arch}"


class Dep:
    """What one native dependency contributes to the build."""

    def __init__(self, name):
        self.name = name
        self.include_dirs, self.library_dirs, self.libraries, self.define_macros = [], [], [], []
        self.origin = "not found"
        self.version = "unknown"

    def from_pkg_config(self, pc_name, extra_path=None):
        if _pkg_config(pc_name, "--exists", extra_path=extra_path) is None:
            return False
        cflags = shlex.split(_pkg_config(pc_name, "--cflags", extra_path=extra_path) or "")
        libs = shlex.split(_pkg_config(pc_name, "--libs", extra_path=extra_path) or "")
        self.include_dirs += [f[2:] for f in cflags if f.startswith("-I")]
        self.library_dirs += [f[2:] for f in libs if f.startswith("-L")]
        self.libraries += [f[2:] for f in libs if f.startswith("-l")]
        self.version = _pkg_config(pc_name, "--modversion", extra_path=extra_path) or "unknown"
        self.origin = f"pkg-config {pc_name}" + (f" ({extra_path})" if extra_path else "")
        return True


def find_openblas():
    dep = Dep("OpenBLAS")
    prefix = os.environ.get("SACROAI_BLAS_DIR")
    source = os.environ.get("SACROAI_BLAS_SOURCE", "auto")  # auto | system | wheel
    if source == "wheel":
        return _openblas_wheel(dep)
    if prefix:
        dep.include_dirs.append(os.path.join(prefix, "include"))
        dep.library_dirs.append(os.path.join(prefix, "lib"))
        dep.libraries.append(os.environ.get("SACROAI_BLAS_LIB", "openblas"))
        dep.origin = f"SACROAI_BLAS_DIR={prefix}"
        return dep
    openmp_pc = os.path.join(_multiarch_libdir(), "openblas-openmp", "pkgconfig")
    if os.path.isdir(openmp_pc) and dep.from_pkg_config("openblas", extra_path=openmp_pc):
        dep.origin += " [OpenMP flavour]"
        return dep
    if dep.from_pkg_config("openblas"):
        return dep
    if source == "system":
        sys.exit("sacroai build: SACROAI_BLAS_SOURCE=system but pkg-config finds no openblas.")
    return _openblas_wheel(dep)


def _openblas_wheel(dep):
    try:
        import scipy_openblas32 as sob
    except ImportError:
        sys.exit("sacroai build: no OpenBLAS found. Install Debian's libopenblas-openmp-dev, "
                 "or `pip install scipy-openblas32`, or set SACROAI_BLAS_DIR.")
    dep.include_dirs.append(sob.get_include_dir())
    dep.library_dirs.append(sob.get_lib_dir())
    dep.libraries.append(sob.get_library())
    dep.define_macros.append(("SAI_BLAS_SYMBOL_PREFIX_SCIPY", "1"))
    dep.origin = "scipy-openblas32 wheel"
    dep.version = getattr(sob, "__version__", "unknown")
    return dep


def find_nifti():
    dep = Dep("libnifti")
    prefix = os.environ.get("SACROAI_NIFTI_DIR")
    if prefix:
        dep.include_dirs.append(os.path.join(prefix, "include", "nifti"))
        dep.library_dirs.append(os.path.join(prefix, "lib"))
        dep.libraries += ["nifti2", "znz"]
        dep.origin = f"SACROAI_NIFTI_DIR={prefix}"
    elif not (dep.from_pkg_config("nifti2") or dep.from_pkg_config("niftiio")):
        header = "/usr/include/nifti/nifti2_io.h"
        if not os.path.exists(header):
            sys.exit("sacroai build: libnifti not found. Install Debian's libnifti2-dev "
                     "or set SACROAI_NIFTI_DIR.")
        dep.include_dirs.append("/usr/include/nifti")
        dep.libraries += ["nifti2", "znz"]
        dep.origin = "system /usr/include/nifti"
    if dep.version == "unknown":
        try:
            dep.version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libnifti2-dev"],
                                         capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return dep


def find_deflate():
    dep = Dep("libdeflate")
    if dep.from_pkg_config("libdeflate"):
        dep.define_macros.append(("SAI_HAVE_LIBDEFLATE", "1"))
    else:
        dep.origin = "not found (zlib inflate is used instead)"
    return dep


def numpy_include():
    import numpy
    return numpy.get_include()


CFLAGS = ["-std=c11", "-O3", "-fopenmp", "-fno-math-errno", "-Wall", "-Wextra",
          "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
if os.environ.get("SACROAI_NATIVE", "0") == "1":
    CFLAGS.append("-march=native")
if os.environ.get("SACROAI_SANITIZE"):
    CFLAGS += ["-fsanitize=" + os.environ["SACROAI_SANITIZE"], "-fno-omit-frame-pointer", "-O1", "-g"]
LDFLAGS = ["-fopenmp"] + (["-fsanitize=" + os.environ["SACROAI_SANITIZE"]]
                          if os.environ.get("SACROAI_SANITIZE") else [])


class BuildExtReport(build_ext):
    """build_ext that prints what the core was linked against."""

    def run(self):
        for dep in DEPS:
            print(f"sacroai build: {dep.name:10s} {dep.origin}; version {dep.version}; "
                  f"libs {dep.libraries} in {dep.library_dirs or ['default paths']}")
        super().run()


DEPS = [find_openblas(), find_nifti(), find_deflate()]


def _c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


macros = [("NPY_NO_DEPRECATED_API", "NPY_1_21_API_VERSION"), ("_GNU_SOURCE", "1"),
          ("SAI_BUILD_CFLAGS", _c_string(" ".join(CFLAGS))),
          ("SAI_BUILD_BLAS", _c_string(f"{DEPS[0].origin}; version {DEPS[0].version}")),
          ("SAI_BUILD_NIFTI", _c_string(f"{DEPS[1].origin}; version {DEPS[1].version}")),
          ("SAI_BUILD_DEFLATE", _c_string(f"{DEPS[2].origin}; version {DEPS[2].version}"))]
include_dirs = ["csrc/include", "csrc", numpy_include()]
library_dirs, libraries = [], ["z", "m"]
for dep in DEPS:
    macros += dep.define_macros
    include_dirs += dep.include_dirs
    library_dirs += dep.library_dirs
    libraries = dep.libraries + libraries

core = Extension(
    "sacroai._core",
    sources=ALL_SOURCES,
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    runtime_library_dirs=[d for d in library_dirs if d.startswith("/")],
    libraries=libraries,
    define_macros=macros,
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
    depends=[os.path.join(root, f) for root, _, files in os.walk("csrc") for f in files
             if f.endswith(".h")],
)

setup(ext_modules=[core], cmdclass={"build_ext": BuildExtReport})
