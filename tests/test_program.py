"""The C interpreter behind retroprop.capture picks, once per operation, a
routine for its layout (contiguous, a scalar on either side, strided; a
product by rows of four columns, by four rows of one column, or the general
loop). Every routine must give the bits of the general one: elementwise work
NumPy's bits, products the sum in order p = 0..k-1 from 0.0 in double."""
import numpy as np
import pytest

from retroprop import capture


def _ordered_product(A, B):
    """C[i, j] = 0.0 + A[i, 0] B[0, j] + ... in double, one rounding per step
    (Python floats: IEEE double, no fused multiply-add), cast to A's dtype."""
    m, k = A.shape
    n = B.shape[1]
    C = np.empty((m, n), dtype=A.dtype)
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for p in range(k):
                acc += float(A[i, p]) * float(B[p, j])
            C[i, j] = acc
    return C


def _captured(cell, ns):
    capture.run(cell, ns)
    report = capture.last_report[0]
    assert report.captured, report.reason
    return ns


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,k,n", [(4, 3, 4), (4, 4, 1), (4, 1, 4), (3, 4, 4), (5, 3, 7),
                                   (7, 2, 1), (1, 5, 9), (2, 3, 3)])
@pytest.mark.parametrize("layout", ["plain", "a_transposed", "b_transposed", "a_strided"])
def test_products_sum_in_order_whatever_the_layout(dtype, m, k, n, layout):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    if layout == "a_transposed":
        A = np.ascontiguousarray(A.T).T
    elif layout == "b_transposed":
        B = np.ascontiguousarray(B.T).T
    elif layout == "a_strided":
        A = np.repeat(A, 2, axis=1)[:, ::2]
    ns = _captured("for i in range(5):\n    C = A @ B\n    D = A @ B + C\n",
                   {"np": np, "A": A, "B": B})
    want = _ordered_product(A, B)
    assert ns["C"].dtype == dtype
    assert np.array_equal(ns["C"], want), (ns["C"], want)
    assert np.array_equal(ns["D"], want + want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_accumulated_product_reads_the_weights_it_updates(dtype):
    """W += 0.1 * (W.T @ W), W among the product's operands: the product
    into a temporary, then the in-place update, as NumPy does it."""
    rng = np.random.default_rng(7)
    ns0 = {"np": np, "X": rng.standard_normal((4, 3)).astype(dtype),
           "W": rng.standard_normal((3, 3)).astype(dtype)}
    cell = "for i in range(6):\n    W += 0.1 * (W.T @ W)\n    V = X @ W\n"
    ns = _captured(cell, dict(ns0, W=ns0["W"].copy()))
    W = ns0["W"].copy()
    for i in range(6):
        # iteration 0 runs in Python: NumPy's product; the others the program's
        W += 0.1 * (W.T @ W if i == 0 else _ordered_product(np.ascontiguousarray(W.T), W))
    assert np.array_equal(ns["W"], W)
    assert np.array_equal(ns["V"], _ordered_product(ns0["X"], W))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("expr", [
    "a + b", "a - b", "a * b", "a / b", "-a",               # contiguous
    "a - s", "s - a", "s / a", "a / s", "a * 3.0",          # a 0-d constant on either side
    "a - c", "c - a", "c * a",                              # a column broadcast along rows
    "a[:, ::2] + b[:, ::2]", "-a[:, ::2]", "a.T - b.T",     # strided
    "a - a[:1]", "1 - a * (1 - a)",
])
def test_elementwise_layouts_give_numpys_bits(dtype, expr):
    rng = np.random.default_rng(3)
    base = {"np": np, "a": rng.standard_normal((6, 8)).astype(dtype),
            "b": rng.standard_normal((6, 8)).astype(dtype) + 3,
            "c": rng.standard_normal((6, 1)).astype(dtype),
            "s": dtype(rng.standard_normal()) * np.ones((), dtype=dtype)}
    cell = "for i in range(5):\n    o = %s\n    b = b * 0.5 + o[:1, :1]\n" % expr
    plain = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()}
    exec(cell, plain)
    ns = _captured(cell, {k: (v.copy() if isinstance(v, np.ndarray) else v)
                          for k, v in base.items()})
    for name in ("o", "b"):
        assert ns[name].dtype == plain[name].dtype
        assert np.array_equal(ns[name], plain[name]), (name, ns[name], plain[name])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_updates_with_the_output_among_the_operands(dtype):
    rng = np.random.default_rng(5)
    base = {"np": np, "a": rng.standard_normal((4, 4)).astype(dtype),
            "b": rng.standard_normal((4, 4)).astype(dtype)}
    cell = ("for i in range(7):\n    a += b\n    a *= 0.5\n    b -= a.T\n"
            "    b /= 1.5\n    c = a - a[:, :1]\n")
    plain = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()}
    exec(cell, plain)
    ns = _captured(cell, {k: (v.copy() if isinstance(v, np.ndarray) else v)
                          for k, v in base.items()})
    for name in ("a", "b", "c"):
        assert np.array_equal(ns[name], plain[name]), name
