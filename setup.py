"""Build the retroprop C extension: pure kernels in src/kernels, the binding in src/."""
import os
import sys
from pathlib import Path

import numpy as np
from setuptools import Extension, setup

# The oldest NumPy we run against (pyproject.toml: numpy>=1.23). Building with
# NumPy 2 headers and this target keeps the extension importable on 1.23+.
NPY_API = "NPY_1_23_API_VERSION"

if sys.platform == "win32":
    extra_compile_args = ["/fp:precise"]
else:
    # -ffp-contract=off: no fused multiply-add unless written, so gcc, clang,
    # x86-64 and arm64 give the same bits (and the same bits as NumPy).
    extra_compile_args = ["-std=c99", "-ffp-contract=off"]
    if os.environ.get("RETROPROP_DEV"):
        extra_compile_args += ["-Wall", "-Wextra", "-Wshadow", "-Werror", "-O1", "-g"]
    if os.environ.get("RETROPROP_SANITIZE"):
        extra_compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]

# BLAS for large products: the OpenBLAS of the scipy-openblas32 wheel (a build
# and run requirement in pyproject.toml). retroprop/__init__.py imports it
# first, which loads the library that _core links against by its soname.
# Without it the extension still builds, with every product in its own loop.
try:
    import scipy_openblas32 as openblas
except ImportError:
    openblas = None

sanitize_link = ["-fsanitize=address,undefined"] if os.environ.get("RETROPROP_SANITIZE") else []

blas = {}
if openblas is not None and not os.environ.get("RETROPROP_NO_BLAS"):
    blas = dict(
        include_dirs=[openblas.get_include_dir()],
        library_dirs=[openblas.get_lib_dir()],
        libraries=[openblas.get_library()],
        define_macros=[("RP_HAVE_CBLAS", "1"), ("BLAS_SYMBOL_PREFIX", "scipy_")],
    )

ext = Extension(
    "retroprop._core",
    sources=["src/args.c", "src/layers.c", "src/losses.c", "src/network.c", "src/module.c",
             "src/kernels/rp_kernels.c", "src/kernels/rp_net.c", "src/kernels/rp_registry.c"],
    # the headers: a change to one rebuilds the extension
    depends=["src/binding.h"] + sorted(str(p) for p in Path("src/kernels").glob("*.h")),
    include_dirs=[np.get_include(), "src/kernels"] + blas.get("include_dirs", []),
    library_dirs=blas.get("library_dirs", []),
    libraries=blas.get("libraries", []),
    define_macros=[
        ("NPY_NO_DEPRECATED_API", NPY_API),
        ("NPY_TARGET_VERSION", NPY_API),
    ]
    + blas.get("define_macros", []),
    extra_compile_args=extra_compile_args,
    extra_link_args=sanitize_link,
)

setup(ext_modules=[ext])
