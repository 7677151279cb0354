"""The reference twins compute in the dtype the kernels do on every NumPy we
support: NumPy 1.x's value-based casting (0-d inputs count by their value
beside arrays, and 0-d arithmetic runs in full types) as NumPy 2's NEP 50.
tests/test_parity.py and tests/test_fuzz.py compare the dtypes on whichever
NumPy runs; tests/matrix.sh runs them on both."""
import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref


def test_every_ufunc_twin_is_listed_with_its_inputs():
    """reference._ELEMENTWISE (what NumPy 1.x's 0-d handling wraps) lists
    the twin of every ufunc retroprop has, with the ufunc's number of inputs."""
    ufuncs = {name: getattr(rp, name).nin for name in rp.__all__
              if isinstance(getattr(rp, name), np.ufunc)}
    assert ref._ELEMENTWISE == ufuncs


@pytest.mark.parametrize("x", [np.float32(0.5), np.array(0.5, np.float32), np.float64(0.5),
                               np.array([0.5], np.float32), 0.5, True, np.int16(3)], ids=repr)
def test_zero_d_and_scalar_inputs_keep_the_kernels_dtype(x):
    for name, nin in ref._ELEMENTWISE.items():
        args = (x,) * nin
        got, want = getattr(rp, name)(*args), getattr(ref, name)(*args)
        assert np.asarray(got).dtype == np.asarray(want).dtype, (name, x)
        assert np.shape(got) == np.shape(want), (name, x)


def test_mixed_zero_d_and_arrays_follow_the_running_numpy():
    """float32 array with a float64 0-d operand: NumPy 1.x counts the 0-d one by
    its value (float32), NumPy 2 by its dtype (float64); kernel and twin agree."""
    a = np.array([0.25, 0.5], np.float32)
    y = np.float64(1.0)
    got, want = rp.sigmoid_bce_delta(a, y), ref.sigmoid_bce_delta(a, y)
    assert got.dtype == want.dtype == (np.float32 if ref._NUMPY1 else np.float64)
