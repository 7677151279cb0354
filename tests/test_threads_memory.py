"""No reference leaks, no memory growth, and the same numbers under threads."""
import os
import sys
import threading

import numpy as np
import pytest

import retroprop as rp

CALLS = 20000


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
W = np.array([[0.15, 0.25], [0.20, 0.30]])
B = np.array([0.35, 0.35])
Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
OUT = (np.empty((4, 2)), np.empty((4, 2)))
GRADS = (np.empty((2, 2)), np.empty(2), np.empty((4, 2)))

CALLS_BY_KERNEL = {
    "sigmoid": lambda: rp.sigmoid(X),
    "dense_forward": lambda: rp.dense_forward(X, W, B),
    "dense_forward_out": lambda: rp.dense_forward(X, W, B, out=OUT),
    "dense_backward": lambda: rp.dense_backward(Y, X, W, average=True),
    "dense_backward_out": lambda: rp.dense_backward(Y, X, W, out=GRADS),
    "matmul": lambda: rp.matmul(X, W),
    "bce": lambda: rp.bce(Y * 0.5 + 0.25, Y),
    "half_squared_error": lambda: rp.half_squared_error(X, Y),
    "sgd_update": lambda: rp.sgd_update(GRADS[0], W, 0.0),
    "int_input": lambda: rp.dense_forward(X.astype(int), W),
    "error": lambda: _swallow(lambda: rp.dense_forward(np.ones((4, 3)), W, out=OUT)),
}


def _swallow(fn):
    try:
        fn()
    except ValueError:
        pass


@pytest.mark.parametrize("name", sorted(CALLS_BY_KERNEL))
def test_no_reference_leaks_and_no_growth(name):
    call = CALLS_BY_KERNEL[name]
    watched = [X, W, B, Y, *OUT, *GRADS]
    for _ in range(100):
        call()
    refs = [sys.getrefcount(a) for a in watched]
    rss = rss_bytes() if sys.platform.startswith("linux") else 0
    for _ in range(CALLS):
        call()
    assert [sys.getrefcount(a) for a in watched] == refs
    if sys.platform.startswith("linux"):
        assert rss_bytes() - rss < (1 << 20)


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
