"""The pure C kernels' own test program (tests/c/harness.c, no Python).

tests/c/run.sh builds it with a compiler and runs it; it checks products to
the bit, elementwise values, the floating-point status flags and a small
fit, for every instruction set the processor runs, and prints a digest of
the bits of every result. Here it runs with the system's cc, with clang, and
cross-compiled for aarch64 under qemu-user: each where available, and each
must print the digest the system's cc does (the same bits everywhere).
"""
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_SH = ROOT / "tests" / "c" / "run.sh"
KERNELS = ROOT / "src" / "kernels" / "rp_kernels.c"

TARGETS = {
    "cc": dict(CC="cc"),
    "clang": dict(CC="clang"),
    "aarch64-qemu": dict(CC="aarch64-linux-gnu-gcc",
                         RUN="qemu-aarch64-static -L /usr/aarch64-linux-gnu"),
}


def _skip_reason(target):
    if not KERNELS.exists():
        return "needs the source tree (src/kernels): not in an installed package"
    if sys.platform == "win32" or shutil.which("bash") is None:
        return "tests/c/run.sh is a bash script"
    env = TARGETS[target]
    if shutil.which(env["CC"]) is None:
        return f"no {env['CC']} here"
    if "RUN" in env and shutil.which(env["RUN"].split()[0]) is None:
        return f"no {env['RUN'].split()[0]} here"
    if target == "aarch64-qemu" and not Path("/usr/aarch64-linux-gnu/lib").exists():
        return "no aarch64 C library (libc6-dev-arm64-cross)"
    return None


@functools.lru_cache(maxsize=None)
def _run(target):
    run = subprocess.run(["bash", str(RUN_SH)], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, **TARGETS[target]))
    return run


@pytest.mark.parametrize("target", list(TARGETS))
def test_c_harness(target):
    reason = _skip_reason(target)
    if reason:
        pytest.skip(reason)
    run = _run(target)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"tests/c/run.sh with {target} failed:\n{output[-5000:]}"
    assert re.search(r"^harness: \d+ checks, 0 failed$", run.stdout, re.M), output[-5000:]
    digest = re.search(r"^digest ([0-9a-f]{16})$", run.stdout, re.M).group(1)
    if target != "cc" and _skip_reason("cc") is None:
        native = re.search(r"^digest ([0-9a-f]{16})$", _run("cc").stdout, re.M)
        assert native is not None, _run("cc").stdout[-2000:]
        assert digest == native.group(1), f"{target} gives other bits than cc:\n{output}"
