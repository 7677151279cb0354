"""Whole training runs: retroprop's fused trainer against the same loop in NumPy.

    python benchmarks/train.py            # 7 repeats of each
    python benchmarks/train.py --quick    # 3 repeats, fewer iterations

Workloads:
  seed001  seed 001's 3-4-1 net, 10000 full-batch iterations, half squared
           error, lr 1 (with the correct derivative a * (1 - a)).
  digits   scikit-learn's digits (1797 8x8 images), 64-32-10, sigmoid hidden,
           softmax + cross-entropy, batches of 32 reshuffled every epoch,
           lr 0.5, 30 epochs; test accuracy beside the time.

The NumPy loop is the one a student writes (np.dot, np.exp, +=), on NumPy's
own OpenBLAS; it visits the batches in the same order as the fused trainer,
so the two must end with the same weights, which is checked. Times are the
median over the repeats after a warm-up, with the fastest and slowest beside
it; "ratio" is NumPy's median over retroprop's.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import retroprop as rp
from retroprop.reference import shuffle_order


def timed(fn, repeats):
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


# ------------------------------------------------------------------ seed 001

X1 = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
Y1 = np.array([[0], [1], [1], [0]])


def seed_001_weights():
    np.random.seed(1)
    return 2 * np.random.random((3, 4)) - 1, 2 * np.random.random((4, 1)) - 1


def seed_001_numpy(iterations):
    sinapsis0, sinapsis1 = seed_001_weights()
    for _ in range(iterations):
        capa_1 = 1 / (1 + np.exp(-np.dot(X1, sinapsis0)))
        capa_2 = 1 / (1 + np.exp(-np.dot(capa_1, sinapsis1)))
        capa_2_delta = (Y1 - capa_2) * (capa_2 * (1 - capa_2))
        capa_1_delta = np.dot(capa_2_delta, sinapsis1.T) * (capa_1 * (1 - capa_1))
        sinapsis1 += np.dot(capa_1.T, capa_2_delta)
        sinapsis0 += np.dot(X1.T, capa_1_delta)
    return [sinapsis0, sinapsis1]


def seed_001_fused(iterations):
    weights = list(seed_001_weights())
    rp.MLP.from_arrays(weights, None, loss="mse", average=False, lr=1.0).fit(X1, Y1, iterations)
    return weights


# ------------------------------------------------------------------ digits

def digits_data():
    from sklearn.datasets import load_digits
    digits = load_digits()
    X = digits.data / 16.0
    order = np.random.default_rng(0).permutation(len(digits.target))
    train, test = order[:1400], order[1400:]
    return X[train], digits.target[train], X[test], digits.target[test]


def digits_init():
    return rp.MLP([64, 32, 10], output_activation="softmax", loss="ce", lr=0.5, seed=0)


def digits_orders(n, epochs, seed):
    """The batch order of every epoch, as the fused trainer draws it."""
    perm, state, orders = list(range(n)), seed, []
    for _ in range(epochs):
        state = shuffle_order(perm, state)
        orders.append(np.array(perm))
    return orders


def digits_numpy(X, labels, orders, lr=0.5, batch=32):
    init = digits_init()
    W1, W2 = (w.copy() for w in init.weights)
    b1, b2 = (b.copy() for b in init.biases)
    Y = np.eye(10)[labels]
    for order in orders:
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            xb, yb = X[rows], Y[rows]
            a1 = 1 / (1 + np.exp(-(xb @ W1 + b1)))
            z2 = a1 @ W2 + b2
            e = np.exp(z2 - z2.max(axis=1, keepdims=True))
            a2 = e / e.sum(axis=1, keepdims=True)
            d2 = (a2 - yb) / len(rows)
            d1 = (d2 @ W2.T) * (a1 * (1 - a1))
            W2 -= lr * (a1.T @ d2)
            b2 -= lr * d2.sum(axis=0)
            W1 -= lr * (xb.T @ d1)
            b1 -= lr * d1.sum(axis=0)
    return [W1, W2], [b1, b2]


def digits_fused(X, labels, epochs, seed):
    net = digits_init()
    net.fit(X, labels, epochs=epochs, batch_size=32, shuffle=True, seed=seed)
    return net


def accuracy(weights, biases, X, labels):
    net = rp.MLP.from_arrays(weights, biases, output_activation="softmax", loss="ce")
    return float(np.mean(net.predict(X) == labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, shorter runs")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    iterations = 2000 if args.quick else 10000
    epochs = 5 if args.quick else 30

    print(f"retroprop {rp.__version__}, numpy {np.__version__}, Python "
          f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"median of {repeats} runs after a warm-up (fastest-slowest); ratio = NumPy / "
          f"retroprop, > 1 means retroprop is faster\n")
    rows = []

    a, b = seed_001_fused(iterations), seed_001_numpy(iterations)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-9)
    t_rp = timed(lambda: seed_001_fused(iterations), repeats)
    t_np = timed(lambda: seed_001_numpy(iterations), repeats)
    rows.append((f"seed001 3-4-1, {iterations} it", t_rp, t_np, ""))

    try:
        Xtr, ytr, Xte, yte = digits_data()
    except ImportError:
        print("digits: scikit-learn is not installed; skipped")
    else:
        orders = digits_orders(len(ytr), epochs, seed=1)
        net = digits_fused(Xtr, ytr, epochs, seed=1)
        W, B = digits_numpy(Xtr, ytr, orders)
        for x, y in zip(net.weights + net.biases, W + B):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
        acc = f"test accuracy {accuracy(net.weights, net.biases, Xte, yte):.3f} (both)"
        t_rp = timed(lambda: digits_fused(Xtr, ytr, epochs, 1), repeats)
        t_np = timed(lambda: digits_numpy(Xtr, ytr, orders), repeats)
        rows.append((f"digits 64-32-10, {epochs} epochs", t_rp, t_np, acc))

    print(f"{'workload':32} {'retroprop fit':>24} {'NumPy loop':>26} {'ratio':>7}")
    for name, (m1, lo1, hi1), (m2, lo2, hi2), note in rows:
        print(f"{name:32} {m1 * 1e3:9.2f} ms ({lo1 * 1e3:.2f}-{hi1 * 1e3:.2f}) "
              f"{m2 * 1e3:9.1f} ms ({lo2 * 1e3:.1f}-{hi2 * 1e3:.1f}) {m2 / m1:7.1f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
