"""retroprop.trace: one training step with every array named, and compare().

The trace is held to seed 003's printed arrays and to the plain-NumPy step
of test_gradcheck.numpy_network.
"""
import doctest
import zlib

import numpy as np
import pytest

import retroprop.trace as tr
from test_gradcheck import (LAYOUTS, NETWORK_CASES, numpy_network, random_network,
                            seed_003_arrays)

PRINTED = dict(rtol=0, atol=5.1e-9)  # NumPy's 8 printed decimals

SEED_003_ORDER = ["z1", "a1", "z2", "a2", "error", "delta2", "delta1", "dW1", "db1", "dW2",
                  "db2", "W1_new", "b1_new", "W2_new", "b2_new", "loss", "loss_after"]


def seed_003_trace():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    return tr.step([wh, w_out], [bh, b_out], X, y, lr=0.5)


def seed_003_student_arrays():
    """Seed 003's cells, names and all (its delta has the sign of y - a)."""
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    z_h = np.dot(X, wh) + bh
    a_h = 1 / (1 + np.exp(-z_h))
    z_out = np.dot(a_h, w_out) + b_out
    a_out = 1 / (1 + np.exp(-z_out))
    delta = (y - a_out) * a_out * (1 - a_out)
    delta_h = np.dot(delta, w_out.T) * a_h * (1 - a_h)
    return dict(z_h=z_h, a_h=a_h, z_out=z_out, a_out=a_out, delta=delta, delta_h=delta_h,
                grad_w_h=np.dot(delta_h.T, X), grad_b_h=np.sum(delta_h, axis=0))


# -------------------------------------------------------------------- step

def test_seed_003_step_equals_the_printed_arrays():
    t = seed_003_trace()
    np.testing.assert_allclose(t["a2"], [[0.75000237, 0.77134977], [0.75759317, 0.78011568],
                                         [0.75938467, 0.78218131], [0.76624034, 0.79003164]],
                               **PRINTED)
    # the true gradient is minus the seed's, transposed
    np.testing.assert_allclose(-t["dW1"].T, [[-0.01984968, -0.01968949],
                                             [-0.02101044, -0.02081363]], **PRINTED)
    np.testing.assert_allclose(-t["dW2"].T, [[-0.11860904, -0.12243956],
                                             [-0.12087335, -0.1255365]], **PRINTED)
    np.testing.assert_allclose(-t["db1"], [-0.03997947, -0.04303584], **PRINTED)
    np.testing.assert_allclose(-t["db2"], [-0.1893884, -0.19192365], **PRINTED)
    assert t["loss"] == pytest.approx(1.2915201744, abs=5e-11)
    assert t["loss_after"] == pytest.approx(1.2243474114, abs=5e-11)
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    np.testing.assert_allclose(t["W1_new"], wh - 0.5 * t["dW1"], rtol=1e-15)
    np.testing.assert_allclose(t["b2_new"], b_out - 0.5 * t["db2"], rtol=1e-15)
    # the seed's update, wh -= 0.5 * grad_w_h, is wh + 0.5 * dW1.T: what it printed
    np.testing.assert_allclose(wh + 0.5 * t["dW1"].T, [[0.15992484, 0.25984475],
                                                       [0.21050522, 0.31040682]], **PRINTED)
    np.testing.assert_allclose(b_out + 0.5 * t["db2"], [0.6946942, 0.69596183], **PRINTED)


def test_seed_003_trace_order_and_aliases():
    t = seed_003_trace()
    assert list(t) == SEED_003_ORDER
    assert t["a_out"] is t["a2"] and t["z_h"] is t["z1"] and t["delta_h"] is t["delta1"]
    assert t["grad_w_out"] is t["dW2"] and t["wh"] is t["W1_new"] and t["delta_out"] is t["error"]
    assert t.resolve("grad_b_h") == "db1" and t.resolve("a1") == "a1"
    with pytest.raises(KeyError, match="'a3' is not in the trace; its names are z1, a1"):
        t["a3"]
    assert isinstance(t, dict) and t.lr == 0.5 and t.layout == "rows" and t.n_layers == 2
    assert t["loss"] == t["loss"] and isinstance(t["loss"], float)


def test_step_leaves_the_callers_arrays_untouched():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    arrays = [wh, bh, w_out, b_out, X, y]
    before = [a.copy() for a in arrays]
    t = tr.step([wh, w_out], [bh, b_out], X, y, lr=0.5)
    for a, b in zip(arrays, before):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    for name in ("W1_new", "b1_new", "W2_new", "b2_new"):
        assert not any(np.shares_memory(t[name], a) for a in arrays)
    assert not np.array_equal(t["W1_new"], wh)


def test_without_biases_and_deeper():
    rng = np.random.default_rng(7)
    weights, _, X, Y = random_network(rng, [3, 4, 3, 2], "rows", bias=False)
    t = tr.step(weights, None, X, Y, lr=0.1)
    assert list(t) == ["z1", "a1", "z2", "a2", "z3", "a3", "error", "delta3", "delta2",
                       "delta1", "dW1", "dW2", "dW3", "W1_new", "W2_new", "W3_new", "loss",
                       "loss_after"]
    assert t.aliases == {}
    with pytest.raises(KeyError):
        t["a_out"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation,output_activation,loss,average", NETWORK_CASES)
def test_step_equals_numpy(layout, activation, output_activation, loss, average):
    rng = np.random.default_rng(zlib.crc32(repr((activation, loss, average)).encode()))
    L = len(activation) if isinstance(activation, list) else 2
    sizes = [3, 4, 5, 2][-(L + 1):]
    weights, biases, X, Y = random_network(rng, sizes, layout, n=6,
                                           bias=[True, False, True][:L])
    if loss == "ce":  # integer labels: the trace one-hot encodes them as MLP does
        labels = rng.integers(0, 2, 6)
        Y = np.eye(2)[labels] if layout == "rows" else np.eye(2)[labels].T.copy()
    kw = dict(layout=layout, activation=activation, output_activation=output_activation,
              loss=loss, average=average)
    t = tr.step(weights, biases, X, labels if loss == "ce" else Y, lr=0.3, **kw)
    want = numpy_network(weights, biases, X, Y, lr=0.3, **kw)
    assert list(t) == list(want)
    for name in want:
        np.testing.assert_allclose(t[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)
        assert np.shape(t[name]) == np.shape(want[name]), name
    small = tr.step(weights, biases, X, Y, lr=1e-3, **kw)  # a small enough step descends
    assert small["loss_after"] < small["loss"] == t["loss"]
    comparison = tr.compare(t, {name: want[name] for name in want})
    assert comparison.ok, str(comparison)


def test_seed_000_columns_bce_average():
    X0 = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y0 = np.array([[0, 1, 1, 0]], dtype=float)
    pesos1 = np.array([[-0.00572711, 0.0105376], [0.00162986, 0.0011553]])
    pesos2 = np.array([[-0.00153322, 0.0034023]])
    t = tr.step([pesos1, pesos2], [np.zeros((2, 1)), np.zeros((1, 1))], X0, Y0, lr=0.1,
                layout="cols", loss="bce", average=True)
    assert t["loss"] == pytest.approx(0.6931472697889913, rel=1e-14)
    np.testing.assert_allclose(t["a2"], [[0.50023363, 0.50023287, 0.50023453, 0.50023377]],
                               **PRINTED)
    np.testing.assert_allclose(t["delta1"], [[-0.00019174, 0.00019156, 0.00019156, -0.00019174],
                                             [0.00042549, -0.00042509, -0.00042509, 0.00042549]],
                               **PRINTED)
    np.testing.assert_allclose(t["dW1"], [[-4.49904926e-08, -4.57682080e-08],
                                          [9.94446434e-08, 9.90566484e-08]], rtol=1e-8)
    np.testing.assert_allclose(t["db1"], [[-9.10234366e-08], [1.98679661e-07]], rtol=1e-8)
    np.testing.assert_allclose(t["dW2"], [[0.00011699, 0.00011693]], **PRINTED)
    assert t["db1"].shape == (2, 1) and t["delta2"] is not t["error"]
    np.testing.assert_array_equal(t["delta2"], t["error"])  # sigmoid + BCE: a - y


def test_float32_parameters_give_a_float32_trace():
    rng = np.random.default_rng(8)
    weights, biases, X, Y = random_network(rng, [3, 4, 2], "cols", dtype=np.float32)
    t = tr.step(weights, biases, X, Y, lr=0.5, layout="cols")
    assert all(t[name].dtype == np.float32 for name in t if name not in ("loss", "loss_after"))
    want = numpy_network([w.astype(float) for w in weights], [b.astype(float) for b in biases],
                         X, Y, lr=0.5, layout="cols")
    assert tr.compare(t, a2=want["a2"], dW1=want["dW1"]).ok  # float32: rtol 1e-4
    assert not tr.compare(t, a2=want["a2"] * (1 + 1e-3)).ok


def test_step_arguments():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    with pytest.raises(ValueError, match="lr must be a finite number"):
        tr.step([wh, w_out], [bh, b_out], X, y, lr=float("nan"))
    with pytest.raises(TypeError):
        tr.step([wh, w_out], [bh, b_out], X, y)  # lr is required
    with pytest.raises(ValueError, match="trace.step: unknown activation 'sigmod'; expected "
                                         "'sigmoid', 'tanh', 'relu' or 'identity'"):
        tr.step([wh, w_out], [bh, b_out], X, y, lr=0.5, activation="sigmod")
    with pytest.raises(ValueError, match=r"Y has shape \(4, 1\)"):
        tr.step([wh, w_out], [bh, b_out], X, y[:, :1], lr=0.5)


def test_trace_prints_as_a_table():
    t = seed_003_trace()
    lines = str(t).splitlines()
    assert lines[0] == ("one training step: 2 layers, layout 'rows', loss half_sum_squared_error, "
                        "lr 0.5")
    assert lines[1].split() == ["name", "shape", "first", "values"]
    assert lines[5].split(None, 3) == ["a2", "(4,", "2)",
                                       "0.75000237, 0.77134977, 0.75759317, 0.78011568, ..."]
    assert lines[-2].split() == ["loss", "scalar", "1.2915202"]
    assert len(lines) == 2 + len(SEED_003_ORDER)
    assert repr(t) == str(t)
    page = t._repr_html_()
    assert page.count("<tr>") == 1 + len(SEED_003_ORDER) and "<code>delta1</code>" in page


# ----------------------------------------------------------------- compare

def test_compare_names_the_first_array_that_differs():
    t = seed_003_trace()
    mine = {name: t[name].copy() for name in ["z1", "a1", "z2", "a2", "error", "delta2"]}
    mine["delta1"] = t["delta1"] + np.array([[0.0, 0.031], [0, 0], [0, 0], [0, 0]])
    mine["dW1"] = t["dW1"] * 2
    result = tr.compare(t, **mine)
    assert str(result) == ("delta1 differs: max abs error 3.1e-02; everything before it "
                           "matches (z1, a1, z2, a2, error, delta2); later ones that differ "
                           "too: dW1")
    assert not result.ok and result.first == "delta1"
    assert [r[0] for r in result.results] == ["z1", "a1", "z2", "a2", "error", "delta2",
                                             "delta1", "dW1"]
    assert repr(result) == str(result) and "delta1 differs" in result._repr_html_()
    del mine["delta1"], mine["dW1"]
    result = tr.compare(t, mine)
    assert result.ok and result.first is None
    assert str(result) == "all 6 given arrays match (z1, a1, z2, a2, error, delta2)"


def test_compare_follows_the_trace_order_not_yours():
    t = seed_003_trace()
    result = tr.compare(t, dW2=-t["dW2"], z1=t["z1"] + 1, a2=t["a2"])
    assert str(result).startswith("z1 differs: max abs error 1.0e+00; it is the first array "
                                  "you gave; later ones that differ too: dW2")


def test_compare_seed_003_students_own_arrays():
    t = seed_003_trace()
    result = tr.compare(t, seed_003_student_arrays())
    assert str(result) == (
        "delta (delta2) differs: max abs error 2.8e-01; minus it matches (sign flipped); "
        "everything before it matches (z_h (z1), a_h (a1), z_out (z2), a_out (a2)); later ones "
        "that differ too: delta_h (delta1), grad_w_h (dW1), grad_b_h (db1)")
    grad_w_h = seed_003_student_arrays()["grad_w_h"]
    assert str(tr.compare(t, grad_w_h=grad_w_h)) == (
        "grad_w_h (dW1) differs: max abs error 4.2e-02; minus its transpose matches "
        "(transposed and sign flipped); it is the first array you gave")
    assert "its transpose matches (transposed)" in str(tr.compare(t, grad_w_h=-grad_w_h))


def test_compare_reports_shapes():
    rng = np.random.default_rng(9)
    weights, biases, X, Y = random_network(rng, [3, 4, 2], "rows")
    t = tr.step(weights, biases, X, Y, lr=0.1)
    assert str(tr.compare(t, dW1=t["dW1"].T)) == (
        "dW1 differs: it has shape (4, 3) where the trace's is (3, 4); its transpose matches "
        "(transposed); it is the first array you gave")
    assert "minus its transpose matches (transposed and sign flipped)" in \
        str(tr.compare(t, dW1=-t["dW1"].T))
    assert str(tr.compare(t, db1=t["db1"][None, :])) == (
        "db1 differs: it has shape (1, 4) where the trace's is (4,); the values match once "
        "reshaped; it is the first array you gave")
    assert str(tr.compare(t, z1=np.ones(3))).startswith(
        "z1 differs: it has shape (3,) where the trace's is (5, 4); it is")


def test_compare_tolerance_is_1e_9_relative_in_float64():
    t = seed_003_trace()
    assert tr.compare(t, a2=t["a2"] * (1 + 1e-11), loss=t["loss"] * (1 + 1e-11)).ok
    assert tr.compare(t, loss=1.2915201744).ok  # 10 digits: within 1e-9
    assert str(tr.compare(t, a2=t["a2"], loss=1.2915201744 * (1 + 1e-8))) == (
        "loss differs: max abs error 1.3e-08; everything before it matches (a2)")
    assert not tr.compare(t, a2=t["a2"] * (1 + 1e-7)).ok
    assert tr.compare(t, a2=t["a2"] * (1 + 1e-7), rtol=1e-6).ok
    assert not tr.compare(t, a2=np.where(t["a2"] > 0.78, np.nan, t["a2"])).ok
    assert tr.compare(t, a2=t["a2"].tolist()).ok  # lists are fine


def test_compare_arguments():
    t = seed_003_trace()
    with pytest.raises(ValueError, match="give at least one array"):
        tr.compare(t)
    with pytest.raises(ValueError, match="given twice: a1"):
        tr.compare(t, {"a1": t["a1"]}, a1=t["a1"])
    with pytest.raises(ValueError, match="a_h and a1 are the same array of the trace"):
        tr.compare(t, a_h=t["a1"], a1=t["a1"])
    with pytest.raises(KeyError, match="'A1' is not in the trace"):
        tr.compare(t, A1=t["a1"])


def test_docstring_examples():
    failed, attempted = doctest.testmod(tr, optionflags=doctest.ELLIPSIS)
    assert attempted >= 8 and failed == 0


def test_every_public_function_has_an_example():
    for name in ("step", "compare"):
        assert ">>>" in getattr(tr, name).__doc__, name
    for name in tr.__all__:
        assert getattr(tr, name).__doc__, name
