"""Plain Python against %%retroprop's engine on an epochs x minibatches cell:
whole-cell times in one process (the best of `repeat` runs each, in turn).

    python benchmarks/nested_epochs.py [--epochs 200] [--repeat 5]
"""
import argparse
import contextlib
import io
import time

import numpy as np

from retroprop import capture

CELL = """
for epoch in range(epochs):
    for b in range(n_batches):
        xb = X[b * bs:(b + 1) * bs]
        yb = Y[b * bs:(b + 1) * bs]
        h = np.tanh(xb @ W1 + b1)
        z = h @ W2 + b2
        out = 1 / (1 + np.exp(-z))
        d2 = (out - yb) / bs
        d1 = (d2 @ W2.T) * (1 - h * h)
        W2 -= lr * (h.T @ d2)
        b2 -= lr * np.sum(d2, axis=0, keepdims=True)
        W1 -= lr * (xb.T @ d1)
        b1 -= lr * np.sum(d1, axis=0, keepdims=True)
    if epoch % 50 == 0:
        losses.append(np.mean((out - yb) ** 2))
"""


def xor(epochs):
    X = np.array([[0., 0], [0, 1], [1, 0], [1, 1]] * 8)
    Y = np.array([[0.], [1], [1], [0]] * 8)
    rng = np.random.default_rng(0)
    return {"np": np, "epochs": epochs, "n_batches": 8, "bs": 4, "lr": 0.5, "losses": [],
            "X": X, "Y": Y, "W1": rng.standard_normal((2, 4)), "b1": np.zeros((1, 4)),
            "W2": rng.standard_normal((4, 1)), "b2": np.zeros((1, 1))}


def net_64_32_10(epochs):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((256, 64))
    Y = np.eye(10)[rng.integers(0, 10, 256)]
    return {"np": np, "epochs": epochs, "n_batches": 8, "bs": 32, "lr": 0.1, "losses": [],
            "X": X, "Y": Y, "W1": rng.standard_normal((64, 32)) * 0.1, "b1": np.zeros((1, 32)),
            "W2": rng.standard_normal((32, 10)) * 0.1, "b2": np.zeros((1, 10))}


def best(fn, setup, repeat):
    times = []
    for _ in range(repeat):
        ns = setup()
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            fn(ns)
            times.append(time.perf_counter() - t0)
    return min(times), ns


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, make in (("XOR 2-4-1", xor), ("64-32-10", net_64_32_10)):
        setup = lambda: make(args.epochs)  # noqa: E731
        plain, p = best(lambda ns: exec(CELL, ns), setup, args.repeat)
        captured, c = best(lambda ns: capture.run(CELL, ns), setup, args.repeat)
        diff = max(float(np.max(np.abs(p[k] - c[k]))) for k in ("W1", "W2", "b1", "b2"))
        print("%-10s %d epochs x 8 batches: plain %.1f ms, captured %.1f ms, ratio %.1fx "
              "(%r; largest difference %.1e)" % (name, args.epochs, plain * 1e3, captured * 1e3,
                                                 plain / captured, capture.last_report[1], diff))


if __name__ == "__main__":
    main()
