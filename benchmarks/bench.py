"""retroprop's benchmark: every C kernel against its NumPy twin, in the same run.

    python benchmarks/bench.py            # best of 7 repeats, about 0.2 s per repeat
    python benchmarks/bench.py --quick    # best of 3, about 0.02 s per repeat

For each case, ``timeit`` times ``retroprop.NAME(*args)`` and its twin
``retroprop.reference.NAME(*args)`` (plain NumPy, same signature) on the same
inputs: the number of loops is chosen automatically, the time shown is the
best repeat divided by the loops. ``numpy/retroprop`` > 1 means retroprop is
faster. Each case first checks that both give the same result.

The cases are the seed notebooks' own tiny shapes, where the cost of a call
dominates, then large shapes, where the arithmetic (and BLAS) does, and last
seed 001's whole training loop, 10000 iterations, written with retroprop's
kernels and in plain NumPy.
"""
import argparse
import os
import platform
import sys
import time
import timeit

import numpy as np

import retroprop as rp
import retroprop.reference as reference


def rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def cases(rng):
    """(case, shape, kernel name, args, kwargs, mutates) for every timed call."""
    f64, f32 = np.float64, np.float32
    X3 = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=f64)   # seed 003
    wh = np.array([[0.15, 0.25], [0.20, 0.30]])
    bh = np.array([0.35, 0.35])
    X0 = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=f64)       # seed 000
    pesos1 = np.array([[-0.00572711, 0.0105376], [0.00162986, 0.0011553]])
    sesgo1 = np.zeros((2, 1))
    out = [
        # The seeds' tiny shapes.
        ("seed 003 dense_forward rows +b", "4x2 @ 2x2", "dense_forward", (X3, wh, bh), {}, False),
        ("seed 003 dense_forward, int X", "4x2 @ 2x2", "dense_forward", (X3.astype(np.int64), wh, bh), {}, False),
        ("seed 003 dense_backward rows", "4x2, 4x2, 2x2", "dense_backward",
         (rand(rng, (4, 2)), X3, wh), {}, False),
        ("seed 000 dense_forward cols +b", "2x2 @ 2x4", "dense_forward",
         (X0, pesos1, sesgo1), {"layout": "cols"}, False),
        ("seed 000 dense_backward cols avg", "2x4, 2x4, 2x2", "dense_backward",
         (rand(rng, (2, 4)), X0, pesos1), {"layout": "cols", "average": True}, False),
        ("sigmoid", "4x2", "sigmoid", (rand(rng, (4, 2)),), {}, False),
        ("sigmoid_prime_from_activation", "4x2", "sigmoid_prime_from_activation",
         (rng.random((4, 2)),), {}, False),
        ("bce", "1x4", "bce", (rng.random((1, 4)), np.array([[0.0, 1.0, 1.0, 0.0]])), {}, False),
        ("sgd_update", "2x2", "sgd_update", (rand(rng, (2, 2)), rand(rng, (2, 2)), 1e-3), {}, True),
        ("matmul", "2x2 @ 2x2", "matmul", (rand(rng, (2, 2)), rand(rng, (2, 2))), {}, False),
    ]
    # Large shapes.
    for n in (256, 1000):
        for dtype in (f64, f32):
            out.append(("matmul", "%dx%d @ %dx%d" % (n, n, n, n), "matmul",
                        (rand(rng, (n, n), dtype), rand(rng, (n, n), dtype)), {}, False))
    for dtype in (f64, f32):
        X, W, b = rand(rng, (1000, 784), dtype), rand(rng, (784, 256), dtype) * 0.05, rand(rng, (256,), dtype)
        out.append(("dense_forward rows +b", "1000x784 @ 784x256", "dense_forward", (X, W, b), {}, False))
        out.append(("dense_backward rows", "1000x784 @ 784x256", "dense_backward",
                    (rand(rng, (1000, 256), dtype), X, W), {}, False))
    for name in ("sigmoid", "sigmoid_prime", "tanh", "tanh_prime"):
        for dtype in (f64, f32):
            out.append((name, "1e6", name, (rand(rng, (10**6,), dtype),), {}, False))
    # Transposed and strided inputs (views, no copies).
    A, B = rand(rng, (1000, 1000)), rand(rng, (1000, 1000))
    out.append(("matmul, B transposed", "1000x1000 @ (1000x1000).T", "matmul", (A, B.T), {}, False))
    X, Wt, b = rand(rng, (1000, 784)), rand(rng, (256, 784)) * 0.05, rand(rng, (256,))
    out.append(("dense_forward rows, W.T", "1000x784 @ (256x784).T", "dense_forward", (X, Wt.T, b), {}, False))
    out.append(("dense_backward rows, W.T", "1000x784 @ (256x784).T", "dense_backward",
                (rand(rng, (1000, 256)), X, Wt.T), {}, False))
    out.append(("sigmoid, stride 2", "(2e6)[::2]", "sigmoid", (rand(rng, (2 * 10**6,))[::2],), {}, False))
    return out


def dtype_of(args):
    return "/".join(dict.fromkeys(str(a.dtype) for a in args if isinstance(a, np.ndarray)))


def copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def same_result(got, want, args):
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    rtol = 1e-4 if np.result_type(*arrays) == np.float32 else 1e-10
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    return len(got) == len(want) and all(
        np.shape(g) == np.shape(w) and np.allclose(g, w, rtol=rtol, atol=rtol) for g, w in zip(got, want))


def best_time(func, repeat, target):
    """Seconds per call: loops chosen like timeit.Timer.autorange, best of `repeat`."""
    timer = timeit.Timer(func)
    number = 1
    while True:
        for factor in (1, 2, 5):
            loops = number * factor
            if timer.timeit(loops) >= target:
                return min(timer.repeat(repeat=repeat, number=loops)) / loops
        number *= 10


def fmt_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return "%.3g %s" % (seconds / scale, unit)
    return "%.3g ns" % (seconds / 1e-9)


def seed_001_loop(dense_forward, dense_backward, sgd_update, iterations=10000):
    """Seed 001 (correct derivative a * (1 - a)) with the given three kernels."""
    np.random.seed(1)
    s0 = 2 * np.random.random((3, 4)) - 1
    s1 = 2 * np.random.random((4, 1)) - 1
    x = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    y = np.array([[0], [1], [1], [0]])
    for _ in range(iterations):
        _, a1 = dense_forward(x, s0)
        _, a2 = dense_forward(a1, s1)
        d2 = (y - a2) * a2 * (1 - a2)
        g1, _, e1 = dense_backward(d2, a1, s1)
        d1 = e1 * a1 * (1 - a1)
        g0, _, _ = dense_backward(d1, x, s0)
        sgd_update(s1, g1, -1.0)
        sgd_update(s0, g0, -1.0)
    return a2


def seed_001_numpy(iterations=10000):
    """The same loop as the seed writes it, plain NumPy."""
    np.random.seed(1)
    s0 = 2 * np.random.random((3, 4)) - 1
    s1 = 2 * np.random.random((4, 1)) - 1
    x = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    y = np.array([[0], [1], [1], [0]])
    for _ in range(iterations):
        a1 = 1 / (1 + np.exp(-np.dot(x, s0)))
        a2 = 1 / (1 + np.exp(-np.dot(a1, s1)))
        d2 = (y - a2) * a2 * (1 - a2)
        d1 = np.dot(d2, s1.T) * a1 * (1 - a1)
        s1 += np.dot(a1.T, d2)
        s0 += np.dot(x.T, d1)
    return a2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="best of 3 repeats of ~0.02 s instead of 7 of ~0.2 s")
    args = parser.parse_args(argv)
    repeat, target = (3, 0.02) if args.quick else (7, 0.2)

    print("retroprop %s, numpy %s, Python %s, %s" % (
        rp.__version__, np.__version__, platform.python_version(), platform.machine()))
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    print("os.cpu_count() = %s; thread variables: %s" % (os.cpu_count(), threads or "none set"))
    print("timeit: best of %d repeats, loops chosen for >= %g s per repeat" % (repeat, target))
    print("numpy = retroprop.reference (plain NumPy); numpy/retroprop > 1 means retroprop is faster\n")

    header = ("case", "shape", "dtype", "retroprop", "numpy", "numpy/retroprop")
    widths = (34, 26, 16, 10, 10, 15)
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header)).rstrip()
    print(line)
    print("-" * len(line))

    def row(*cells):
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, cells)).rstrip(), flush=True)

    problems = []
    for case, shape, name, call_args, kwargs, mutates in cases(np.random.default_rng(0)):
        kernel, twin = getattr(rp, name), getattr(reference, name)
        # In-place kernels get their own copy of the arrays they write.
        rp_args = copies(call_args) if mutates else call_args
        np_args = copies(call_args) if mutates else call_args
        dtype, label = dtype_of(call_args), case
        if not same_result(kernel(*copies(call_args), **kwargs), twin(*copies(call_args), **kwargs),
                           call_args):
            problems.append("%s %s %s" % (case, shape, dtype))
            label += " (RESULTS DIFFER)"
        t_rp = best_time(lambda: kernel(*rp_args, **kwargs), repeat, target)
        t_np = best_time(lambda: twin(*np_args, **kwargs), repeat, target)
        row(label, shape, dtype, fmt_time(t_rp), fmt_time(t_np), "%.2f" % (t_np / t_rp))

    # Seed 001's training loop, whole: one timing each.
    seed_001_loop(rp.dense_forward, rp.dense_backward, rp.sgd_update, 10)   # warm up
    seed_001_numpy(10)
    start = time.perf_counter()
    a_rp = seed_001_loop(rp.dense_forward, rp.dense_backward, rp.sgd_update)
    t_rp = time.perf_counter() - start
    start = time.perf_counter()
    a_np = seed_001_numpy()
    t_np = time.perf_counter() - start
    label = "seed 001 training loop"
    if not np.allclose(a_rp, a_np, rtol=1e-10, atol=0):
        problems.append(label)
        label += " (RESULTS DIFFER)"
    row(label, "10000 it, 4x3-4-1", "int64/float64", fmt_time(t_rp), fmt_time(t_np), "%.2f" % (t_np / t_rp))

    if problems:
        print("\nretroprop and its NumPy twin disagree on: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
