"""Build the retroprop C extension: pure kernels in src/kernels, one binding in src/."""
import os
import sys

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

sanitize_link = ["-fsanitize=address,undefined"] if os.environ.get("RETROPROP_SANITIZE") else []

ext = Extension(
    "retroprop._core",
    sources=["src/binding.c", "src/kernels/rp_kernels.c", "src/kernels/rp_net.c"],
    include_dirs=[np.get_include(), "src/kernels"],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", NPY_API),
        ("NPY_TARGET_VERSION", NPY_API),
    ],
    extra_compile_args=extra_compile_args,
    extra_link_args=sanitize_link,
)

setup(ext_modules=[ext])
