"""Bad input is a clear error naming the argument and shapes, raised before
anything is written: every out= array and every parameter is left unchanged."""
import math

import numpy as np
import pytest

import retroprop as rp

X42 = np.arange(8.0).reshape(4, 2)
W22 = np.array([[0.15, 0.25], [0.20, 0.30]])


def sentinel(shape, dtype=np.float64):
    return np.full(shape, 7.0, dtype=dtype)


def raises_untouched(exc, match, fn, *watched):
    """fn() raises exc matching match, and every watched array is unchanged."""
    before = [w.copy() for w in watched]
    with pytest.raises(exc, match=match):
        fn()
    for w, b in zip(watched, before):
        np.testing.assert_array_equal(w, b)


def test_dense_forward_mismatched_shapes_names_both():
    Z, A = sentinel((4, 2)), sentinel((4, 2))
    raises_untouched(
        ValueError,
        r"dense_forward: X has 3 columns but W has 2 rows \(X \(4, 3\), W \(2, 2\), "
        r"layout='rows'\)",
        lambda: rp.dense_forward(np.ones((4, 3)), W22, out=(Z, A)), Z, A)


def test_dense_forward_cols_mismatch():
    raises_untouched(ValueError, r"dense_forward: .*\(4, 2\).*\(2, 2\).*layout='cols'",
                     lambda: rp.dense_forward(X42, W22, layout="cols"))


def test_dense_forward_wrong_ndim():
    raises_untouched(ValueError, r"X must be 2-D .* got shape \(2, 2, 2\)",
                     lambda: rp.dense_forward(np.ones((2, 2, 2)), W22))


def test_dense_forward_bias_of_wrong_shape():
    A = sentinel((4, 2))
    raises_untouched(ValueError, r"b has shape \(3,\) but W \(2, 2\) has 2 outputs",
                     lambda: rp.dense_forward(X42, W22, np.ones(3), out=(None, A)), A)


def test_unknown_activation():
    Z = sentinel((4, 2))
    raises_untouched(ValueError, r"unknown activation 'softplus'",
                     lambda: rp.dense_forward(X42, W22, activation="softplus", out=(Z, None)), Z)


def test_unknown_layout():
    raises_untouched(ValueError, r"unknown layout 'columns'",
                     lambda: rp.dense_forward(X42, W22, layout="columns"))


def test_out_of_wrong_shape():
    Z, A = sentinel((4, 3)), sentinel((4, 2))
    raises_untouched(ValueError, r"out\[0\] \(Z\) has shape \(4, 3\) but the result has "
                     r"shape \(4, 2\)", lambda: rp.dense_forward(X42, W22, out=(Z, A)), Z, A)


def test_out_of_wrong_dtype():
    Z, A = sentinel((4, 2), np.float32), sentinel((4, 2))
    raises_untouched(ValueError, r"out\[0\] \(Z\) has dtype float32 but the result is float64",
                     lambda: rp.dense_forward(X42, W22, out=(Z, A)), Z, A)


def test_read_only_out():
    Z, A = sentinel((4, 2)), sentinel((4, 2))
    A.flags.writeable = False
    raises_untouched(ValueError, r"out\[1\] \(A\) is read-only",
                     lambda: rp.dense_forward(X42, W22, out=(Z, A)), Z, A)


def test_out_not_a_tuple():
    raises_untouched(TypeError, r"out must be None or a tuple of 2 arrays",
                     lambda: rp.dense_forward(X42, W22, out=np.empty((4, 2))))


def test_out_aliasing_an_input():
    X = X42.copy()
    raises_untouched(ValueError, r"out\[0\] \(Z\) shares memory with an input",
                     lambda: rp.dense_forward(X, W22, out=(X, None)), X)


def test_dense_backward_delta_of_wrong_shape():
    dW = sentinel((2, 2))
    raises_untouched(ValueError, r"delta has shape \(4, 3\) but this layer's Z has shape "
                     r"\(4, 2\)", lambda: rp.dense_backward(np.ones((4, 3)), X42, W22,
                                                            out=(dW, None, None)), dW)


def test_dense_backward_out_of_wrong_shape():
    dW, db = sentinel((2, 3)), sentinel(2)
    raises_untouched(ValueError, r"out\[0\] \(dW\) has shape \(2, 3\) but the result has "
                     r"shape \(2, 2\)",
                     lambda: rp.dense_backward(np.ones((4, 2)), X42, W22, out=(dW, db, None)),
                     dW, db)


def test_dense_backward_average_of_no_samples():
    raises_untouched(ValueError, r"average=True needs at least one sample",
                     lambda: rp.dense_backward(np.ones((0, 2)), np.ones((0, 2)), W22,
                                               average=True))


def test_matmul_mismatch():
    out = sentinel((2, 3))
    raises_untouched(ValueError, r"matmul: A has 3 columns but B has 2 rows "
                     r"\(A \(2, 3\), B \(2, 3\)\)",
                     lambda: rp.matmul(np.ones((2, 3)), np.ones((2, 3)), out=out), out)


@pytest.mark.parametrize("bad", [
    np.array([[1, "a"]], dtype=object),
    np.ones((2, 2), dtype=complex),
    np.array([["a", "b"], ["c", "d"]]),
    np.array([["2020-01-01"] * 2] * 2, dtype="datetime64[D]"),
], ids=["object", "complex", "string", "datetime"])
def test_non_real_dtypes_are_type_errors(bad):
    with pytest.raises(TypeError, match=r"dense_forward: X has dtype .*expected a real array"):
        rp.dense_forward(bad, W22)


def test_none_is_a_type_error():
    with pytest.raises(TypeError, match=r"dense_forward: X must be an array, got None"):
        rp.dense_forward(None, W22)


def test_ufunc_rejects_strings_like_numpy():
    with pytest.raises(TypeError, match=r"sigmoid"):
        rp.sigmoid(np.array(["a"]))


def test_loss_shapes_must_match():
    with pytest.raises(ValueError, match=r"bce: A has shape \(3,\) but Y has shape \(3, 1\)"):
        rp.bce(np.full(3, 0.5), np.ones((3, 1)))


def test_sgd_update_grad_of_wrong_shape():
    param = W22.copy()
    raises_untouched(ValueError, r"sgd_update: grad has shape \(2,\) but param has shape "
                     r"\(2, 2\)", lambda: rp.sgd_update(param, np.ones(2), 0.1), param)


def test_sgd_update_read_only_param():
    param = W22.copy()
    param.flags.writeable = False
    raises_untouched(ValueError, r"sgd_update: param \(2, 2\) is read-only",
                     lambda: rp.sgd_update(param, np.ones((2, 2)), 0.1), param)


def test_sgd_update_int_param():
    param = np.ones((2, 2), dtype=np.int64)
    raises_untouched(TypeError, r"sgd_update: param has dtype int64",
                     lambda: rp.sgd_update(param, np.ones((2, 2)), 0.1), param)


@pytest.mark.parametrize("lr", [math.nan, math.inf, -math.inf])
def test_sgd_update_non_finite_lr(lr):
    param = W22.copy()
    raises_untouched(ValueError, r"sgd_update: lr must be a finite number",
                     lambda: rp.sgd_update(param, np.ones((2, 2)), lr), param)


def test_nan_and_inf_propagate_as_in_numpy():
    z = np.array([np.nan, np.inf, -np.inf, 0.0])
    np.testing.assert_array_equal(rp.sigmoid(z), [np.nan, 1.0, 0.0, 0.5])
    np.testing.assert_array_equal(rp.tanh(z), np.tanh(z))
    np.testing.assert_array_equal(rp.relu(z), np.maximum(z, 0))
    Z, A = rp.dense_forward(np.array([[np.nan, 1.0]]), W22)
    assert np.isnan(Z).all() and np.isnan(A).all()
    assert math.isnan(rp.half_sum_squared_error(np.array([np.nan]), np.array([0.0])))
    param = W22.copy()
    rp.sgd_update(param, np.array([[np.inf, 0.0], [0.0, 0.0]]), 0.1)
    assert param[0, 0] == -np.inf and param[1, 1] == 0.30
