"""Build the retroprop C extension: pure kernels in src/kernels, the binding in src/.

The extension links nothing but the C library: large products run on NumPy's
own matmul loop, found at import (src/numpy_gemm.c), not on a BLAS of ours.
Compiler flags are chosen per compiler (see CompilerFlags below).
"""
import os
import subprocess
from pathlib import Path

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The oldest NumPy we run against (pyproject.toml: numpy>=1.24). Building with
# NumPy 2 headers and this target keeps the extension importable on 1.24+.
NPY_API = "NPY_1_24_API_VERSION"

DEV = bool(os.environ.get("RETROPROP_DEV"))
SANITIZE = bool(os.environ.get("RETROPROP_SANITIZE"))


def compiler_family(compiler):
    """"msvc", "clang" or "gcc" (MinGW's gcc included) for a distutils compiler."""
    if compiler.compiler_type == "msvc":
        return "msvc"
    if compiler.compiler_type in ("mingw32", "cygwin"):
        return "gcc"
    try:
        version = subprocess.run([compiler.compiler_so[0], "--version"], capture_output=True,
                                 text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError, IndexError):
        version = ""
    return "clang" if "clang" in version.lower() else "gcc"


def compile_flags(family):
    """The flags every retroprop source is compiled with, by compiler family."""
    if family == "msvc":
        # no contraction into fused multiply-adds, exceptions as written
        return ["/fp:precise"]
    # -ffp-contract=off: no fused multiply-add unless written, so gcc, clang,
    # x86-64 and arm64 give the same bits (and the same bits as NumPy).
    flags = ["-std=c99", "-ffp-contract=off"]
    if family == "clang":
        # clang assumes by default that floating-point status flags are never
        # read, and evaluates both sides of `z > 0 ? z : 0` or hoists a
        # division out of a branch: NaN then raises "invalid" where the code
        # as written does not, and NumPy's ufunc machinery, which reads the
        # flags, warns. gcc keeps the flags as written by default.
        flags.append("-ftrapping-math")
    if DEV:
        flags += ["-Wall", "-Wextra", "-Wshadow", "-Werror", "-O1", "-g"]
    if SANITIZE:
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    if not (DEV or SANITIZE):
        # Release builds ship no debug info (Python's own CFLAGS often hold -g;
        # the last -g option wins).
        flags.append("-g0")
    return flags


class CompilerFlags(build_ext):
    """build_ext that picks the flags for the compiler actually used, and
    drops the interpreter's own runpath (pyenv and some distributions put
    -Wl,-rpath,<their lib dir> into LDSHARED) from the extension's link: the
    extension links no library of that directory."""

    def build_extensions(self):
        family = compiler_family(self.compiler)
        for ext in self.extensions:
            ext.extra_compile_args = compile_flags(family) + list(ext.extra_compile_args or [])
            if SANITIZE and family != "msvc":
                ext.extra_link_args = ["-fsanitize=address,undefined"] + list(ext.extra_link_args or [])
        linker = getattr(self.compiler, "linker_so", None)
        if isinstance(linker, list):
            self.compiler.linker_so = [arg for arg in linker
                                       if not arg.startswith(("-Wl,-rpath", "-Wl,-R", "-Wl,--enable-new-dtags"))]
        super().build_extensions()


ext = Extension(
    "retroprop._core",
    sources=["src/args.c", "src/layers.c", "src/losses.c", "src/network.c", "src/module.c",
             "src/numpy_gemm.c", "src/program.c", "src/kernels/rp_kernels.c",
             "src/kernels/rp_net.c", "src/kernels/rp_program.c", "src/kernels/rp_registry.c"],
    # the headers: a change to one rebuilds the extension
    depends=sorted(str(p) for p in Path("src").glob("*.h")) +
            sorted(str(p) for p in Path("src/kernels").glob("*.h")),
    include_dirs=[np.get_include(), "src/kernels"],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", NPY_API),
        ("NPY_TARGET_VERSION", NPY_API),
    ],
)

setup(ext_modules=[ext], cmdclass={"build_ext": CompilerFlags})
