"""Zero copies: inputs are read in place, outputs land in the caller's arrays."""
import tracemalloc

import numpy as np
import pytest

import retroprop as rp

MB = 1 << 20


def big(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape)


def peak_bytes(fn):
    """Peak of memory NumPy and Python allocate while fn runs (tracemalloc)."""
    fn()  # warm up: first calls may build caches
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_dense_forward_out_is_the_callers_and_allocates_nothing(layout):
    n, k, m = 2000, 300, 200                          # X is 4.8 MB of float64
    if layout == "rows":
        X = big((k, n)).T                             # a transposed view
        W, b, zshape = big((k, m), 1), big(m, 2), (n, m)
    else:
        X = big((n, k)).T
        W, b, zshape = big((m, k), 1), big((m, 1), 2), (m, n)
    Z, A = np.empty(zshape), np.empty(zshape)
    result = rp.dense_forward(X, W, b, layout=layout, out=(Z, A))
    assert result[0] is Z and result[1] is A
    assert peak_bytes(lambda: rp.dense_forward(X, W, b, layout=layout, out=(Z, A))) < MB


@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_dense_backward_out_is_the_callers_and_allocates_nothing(layout):
    n, k, m = 2000, 300, 200
    if layout == "rows":
        X, W, delta = big((n, k))[::-1], big((k, m), 1), big((m, n), 2).T
        db = np.empty(m)
    else:
        X, W, delta = big((k, n))[:, ::-1], big((m, k), 1), big((n, m), 2).T
        db = np.empty((m, 1))
    dW, dX = np.empty(W.shape), np.empty(X.shape)
    result = rp.dense_backward(delta, X, W, layout=layout, average=True, out=(dW, db, dX))
    assert result[0] is dW and result[1] is db and result[2] is dX
    assert peak_bytes(lambda: rp.dense_backward(delta, X, W, layout=layout,
                                                out=(dW, db, dX))) < MB


def test_matmul_out_allocates_nothing():
    A, B = big((1000, 500)), big((300, 500), 1).T
    out = np.empty((1000, 300))
    assert rp.matmul(A, B, out=out) is out
    assert peak_bytes(lambda: rp.matmul(A, B, out=out)) < MB


def test_sigmoid_out_on_a_strided_view_allocates_nothing():
    x = big((2000, 1000))[::2, ::-1]                 # 8 MB read through a view
    out = np.empty(x.shape)
    assert rp.sigmoid(x, out=out) is out
    assert peak_bytes(lambda: rp.sigmoid(x, out=out)) < MB


def test_losses_read_in_place():
    A = big((1000, 1000)) * 0.4 + 0.5
    Y = (big((1000, 1000), 1) > 0).astype(float).T
    assert peak_bytes(lambda: rp.bce(A, Y)) < MB
    assert peak_bytes(lambda: rp.half_sum_squared_error(A, Y)) < MB


@pytest.mark.parametrize("make", [
    lambda: big((300, 400)),
    lambda: np.asfortranarray(big((300, 400))),
    lambda: big((600, 400))[::2],
    lambda: big((300, 400))[::-1, ::-1],
], ids=["C", "F", "sliced", "negative"])
def test_sgd_update_keeps_the_parameter(make):
    param = make()
    grad = big(param.shape, 1)
    want = param - 0.1 * grad
    pointer = param.__array_interface__["data"][0]
    assert rp.sgd_update(param, grad, 0.1) is param
    assert param.__array_interface__["data"][0] == pointer
    np.testing.assert_allclose(param, want, rtol=1e-15)
    assert peak_bytes(lambda: rp.sgd_update(param, grad, 0.1)) < MB


def test_inputs_are_views_not_copied_in_the_seed_shapes():
    # seed 002's x[:, None] and W.T go in as views and come out unchanged
    x = np.array([0.5, 0.1, -0.2])
    W = np.array([[0.5, 0.1, 0.1], [-0.6, -0.2, 0.7]]).T
    assert x[:, None].base is x and W.base is not None
    Z, _ = rp.dense_forward(x, W)
    np.testing.assert_allclose(Z, x @ W, rtol=1e-15)
    assert x.tolist() == [0.5, 0.1, -0.2]


def test_int_inputs_are_cast_into_a_float64_result():
    # the one documented copy: int arrays (seeds 001, 003) are cast to float64
    X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    W = np.array([[0.15, 0.25], [0.20, 0.30]])
    Z, A = rp.dense_forward(X, W)
    assert Z.dtype == np.float64 and X.dtype.kind == "i"
    np.testing.assert_allclose(Z, X @ W, rtol=1e-15)


def test_tracemalloc_sees_numpy_allocations():
    # guard: the "< 1 MB" checks above mean something only if a copy shows up
    x = big((1000, 1000))
    assert peak_bytes(lambda: np.ascontiguousarray(x.T)) > 7 * MB
    assert peak_bytes(lambda: rp.dense_forward(x.T, x)) > 7 * MB
