"""Accuracy of the exp-based kernels (src/kernels/rp_math.h) against 80-bit
long double, their special values, and the same bits on every instruction set.

Error is counted the way the kernels' comments state it: the distance, in
units in the last place of the result's dtype, from the correctly rounded
result (the long double reference rounded once to the dtype). The reference
itself is good to about 2^-62 relative, a thousandth of a float64 ulp.

Bounds (the largest distance allowed over the points below; the largest
error measured against the unrounded reference is in parentheses):
  float64: sigmoid, sigmoid_prime, tanh_prime 1 ulp (1.13, and 2.13 just
  below 0.25 and 1, where the ulp halves), tanh 2 ulp (2.11);
  float32: 1 ulp (0.51: computed in double, rounded once).
"""
import numpy as np
import pytest

import retroprop as rp
from retroprop import _core

pytestmark = pytest.mark.skipif(
    np.finfo(np.longdouble).nmant < 63, reason="the reference needs 80-bit long double")

FUNCTIONS = ("sigmoid", "sigmoid_prime", "tanh", "tanh_prime")
BOUND = {
    (np.float64, "sigmoid"): 1,
    (np.float64, "sigmoid_prime"): 1,
    (np.float64, "tanh"): 2,
    (np.float64, "tanh_prime"): 1,
}
FLOAT32_BOUND = 1
LN2 = np.log(2.0)


def reference(name, x):
    """The function of x (any float dtype) in long double."""
    x = np.asarray(x).astype(np.longdouble)
    with np.errstate(over="ignore", under="ignore"):
        if name == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if name == "sigmoid_prime":
            e = np.exp(-np.abs(x))
            return e / ((1 + e) * (1 + e))
        if name == "tanh":
            return np.tanh(x)
        if name == "tanh_prime":
            e = np.exp(-2 * np.abs(x))
            return 4 * e / ((1 + e) * (1 + e))
    raise ValueError(name)


def ordered(a):
    """Integers in the order of the floats a (no NaN): adjacent floats differ by 1."""
    bits = a.view(np.int64 if a.dtype == np.float64 else np.int32).astype(np.int64)
    return np.where(bits < 0, np.iinfo(bits.dtype).min - bits, bits)


def ulp_distance(got, want):
    """How many floats of got's dtype lie from got to want rounded to that dtype."""
    with np.errstate(over="ignore", under="ignore"):
        rounded = want.astype(got.dtype)
    return np.abs(ordered(got) - ordered(rounded))


def points(dtype):
    """A few hundred thousand x over [-750, 750]: uniform, denser near 0,
    around the multiples of ln2 where exp's reduction changes, and tiny."""
    rng = np.random.default_rng(20240607)
    k = rng.integers(-1080, 1080, 50_000)
    x = np.concatenate([
        rng.uniform(-750, 750, 150_000),
        rng.uniform(-40, 40, 100_000),
        rng.uniform(-3, 3, 100_000),
        k * (LN2 / 2) * (1 + rng.uniform(-1e-3, 1e-3, k.size)),
        np.ldexp(rng.uniform(-1, 1, 50_000), rng.integers(-1074, -1, 50_000)),
    ])
    x = x.astype(dtype)
    return x[np.isfinite(x)]


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_ulp_error(name, dtype):
    x = points(dtype)
    got = getattr(rp, name)(x)
    assert got.dtype == dtype
    dist = ulp_distance(got, reference(name, x))
    bound = BOUND.get((dtype, name), FLOAT32_BOUND)
    worst = int(np.argmax(dist))
    assert dist[worst] <= bound, (
        f"{name} {np.dtype(dtype).name}: {dist[worst]} ulp from the correctly rounded "
        f"value at x = {x[worst]!r} (got {got[worst]!r}, want {reference(name, x[worst])!r})")


SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, -1e-300, 1e-20,
           700.0, -700.0, 745.0, -745.0, 750.0, -750.0, 1000.0, -1000.0, 1e300, -1e300,
           np.inf, -np.inf]


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_special_values_are_correctly_rounded(name, dtype):
    with np.errstate(over="ignore", under="ignore"):
        x = np.array(SPECIAL, dtype=np.float64).astype(dtype)
    got = getattr(rp, name)(x)
    want = reference(name, x)
    assert (ulp_distance(got, want) == 0).all(), (x, got, want.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_exact_special_values(dtype):
    def f(name, *xs):
        return getattr(rp, name)(np.array(xs, dtype=dtype))

    assert f("sigmoid", -1000, 1000, -np.inf, np.inf, 0).tolist() == [0, 1, 0, 1, 0.5]
    assert f("sigmoid_prime", -1000, 1000, -np.inf, 0).tolist() == [0, 0, 0, 0.25]
    assert f("tanh", -np.inf, np.inf, -20, 20).tolist() == [-1, 1, -1, 1]
    assert f("tanh_prime", -np.inf, 1000, 0).tolist() == [0, 0, 1]
    zeros = f("tanh", 0.0, -0.0)
    assert zeros.tolist() == [0, 0] and np.signbit(zeros).tolist() == [False, True]
    # below 2^-27, tanh(x) = x - x^3/3 rounds to x
    rng = np.random.default_rng(3)
    tiny = np.ldexp(rng.uniform(0.5, 1, 10_000), rng.integers(-1074, -26, 10_000)).astype(dtype)
    tiny = np.concatenate([tiny, [np.finfo(dtype).smallest_subnormal, np.finfo(dtype).tiny]])
    np.testing.assert_array_equal(rp.tanh(tiny), tiny)
    np.testing.assert_array_equal(rp.tanh(-tiny), -tiny)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_nan_in_nan_out_quietly(name, dtype):
    x = np.array([np.nan, -np.nan, 1.0, np.nan], dtype=dtype)
    with np.errstate(all="raise"):
        got = getattr(rp, name)(x)
    assert np.isnan(got).tolist() == [True, True, False, True]


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_no_spurious_flags(name, dtype):
    """No floating-point flag but inexact, unless the result itself is too
    small for a normal number (sigmoid of very negative x, the derivatives
    far out): then an underflow, as np.exp(-1000.) raises one. NaN, +-inf,
    0 and subnormal inputs raise nothing."""
    big = np.log(np.finfo(dtype).tiny) * -0.99  # exp(-big) is still normal
    edge = {"sigmoid": (-big, np.inf), "sigmoid_prime": (-big, big),
            "tanh": (-np.inf, np.inf), "tanh_prime": (-big / 2, big / 2)}[name]
    with np.errstate(over="ignore", under="ignore"):
        x = np.concatenate([points(dtype)[::50], np.array(SPECIAL + [np.nan], dtype=dtype)])
    x = x[np.isnan(x) | np.isinf(x) | ((x >= edge[0]) & (x <= edge[1]))]
    with np.errstate(all="raise"):
        getattr(rp, name)(x)
    with np.errstate(over="ignore", under="ignore"):
        special = np.array(SPECIAL, dtype=np.float64).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        getattr(rp, name)(special)


def simd_levels():
    """Every instruction set this build has and this processor runs."""
    levels, previous = [], _core._simd()
    try:
        for name in ("baseline", "avx2", "avx512f"):
            try:
                _core._simd(name)
            except ValueError:
                continue
            levels.append(name)
    finally:
        _core._simd(previous)
    return levels


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_same_bits_on_every_instruction_set(dtype):
    levels = simd_levels()
    assert levels[0] == "baseline"
    rng = np.random.default_rng(7)
    with np.errstate(over="ignore", under="ignore"):
        x = np.concatenate([points(dtype)[::7], np.array(SPECIAL + [np.nan], dtype=dtype)])
    X = rng.standard_normal((300, 40)).astype(dtype)
    W = rng.standard_normal((40, 30)).astype(dtype)
    b = rng.standard_normal(30).astype(dtype)
    W2 = rng.standard_normal((30, 5)).astype(dtype)
    b2 = rng.standard_normal(5).astype(dtype)
    previous = _core._simd()
    results = {}
    try:
        for level in levels:
            _core._simd(level)
            out = [getattr(rp, name)(x) for name in FUNCTIONS]
            out += [rp.sigmoid(x[::3])]  # strided input
            for act in ("sigmoid", "tanh"):
                out += list(rp.dense_forward(X, W, b, act))
            # a whole network in C: tanh hidden layer, softmax output (its exp)
            out += _core.net_forward([W, W2], [b[None, :], b2[None, :]], X,
                                     dict(layout="rows", activations=["tanh", "softmax"]))
            out += [rp.softmax(X * 20, axis=0)]  # the softmax kernel, strided
            results[level] = out
    finally:
        _core._simd(previous)
    for level in levels[1:]:
        for i, (a, c) in enumerate(zip(results["baseline"], results[level])):
            np.testing.assert_array_equal(
                a.view(np.uint8), c.view(np.uint8), err_msg=f"{level} output {i}")


def test_simd_rejects_unknown_names():
    previous = _core._simd()
    with pytest.raises(ValueError, match="not an instruction set"):
        _core._simd("sse9")
    assert _core._simd() == previous
