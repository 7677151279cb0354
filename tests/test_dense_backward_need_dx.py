"""dense_backward(..., need_dX=False): the first layer's gradients without dX.

The same dW and db as with dX, bit for bit, in every layout and dtype; dX is
None; its reference twin agrees; an out[2] given with need_dX=False is a
clear error raised before anything is written.
"""
import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref


def layer(rng, layout, dtype, n=5, k=3, m=2, one=False):
    X = rng.standard_normal(k if one else ((n, k) if layout == "rows" else (k, n)))
    W = rng.standard_normal((k, m) if layout == "rows" else (m, k))
    delta = rng.standard_normal(m if one else ((n, m) if layout == "rows" else (m, n)))
    return [a.astype(dtype) for a in (delta, X, W)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("one", [False, True])
def test_same_dW_and_db_without_dX(dtype, layout, average, one):
    delta, X, W = layer(np.random.default_rng(1), layout, dtype, one=one)
    dW, db, dX = rp.dense_backward(delta, X, W, layout=layout, average=average)
    dW2, db2, none = rp.dense_backward(delta, X, W, layout=layout, average=average,
                                       need_dX=False)
    assert none is None and dX is not None
    assert dW2.dtype == dW.dtype and dW2.tobytes() == dW.tobytes()
    assert db2.shape == db.shape and db2.tobytes() == db.tobytes()
    rW, rb, rX = ref.dense_backward(delta, X, W, layout=layout, average=average, need_dX=False)
    assert rX is None
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dW2, rW, rtol=tol, atol=tol)
    np.testing.assert_allclose(db2, rb, rtol=tol, atol=tol)


def test_out_without_dX_is_written_in_place():
    delta, X, W = layer(np.random.default_rng(2), "rows", np.float64)
    dW, db = np.empty_like(W), np.empty(2)
    got = rp.dense_backward(delta, X, W, need_dX=False, out=(dW, db, None))
    assert got[0] is dW and got[1] is db and got[2] is None
    np.testing.assert_allclose(dW, X.T @ delta, rtol=1e-12)


def test_dX_out_with_need_dX_false_is_refused_before_writing():
    delta, X, W = layer(np.random.default_rng(3), "rows", np.float64)
    dW, db, dX = np.full_like(W, 7.0), np.full(2, 7.0), np.full_like(X, 7.0)
    for f in (rp.dense_backward, ref.dense_backward):
        with pytest.raises(ValueError, match=r"dense_backward: out\[2\] \(dX\) is given but "
                                             r"need_dX=False"):
            f(delta, X, W, need_dX=False, out=(dW, db, dX))
    assert (dW == 7).all() and (db == 7).all() and (dX == 7).all()


def test_the_docstring_shows_need_dX():
    assert "need_dX" in rp.dense_backward.__doc__
    assert "need_dX" in ref.dense_backward.__doc__
