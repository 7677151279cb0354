"""Array makers and comparisons shared by the tests."""
import numpy as np

# How an input is laid out in memory. Every layout but "C" and "F" is a view
# into a larger or differently ordered buffer, as W.T, a[::2] and a[::-1] are.
ORDERS = ("C", "F", "T", "slice", "neg")

# float64 single calls agree to a few ulps; float32 drifts with the length of
# the sums (NumPy sums in float32, the kernels accumulate in double).
RTOL = {np.float64: 1e-12, np.float32: 2e-5}


def values(rng, shape, dtype, low=-2.0, high=2.0):
    """Random values of shape: ints in [low, high] for int dtypes."""
    if np.issubdtype(dtype, np.integer):
        return rng.integers(int(low), int(high) + 1, size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def arrange(base, order):
    """An array equal to base, laid out in memory as order says.

    "T" is the transpose of a C array (an F-ordered view), "slice" takes
    every other element of a larger buffer, "neg" walks a buffer backwards.
    The views are checked to be views: no kernel test runs on a copy by
    accident.
    """
    base = np.asarray(base)
    if order == "C":
        return np.ascontiguousarray(base)
    if order == "F":
        return np.asfortranarray(base)
    if order == "T":
        view = np.ascontiguousarray(base.T).T
    elif order == "slice":
        big = np.zeros(tuple(2 * n + 1 for n in base.shape), dtype=base.dtype)
        index = tuple(slice(1, None, 2) for _ in base.shape)
        big[index] = base
        view = big[index]
    elif order == "neg":
        back = tuple(slice(None, None, -1) for _ in base.shape)
        view = np.ascontiguousarray(base[back])[back]
    else:
        raise ValueError(order)
    assert view.base is not None, order
    if order != "T" and base.size > 1:
        assert not view.flags.c_contiguous and not view.flags.f_contiguous, order
    np.testing.assert_array_equal(view, base)
    return view


def float_dtype(*arrays):
    """The dtype the kernels compute in for these inputs."""
    rt = np.result_type(*arrays)
    return np.float32 if rt in (np.float16, np.float32) else np.float64


def assert_close(got, want, rtol, what):
    """got equals want within rtol, relative to want's largest magnitude."""
    if isinstance(want, float):
        assert isinstance(got, float), f"{what}: got {type(got).__name__}, want float"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=what)
        return
    assert isinstance(got, np.ndarray), f"{what}: got {type(got).__name__}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, want {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)
