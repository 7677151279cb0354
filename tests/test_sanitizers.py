"""The C code under AddressSanitizer and UndefinedBehaviorSanitizer.

Builds a sanitized copy of the extension (RETROPROP_DEV=1 RETROPROP_SANITIZE=1:
-Wall -Wextra -Wshadow -Werror, so the build is also warning-free) in a
temporary directory, and runs a representative part of the suite on it in a
subprocess with the sanitizer runtimes preloaded: parity on every kernel
(a subset of the cases), bad input, the catalogue, the trainer, threads and
memory, and a short fuzz. Any sanitizer report fails the test.

Skipped where it cannot run: outside a source tree, not Linux, no gcc, no libasan, or when this
suite is itself already running under the sanitizers (see the README's
Development section for the full manual run).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The subset: every kernel's parity cases on negative strides (a fifth of the
# registry), the other parity tests, bad input, the catalogue, the trainer,
# threads, zero copy, a short fuzz and the hostile reproducers. Not the leak
# tests: ASan keeps freed memory in quarantine, so resident memory grows by
# design.
SUBSET = [
    "tests/test_parity.py", "tests/test_bad_input.py", "tests/test_bad_input_catalogue.py",
    "tests/test_mlp.py", "tests/test_threads_memory.py", "tests/test_zero_copy.py",
    "tests/test_fuzz.py", "tests/test_hostile.py",
    "-k", "(not test_kernel_matches_reference or neg) and not leak",
]
REPORTS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def runtime(name):
    """The absolute path of gcc's sanitizer runtime `name`, or None."""
    try:
        out = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if os.path.isabs(out) and os.path.exists(out) else None


def test_sanitized_build_runs_the_suite_clean(tmp_path):
    if not (ROOT / "src").is_dir() or not (ROOT / "setup.py").is_file():
        pytest.skip("needs the source tree (src/, setup.py): this run tests an installed package")
    if not sys.platform.startswith("linux"):
        pytest.skip("the sanitizer build is set up for Linux and gcc")
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build the sanitized extension with")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("already running under the sanitizers")
    asan, ubsan = runtime("libasan.so"), runtime("libubsan.so")
    if asan is None or ubsan is None:
        pytest.skip("gcc has no libasan / libubsan runtime here")

    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copytree(ROOT / "python", tmp_path / "python",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    env = dict(os.environ, RETROPROP_DEV="1", RETROPROP_SANITIZE="1")
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"sanitized build failed:\n{build.stdout}\n{build.stderr}"

    # Reports go to files too: a process the sanitizer stops has no time to
    # print what pytest captured.
    logs = tmp_path / "reports"
    logs.mkdir()
    env = dict(os.environ,
               PYTHONPATH=str(tmp_path / "python"),
               LD_PRELOAD=f"{asan} {ubsan}",
               # CPython and NumPy keep memory to the end on purpose: no leak check
               ASAN_OPTIONS=f"detect_leaks=0:log_path={logs / 'asan'}",
               UBSAN_OPTIONS=f"print_stacktrace=1:halt_on_error=1:log_path={logs / 'ubsan'}",
               RETROPROP_FUZZ_EXAMPLES="10",   # a short fuzz,
               HYPOTHESIS_PROFILE="ci")        # of fixed examples
    which = subprocess.run([sys.executable, "-c", "import retroprop._core as c; print(c.__file__)"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert which.returncode == 0, which.stderr
    assert which.stdout.startswith(str(tmp_path)), f"not the sanitized build: {which.stdout}"

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--capture=sys", "-x", *SUBSET],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    output += "".join(f.read_text(errors="replace") for f in sorted(logs.iterdir()))
    for report in REPORTS:
        assert report not in output, f"sanitizer report:\n{output[-20000:]}"
    assert run.returncode == 0, f"the suite failed under the sanitizers:\n{output[-20000:]}"
