"""No reference leaks, no memory growth, and the same numbers under threads.

Every kernel is called RETROPROP_LEAK_CALLS times (100000 by default), on its
usual path, with out=, and through its error paths; the trainer's entry
points a tenth as often. Reference counts of every input stay the same and
resident memory grows by less than 1 MB.
"""
import gc
import os
import sys
import threading

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import retroprop as rp

CALLS = int(os.environ.get("RETROPROP_LEAK_CALLS") or 100000)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
W = np.array([[0.15, 0.25], [0.20, 0.30]])
B = np.array([0.35, 0.35])
Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
OUT = (np.empty((4, 2)), np.empty((4, 2)))
GRADS = (np.empty((2, 2)), np.empty(2), np.empty((4, 2)))

A_OUT = Y * 0.5 + 0.25
XI = X.astype(int)
UFUNC_OUT = np.empty((4, 2))
TALL = as_strided(np.zeros(1), (2**31, 1), (0, 0))   # a result too big to allocate
WIDE = as_strided(np.zeros(1), (1, 2**31), (0, 0))

UNARY = ("sigmoid", "sigmoid_prime", "sigmoid_prime_from_activation", "tanh", "tanh_prime",
         "tanh_prime_from_activation", "relu", "relu_prime", "relu_prime_from_activation",
         "identity", "identity_prime")


def _swallow(fn):
    try:
        fn()
    except (ValueError, TypeError):
        pass


CALLS_BY_KERNEL = {
    **{name: (lambda f=getattr(rp, name): f(X)) for name in UNARY},
    **{f"{name}_out": (lambda f=getattr(rp, name): f(X, out=UFUNC_OUT)) for name in UNARY},
    "sigmoid_bce_delta": lambda: rp.sigmoid_bce_delta(A_OUT, Y),
    "sigmoid_squared_error_delta": lambda: rp.sigmoid_squared_error_delta(A_OUT, Y[0]),
    "dense_forward": lambda: rp.dense_forward(X, W, B),
    "dense_forward_out": lambda: rp.dense_forward(X, W, B, out=OUT),
    "dense_forward_cols": lambda: rp.dense_forward(X.T, W, B, layout="cols"),
    "dense_backward": lambda: rp.dense_backward(Y, X, W, average=True),
    "dense_backward_out": lambda: rp.dense_backward(Y, X, W, out=GRADS),
    "matmul": lambda: rp.matmul(X, W),
    "matmul_vectors": lambda: rp.matmul(B, B),
    "bce": lambda: rp.bce(A_OUT, Y),
    "sum_squared_error": lambda: rp.sum_squared_error(X, Y),
    "half_sum_squared_error": lambda: rp.half_sum_squared_error(X, Y),
    "sgd_update": lambda: rp.sgd_update(GRADS[0], W, 0.0),
    "int_input": lambda: rp.dense_forward(XI, W),
    "list_input": lambda: rp.matmul([[1.0, 2.0]], W),
    "error_shapes": lambda: _swallow(lambda: rp.dense_forward(np.ones((4, 3)), W, out=OUT)),
    "error_overlap": lambda: _swallow(lambda: rp.dense_backward(Y, X, W, out=(None, None, Y))),
    "error_dtype": lambda: _swallow(lambda: rp.matmul(X, "abc")),
    "error_ragged": lambda: _swallow(lambda: rp.bce([[1.0], []], Y)),
    "error_too_big": lambda: _swallow(lambda: rp.matmul(TALL, WIDE)),
    "error_lr": lambda: _swallow(lambda: rp.sgd_update(GRADS[0], W, "0.1")),
}


def check_no_leak(call, calls, watched):
    # gc.collect() before each count: a caught exception's traceback holds the
    # frames that refer to the arguments in reference cycles, which only the
    # cycle collector frees, whenever it runs (Python 3.12+ runs it later);
    # a reference such a cycle holds is not a leak.
    for _ in range(100):
        call()
    gc.collect()
    refs = [sys.getrefcount(a) for a in watched]
    rss = rss_bytes() if sys.platform.startswith("linux") else 0
    for _ in range(calls):
        call()
    gc.collect()
    assert [sys.getrefcount(a) for a in watched] == refs
    if sys.platform.startswith("linux"):
        assert rss_bytes() - rss < (1 << 20)


@pytest.mark.parametrize("name", sorted(CALLS_BY_KERNEL))
def test_no_reference_leaks_and_no_growth(name):
    watched = [X, W, B, Y, A_OUT, XI, UFUNC_OUT, TALL, WIDE, *OUT, *GRADS]
    check_no_leak(CALLS_BY_KERNEL[name], CALLS, watched)


def _trainer_calls():
    X1 = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=float)
    Y1 = np.array([[0.0], [1.0], [1.0], [0.0]])
    labels = np.array([0, 1, 1, 0])
    net = rp.MLP([3, 4, 1], loss="mse", lr=0.1, seed=0)
    soft = rp.MLP([3, 5, 2], activation="tanh", output_activation="softmax", loss="ce",
                  momentum=0.9, lr=0.1, seed=0)
    calls = {
        "fit": lambda: net.fit(X1, Y1, epochs=3),
        "fit_minibatch_shuffle_momentum": lambda: soft.fit(X1, labels, epochs=2, batch_size=3,
                                                           shuffle=True, seed=1),
        "forward": lambda: net.forward(X1),
        "backward": lambda: net.backward(X1, Y1),
        "loss": lambda: soft.loss(X1, labels),
        "fit_error": lambda: _swallow(lambda: net.fit(X1, np.zeros((4, 2)), epochs=3)),
        "forward_error": lambda: _swallow(lambda: net.forward(np.zeros((4, 2)))),
    }
    watched = [X1, Y1, labels, *net.weights, *net.biases, *soft.weights, *soft.biases]
    return calls, watched


@pytest.mark.parametrize("name", sorted(_trainer_calls()[0]))
def test_trainer_no_reference_leaks_and_no_growth(name):
    calls, watched = _trainer_calls()
    check_no_leak(calls[name], max(CALLS // 50, 100), watched)


def test_two_threads_give_the_sequential_results():
    rng = np.random.default_rng(0)
    work = [(rng.uniform(-1, 1, (400, 300)), rng.uniform(-1, 1, (300, 200)),
             rng.uniform(-1, 1, 200)) for _ in range(2)]

    def job(Xi, Wi, bi):
        Z, A = rp.dense_forward(Xi, Wi, bi, activation="tanh")
        dW, db, dX = rp.dense_backward(A, Xi, Wi, average=True)
        p = Wi.copy()
        for _ in range(20):
            rp.sgd_update(p, dW, 0.01)
        return Z, A, dW, db, dX, p

    sequential = [job(*w) for w in work]
    results = [None, None]

    def run(i):
        for _ in range(5):
            results[i] = job(*work[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seq, par in zip(sequential, results):
        for a, b in zip(seq, par):
            np.testing.assert_array_equal(a, b)
