"""Large products run on NumPy's own matmul: one BLAS, NumPy's bits, no
library of ours in the process.

retroprop brings no BLAS: products above SMALL_GEMM_WORK multiply-adds go to
the inner loop np.matmul itself runs (src/numpy_gemm.c), which calls the BLAS
NumPy was built with. So a large product gives exactly np.matmul's bits, and
importing retroprop loads no shared library and changes no symbol binding of
NumPy's libraries (the bug this replaced: a second OpenBLAS loaded with
global symbols, to which NumPy's LAPACK helpers then bound).
"""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import retroprop as rp
from retroprop import _core

from util import arrange

LINUX = sys.platform.startswith("linux")

# (m, k, n) above the threshold: square, the trainer's shapes (digits 64-32-10,
# batches of 32), matrix-vector, vector-matrix, a dot, an outer product.
SHAPES = [(64, 64, 64), (32, 64, 32), (32, 32, 10), (300, 17, 5), (1, 500, 300), (300, 500, 1),
          (1, 2000, 1), (200, 1, 200), (129, 257, 65)]


def test_large_products_run_on_numpy_matmul():
    assert _core.LARGE_GEMM == "numpy.matmul"
    assert _core.SMALL_GEMM_WORK == 1024


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("orders", [("C", "C"), ("F", "C"), ("C", "F"), ("T", "T")])
def test_matmul_has_numpy_bits(shape, dtype, orders):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k + n)
    A = arrange(rng.standard_normal((m, k)).astype(dtype), orders[0])
    B = arrange(rng.standard_normal((k, n)).astype(dtype), orders[1])
    want = np.matmul(A, B)
    got = rp.matmul(A, B)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    # into an out= stored by columns: computed as C.T = B.T @ A.T, same values
    out = np.empty((n, m), dtype).T
    assert rp.matmul(A, B, out=out) is out
    np.testing.assert_allclose(out, want, rtol=5e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_layers_have_numpy_bits(dtype):
    """Z = X @ W + b and the unaveraged gradients are NumPy's to the bit."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((64, 48)).astype(dtype)
    W = rng.standard_normal((48, 32)).astype(dtype)
    b = rng.standard_normal(32).astype(dtype)
    Z, _ = rp.dense_forward(X, W, b, activation="identity")
    np.testing.assert_array_equal(Z, X @ W + b)
    delta = rng.standard_normal((64, 32)).astype(dtype)
    dW, db, dX = rp.dense_backward(delta, X, W)
    np.testing.assert_array_equal(dW, X.T @ delta)
    np.testing.assert_array_equal(dX, delta @ W.T)


def test_small_products_stay_in_our_loop():
    """At or below SMALL_GEMM_WORK the C loop runs: it sums in double, so a
    float32 product is the double product rounded once, which a float32 BLAS
    is not in general."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((8, 16)).astype(np.float32)
    B = rng.standard_normal((16, 8)).astype(np.float32)
    assert 8 * 16 * 8 <= _core.SMALL_GEMM_WORK
    want = (A.astype(np.float64) @ B.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(rp.matmul(A, B), want)


@pytest.mark.parametrize("order", ["slice", "neg"])
def test_strides_blas_cannot_read_stay_in_our_loop(order):
    rng = np.random.default_rng(5)
    A = arrange(rng.standard_normal((40, 30)), order)
    B = rng.standard_normal((30, 20))
    np.testing.assert_allclose(rp.matmul(A, B), np.asarray(A) @ B, rtol=1e-12, atol=1e-12)


def test_fit_with_large_layers_in_threads():
    """The fit loop calls NumPy's matmul loop from C without the GIL: two
    networks trained in parallel threads give their sequential results."""
    import threading

    rng = np.random.default_rng(11)
    X = rng.standard_normal((64, 40))
    Y = (rng.random((64, 3)) < 0.5).astype(float)

    def make():
        return rp.MLP([40, 64, 3], loss="bce", lr=0.1, seed=1)

    alone = make()
    alone.fit(X, Y, epochs=20)
    nets = [make(), make()]
    threads = [threading.Thread(target=net.fit, args=(X, Y), kwargs=dict(epochs=20)) for net in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for net in nets:
        for w, w0 in zip(net.weights, alone.weights):
            np.testing.assert_array_equal(w, w0)


# ---------------------------------------------------------------------------
# Linking: what importing retroprop does to the process (Linux)

def _run(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, **env))


@pytest.mark.skipif(not LINUX, reason="ldd (Linux)")
def test_extension_links_only_the_c_library():
    run = subprocess.run(["ldd", _core.__file__], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        pytest.skip(f"ldd cannot read {_core.__file__}: {run.stderr.strip()}")
    names = [line.split()[0] for line in run.stdout.splitlines() if line.strip()]
    if any("libasan" in n for n in names):
        pytest.skip("a sanitizer build links the sanitizer runtimes (README: Development)")
    others = [n for n in names if not re.match(r"(linux-vdso|linux-gate|libc|libm|libpthread|libdl|"
                                               r"/lib.*/ld-linux|ld-linux)[.-]", os.path.basename(n) if n.startswith("/") else n)]
    assert others == [], f"_core links {others}:\n{run.stdout}"


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/maps (Linux)")
def test_import_loads_no_shared_library():
    """After NumPy, importing retroprop maps no new shared library but its
    own extension and CPython's extension modules (with the system libraries
    those need, such as liblzma for the lzma module)."""
    run = _run("""
        import numpy, numpy.linalg

        def libraries():
            with open("/proc/self/maps") as f:
                return {line.split()[-1] for line in f if ".so" in line.split()[-1]}

        before = libraries()
        import retroprop
        for path in sorted(libraries() - before):
            print(path)
        print("core", retroprop._core.__file__)
    """)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    core = lines[-1].split(" ", 1)[1]
    new = [p for p in lines[:-1] if os.path.realpath(p) != os.path.realpath(core)
           and not re.search(r"\.(cpython-[^/]*|abi3)\.so$", p)
           and not re.match(r"/(usr/)?lib(64|32)?/", p)]
    assert new == [], f"import retroprop loaded shared libraries: {new}"


def _bindings(stderr):
    """{(file, symbol): file it bound to} from LD_DEBUG=bindings output."""
    found = {}
    pattern = re.compile(r"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: \S+ symbol `([^']+)'")
    for line in stderr.splitlines():
        m = pattern.search(line)
        if m:
            found[(m.group(1), m.group(3))] = m.group(2)
    return found


@pytest.mark.skipif(not LINUX, reason="LD_DEBUG is glibc's dynamic loader")
def test_numpy_bindings_unchanged_by_import():
    """LD_DEBUG=bindings: with retroprop imported, every symbol NumPy's
    libraries bind (LAPACK through np.linalg.svd, BLAS through matmul) binds
    to the same library as without it, and none to a library of ours."""
    code = """
        {first}
        import numpy as np
        {extra}
        a = np.random.default_rng(0).random((300, 300))
        np.linalg.svd(a)
        a @ a
        """
    # retroprop imported first, as at the top of a notebook: a library it
    # loaded with global symbols would then come before NumPy's own
    without = _run(code.format(first="", extra=""), LD_DEBUG="bindings")
    with_rp = _run(code.format(first="import retroprop",
                               extra="retroprop.matmul(np.ones((64, 64)), np.ones((64, 64)))"),
                   LD_DEBUG="bindings")
    assert without.returncode == 0 and with_rp.returncode == 0, with_rp.stderr[-2000:]
    b0, b1 = _bindings(without.stderr), _bindings(with_rp.stderr)
    if not b1:
        pytest.skip("this dynamic loader does not report LD_DEBUG=bindings")
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    ours = os.path.dirname(rp.__file__)

    def numpys(path):
        return path.startswith(numpy_dir) and ("/numpy/" in path or "/numpy.libs/" in path)

    to_ours = sorted(f"{os.path.basename(f)}: {s} -> {t}" for (f, s), t in b1.items()
                     if numpys(f) and t.startswith(ours))
    assert to_ours == [], "NumPy's libraries bind to retroprop's:\n" + "\n".join(to_ours[:30])
    changed = sorted(f"{os.path.basename(f)}: {s} -> {t} (was {b0[(f, s)]})"
                     for (f, s), t in b1.items() if numpys(f) and (f, s) in b0 and b0[(f, s)] != t)
    assert changed == [], "importing retroprop moved NumPy's bindings:\n" + "\n".join(changed[:30])
    assert any(numpys(f) for f, _ in b1), "no binding of NumPy's libraries was seen"
