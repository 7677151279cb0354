"""retroprop.gradcheck: central differences, the report, and the mistakes it names.

The network gradients are held twice: to central differences (check_network)
and to an independent plain-NumPy backpropagation written out below.
"""
import doctest
import zlib

import numpy as np
import pytest

import retroprop.gradcheck as gc

# ------------------------------------------------------ a NumPy twin of the net

def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# activation: (f(z, class axis), f'(z) given z and a); written out here, apart
# from retroprop's registry and reference, as the independent oracle
ACTIVATIONS = {
    "sigmoid": (lambda z, axis: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "tanh": (lambda z, axis: np.tanh(z), lambda z, a: 1 - a ** 2),
    "relu": (lambda z, axis: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "identity": (lambda z, axis: z.copy(), lambda z, a: np.ones_like(z)),
    "softmax": (_softmax, None),
}

# loss: (summed value of (A, Y), dL/dA factor of (A - Y) for the squared
# errors or None, divides by every entry when averaged)
LOSSES = {
    "half_sum_squared_error": (lambda A, Y: 0.5 * np.sum((A - Y) ** 2), 1.0, False),
    "sum_squared_error": (lambda A, Y: np.sum((A - Y) ** 2), 2.0, False),
    "mse": (lambda A, Y: np.sum((A - Y) ** 2), 2.0, True),
    # as notebooks write them, with seed 000's eps
    "bce": (lambda A, Y: -np.sum(Y * np.log(A + 1e-8) + (1 - Y) * np.log(1 - A + 1e-8)),
            None, True),
    "ce": (lambda A, Y: -np.sum(Y * np.log(A + 1e-8)), None, False),
}
AVERAGES = {"half_sum_squared_error": False, "sum_squared_error": False, "mse": True,
            "bce": True, "ce": True}


def numpy_network(weights, biases, X, Y, *, layout="rows", activation="sigmoid",
                  output_activation=None, loss="half_sum_squared_error", average=None,
                  lr=0.0, prime=None):
    """One training step in plain NumPy; every intermediate, by the trace's names.

    prime(layer, z, a) -> f'(z) replaces the derivative, to build a mistake.
    """
    rows = layout == "rows"
    axis = 1 if rows else 0
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    L = len(weights)
    biases = biases if biases is not None else [None] * L
    acts = (list(activation) if isinstance(activation, list)
            else [activation] * (L - 1) + [output_activation or "sigmoid"])
    average = AVERAGES[loss] if average is None else average
    value_of, factor, per_entry = LOSSES[loss]
    m = X.shape[0] if rows else X.shape[1]
    divisor = (m * Y.shape[axis] if per_entry else m) if average else 1
    if prime is None:
        prime = lambda layer, z, a: ACTIVATIONS[acts[layer]][1](z, a)  # noqa: E731

    def forward(Ws, bs):
        inputs, out = [X], {}
        for layer, (W, b) in enumerate(zip(Ws, bs)):
            Z = inputs[-1] @ W if rows else W @ inputs[-1]
            if b is not None:
                Z = Z + (b.reshape(1, -1) if rows else b.reshape(-1, 1))
            A = ACTIVATIONS[acts[layer]][0](Z, axis)
            out["z%d" % (layer + 1)], out["a%d" % (layer + 1)] = Z, A
            inputs.append(A)
        return inputs, out

    def loss_of(A):
        return value_of(A, Y) / divisor

    inputs, out = forward(weights, biases)
    A = inputs[-1]
    out["error"] = A - Y
    if factor is None:
        delta = A - Y
    else:
        delta = factor * (A - Y) * prime(L - 1, out["z%d" % L], A)
    grads = [None] * L
    for layer in range(L - 1, -1, -1):
        out["delta%d" % (layer + 1)] = delta
        inp, W, b = inputs[layer], weights[layer], biases[layer]
        dW = inp.T @ delta if rows else delta @ inp.T
        db = delta.sum(axis=0) if rows else delta.sum(axis=1, keepdims=True)
        dW, db = dW / divisor, db / divisor
        grads[layer] = (dW, None if b is None else db.reshape(b.shape))
        if layer:
            dX = delta @ W.T if rows else W.T @ delta
            delta = dX * prime(layer - 1, out["z%d" % layer], out["a%d" % layer])
    for layer, (dW, db) in enumerate(grads, 1):
        out["dW%d" % layer] = dW
        if db is not None:
            out["db%d" % layer] = db
    new_w = [W - lr * dW for W, (dW, _) in zip(weights, grads)]
    new_b = [None if b is None else b - lr * db for b, (_, db) in zip(biases, grads)]
    for layer in range(L):
        out["W%d_new" % (layer + 1)] = new_w[layer]
        if new_b[layer] is not None:
            out["b%d_new" % (layer + 1)] = new_b[layer]
    out["loss"] = loss_of(A)
    out["loss_after"] = loss_of(forward(new_w, new_b)[0][-1])
    return out


def random_network(rng, sizes, layout, n=5, bias=True, dtype=np.float64, positive_y=True):
    """weights, biases, X, Y of an MLP with layer sizes `sizes`, in layout's shapes."""
    rows = layout == "rows"
    weights = [rng.normal(0, 1, (a, b) if rows else (b, a)).astype(dtype)
               for a, b in zip(sizes, sizes[1:])]
    biases = [rng.normal(0, 0.5, (b,) if rows else (b, 1)).astype(dtype)
              if (bias[l] if isinstance(bias, list) else bias) else None
              for l, b in enumerate(sizes[1:])]
    X = rng.normal(0, 1, (n, sizes[0]) if rows else (sizes[0], n)).astype(dtype)
    shape = (n, sizes[-1]) if rows else (sizes[-1], n)
    Y = (rng.uniform(0, 1, shape) if positive_y else rng.normal(0, 1, shape)).astype(dtype)
    return weights, biases, X, Y


def gradient_lists(out, L):
    return ([out["dW%d" % i] for i in range(1, L + 1)],
            [out.get("db%d" % i) for i in range(1, L + 1)])


LAYOUTS = ("rows", "cols")

# ------------------------------------------------------------------ seed 003

WH = [[0.15, 0.25], [0.20, 0.30]]
BH = [0.35, 0.35]
W_OUT = [[0.40, 0.50], [0.45, 0.55]]
B_OUT = [0.60, 0.60]
X3 = [[0, 0], [1, 0], [0, 1], [1, 1]]
Y3 = [[0, 1], [1, 0], [1, 0], [0, 1]]


def seed_003_arrays():
    return (np.array(WH), np.array(BH), np.array(W_OUT), np.array(B_OUT),
            np.array(X3), np.array(Y3))


def seed_003_student_gradients():
    """Seed 003's own cells: transposed products, and the sign of y - a."""
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    sigmod = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a_h = sigmod(np.dot(X, wh) + bh)
    a_out = sigmod(np.dot(a_h, w_out) + b_out)
    delta = (y - a_out) * a_out * (1 - a_out)
    delta_h = np.dot(delta, w_out.T) * a_h * (1 - a_h)
    return (np.dot(delta_h.T, X), np.sum(delta_h, axis=0),
            np.dot(delta.T, a_h), np.sum(delta, axis=0))


def test_seed_003_reports_both_mistakes_by_name():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    grad_w_h, grad_b_h, grad_w_out, grad_b_out = seed_003_student_gradients()
    report = gc.check_network([wh, w_out], [bh, b_out], X, y,
                              [grad_w_h, grad_w_out], [grad_b_h, grad_b_out],
                              names=["grad_w_h", "grad_b_h", "grad_w_out", "grad_b_out"])
    assert not report.ok
    assert report["grad_w_h"].diagnosis == "transposed and sign flipped"
    assert report["grad_w_out"].diagnosis == "transposed and sign flipped"
    assert report["grad_b_h"].diagnosis == "sign flipped"
    assert report["grad_b_out"].diagnosis == "sign flipped"
    text = str(report)
    assert "4 of 4 gradients wrong" in text
    assert text.count("transposed and sign flipped") == 2
    with pytest.raises(AssertionError, match="transposed and sign flipped"):
        report.assert_ok()


def test_seed_003_printed_gradients_are_minus_the_transposed_true_ones():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    (gw_h, gw_out), (gb_h, gb_out) = gc.network_gradients([wh, w_out], [bh, b_out], X, y)
    printed = dict(atol=5.1e-9, rtol=0)
    np.testing.assert_allclose(-gw_h.T, [[-0.01984968, -0.01968949],
                                         [-0.02101044, -0.02081363]], **printed)
    np.testing.assert_allclose(-gw_out.T, [[-0.11860904, -0.12243956],
                                           [-0.12087335, -0.1255365]], **printed)
    np.testing.assert_allclose(-gb_h, [-0.03997947, -0.04303584], **printed)
    np.testing.assert_allclose(-gb_out, [-0.1893884, -0.19192365], **printed)
    report = gc.check_network([wh, w_out], [bh, b_out], X, y, [gw_h, gw_out], [gb_h, gb_out])
    assert report.ok and all(row.passed for row in report)
    report.assert_ok()


def test_seed_003_with_one_mistake_fixed_at_a_time():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    grad_w_h, grad_b_h, grad_w_out, grad_b_out = seed_003_student_gradients()
    # the sign fixed, the transposes left
    report = gc.check_network([wh, w_out], [bh, b_out], X, y,
                              [-grad_w_h, -grad_w_out], [-grad_b_h, -grad_b_out])
    assert [row.diagnosis for row in report] == ["transposed", "", "transposed", ""]
    assert [row.passed for row in report] == [False, True, False, True]


# ------------------------------------------------------- numeric_gradient

def test_numeric_gradient_of_a_quadratic():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))
    c = rng.normal(size=4)
    x = rng.normal(size=4)
    M = rng.normal(size=(3, 4))
    v = rng.normal(size=4)

    def loss():  # 0.5 x.A.x + c.x + 0.5 |M v|^2
        return float(0.5 * x @ A @ x + c @ x + 0.5 * np.sum((M @ v) ** 2))

    gx, gM = gc.numeric_gradient(loss, [x, M])
    np.testing.assert_allclose(gx, 0.5 * (A + A.T) @ x + c, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(gM, np.outer(M @ v, v), rtol=1e-8, atol=1e-9)
    assert gx.dtype == np.float64 and gx.shape == x.shape and gM.shape == M.shape


def test_numeric_gradient_float32_steps_larger_and_differences_in_float64():
    rng = np.random.default_rng(2)
    x = rng.normal(size=6).astype(np.float32)
    A = rng.normal(size=(6, 6)).astype(np.float32)
    A = A + A.T
    g = gc.numeric_gradient(lambda: float(0.5 * x @ A @ x), x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, (A.astype(float) @ x.astype(float)), rtol=2e-3, atol=2e-3)
    # a 1e-6 step cannot move a float32 of magnitude 1e3
    big = np.array([1000.0], dtype=np.float32)
    with pytest.raises(ValueError, match="does not move"):
        gc.numeric_gradient(lambda: float(big[0] ** 2), [big], h=1e-6)


def test_numeric_gradient_structures():
    x = np.array([1.0, -2.0])
    y = np.array([[0.5]])
    loss = lambda: float(np.sum(x ** 2) + 3 * y[0, 0])  # noqa: E731
    as_dict = gc.numeric_gradient(loss, {"x": x, "y": y})
    assert list(as_dict) == ["x", "y"]
    np.testing.assert_allclose(as_dict["x"], [2.0, -4.0], rtol=1e-8)
    np.testing.assert_allclose(as_dict["y"], [[3.0]], rtol=1e-8)
    as_list = gc.numeric_gradient(loss, [x, y])
    assert isinstance(as_list, list) and len(as_list) == 2
    single = gc.numeric_gradient(loss, x)
    assert isinstance(single, np.ndarray)
    np.testing.assert_allclose(single, [2.0, -4.0], rtol=1e-8)
    scalar = np.array(2.0)
    assert gc.numeric_gradient(lambda: float(scalar ** 3), scalar) == pytest.approx(12.0)
    # a loss that is a (1, 1) array, as A.T @ A of a column gives, needs no float()
    np.testing.assert_allclose(gc.numeric_gradient(lambda: x[None, :] @ x[:, None], x),
                               [2.0, -4.0], rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numeric_gradient_restores_every_entry_exactly(dtype):
    base = np.array([[0.1, -1e6, 3.3e-7], [7.0, -0.0, 1 / 3]], dtype=dtype)
    W = base.copy()
    view = np.zeros((4, 6), dtype=dtype)[::2, ::2]  # a strided view, moved in place
    view[...] = base
    calls = []

    def loss():
        calls.append(1)
        return float(np.sum(np.sin(W)) + np.sum(view ** 2))

    gc.numeric_gradient(loss, [W, view])
    assert len(calls) == 2 * (W.size + view.size)
    assert W.tobytes() == base.tobytes() and view.tobytes() == base.tobytes()

    def failing():  # raises on the 4th call: the second entry is moved, then put back
        if len(calls) == 3:
            raise RuntimeError("boom")
        return loss()

    calls.clear()
    with pytest.raises(RuntimeError, match="boom"):
        gc.numeric_gradient(failing, [W])
    assert W.tobytes() == base.tobytes()


def test_numeric_gradient_rejects_what_it_cannot_move():
    loss = lambda: 0.0  # noqa: E731
    with pytest.raises(TypeError, match="list"):
        gc.numeric_gradient(loss, [[1.0, 2.0]])
    with pytest.raises(TypeError, match="int64"):
        gc.numeric_gradient(loss, [np.array([1, 2])])
    frozen = np.ones(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        gc.numeric_gradient(loss, [frozen])
    with pytest.raises(ValueError, match="positive"):
        gc.numeric_gradient(loss, [np.ones(2)], h=0)
    with pytest.raises(TypeError, match="one number"):
        gc.numeric_gradient(lambda: np.ones(2), [np.ones(2)])


# ------------------------------------------------ correct gradients pass

NETWORK_CASES = [
    # (activation, output_activation, loss, average): every activation, every
    # loss of the registry, softmax outputs, averaged and summed
    ("sigmoid", "sigmoid", "half_sum_squared_error", False),
    ("sigmoid", "sigmoid", "bce", True),
    ("tanh", "identity", "sum_squared_error", False),
    ("relu", "sigmoid", "half_sum_squared_error", True),
    ("tanh", "sigmoid", "bce", False),
    ("relu", "identity", "half_sum_squared_error", False),
    ("identity", "tanh", "sum_squared_error", True),
    ("relu", "identity", "mse", None),
    ("tanh", "sigmoid", "mse", True),
    ("sigmoid", "softmax", "ce", None),
    ("relu", "softmax", "ce", False),
    (["relu", "tanh", "softmax"], None, "ce", True),
    (["tanh", "relu", "identity"], None, "mse", None),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation,output_activation,loss,average", NETWORK_CASES)
def test_network_gradients_equal_numpy_and_pass_the_check(layout, activation,
                                                           output_activation, loss, average):
    rng = np.random.default_rng(zlib.crc32(repr((layout, activation, output_activation, loss,
                                                  average)).encode()))
    shapes = [([2, 5, 3, 2], False), ([2, 5, 3, 2], [True, False, True])]
    if not isinstance(activation, list):
        shapes.insert(0, ([3, 4, 2], True))
    for sizes, bias in shapes:
        weights, biases, X, Y = random_network(rng, sizes, layout, bias=bias)
        if loss == "ce":  # one-hot targets
            Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], X.shape[0 if layout == "rows"
                                                                     else 1])]
            Y = Y if layout == "rows" else Y.T.copy()
        kw = dict(layout=layout, activation=activation, output_activation=output_activation,
                  loss=loss, average=average)
        gw, gb = gc.network_gradients(weights, biases if bias else None, X, Y, **kw)
        want_w, want_b = gradient_lists(
            numpy_network(weights, biases if bias else None, X, Y, **kw), len(weights))
        for got, want in zip(gw, want_w):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        if bias:
            for got, want, b in zip(gb, want_b, biases):
                if b is None:  # a layer without bias: None, not an array of None
                    assert got is None and want is None
                    continue
                assert got.shape == b.shape
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        else:
            assert gb is None
        report = gc.check_network(weights, biases if bias else None, X, Y, gw, gb, **kw)
        assert report.ok, str(report)
        assert all(row.passed is True for row in report), str(report)
        assert len(report) == len(weights) + sum(b is not None for b in biases if bias)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_check_network_leaves_the_callers_arrays_alone(layout):
    rng = np.random.default_rng(3)
    weights, biases, X, Y = random_network(rng, [3, 4, 2], layout)
    before = [a.copy() for a in weights + biases + [X, Y]]
    gw, gb = gc.network_gradients(weights, biases, X, Y, layout=layout)
    gc.check_network(weights, biases, X, Y, gw, gb, layout=layout)
    for a, b in zip(weights + biases + [X, Y], before):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_float32_networks_pass_and_are_still_diagnosed(layout):
    rng = np.random.default_rng(4)
    weights, biases, X, Y = random_network(rng, [3, 4, 2], layout, n=8, dtype=np.float32)
    for activation in ("sigmoid", "relu", "tanh"):
        gw, gb = gc.network_gradients(weights, biases, X, Y, layout=layout,
                                      activation=activation)
        assert all(g.dtype == np.float32 for g in gw + gb)
        report = gc.check_network(weights, biases, X, Y, gw, gb, layout=layout,
                                  activation=activation)
        assert report.ok, str(report)
        assert report.dtype == np.float32 and report.rtol == 2e-2
        assert "float32 tolerances" in str(report)
        wrong = gc.check_network(weights, biases, X, Y, [-g for g in gw], gb, layout=layout,
                                 activation=activation)
        assert [row.diagnosis for row in wrong if row.name.startswith("W")] == \
            ["sign flipped", "sign flipped"]
        zero = gc.check_network(weights, biases, X, Y, [np.zeros_like(gw[0]), gw[1]], gb,
                                layout=layout, activation=activation)
        assert zero["W1"].passed is False and "all zeros" in zero["W1"].diagnosis


def test_check_with_float32_parameters_directly():
    rng = np.random.default_rng(5)
    x = rng.normal(size=5).astype(np.float32)
    report = gc.check(lambda: float(np.sum(np.tanh(x) ** 2)), {"x": x},
                      {"x": (2 * np.tanh(x) * (1 - np.tanh(x) ** 2)).astype(np.float32)})
    assert report.ok and report.dtype == np.float32, str(report)
    report = gc.check(lambda: float(np.sum(np.tanh(x) ** 2)), {"x": x},
                      {"x": -(2 * np.tanh(x) * (1 - np.tanh(x) ** 2))})
    assert report["x"].diagnosis == "sign flipped"


# --------------------------------------------------------- the diagnoses

def network_and_gradients(layout, sizes=(3, 4, 2), seed=6, **kw):
    rng = np.random.default_rng(seed)
    weights, biases, X, Y = random_network(rng, list(sizes), layout, n=5)
    gw, gb = gc.network_gradients(weights, biases, X, Y, layout=layout, **kw)
    return weights, biases, X, Y, gw, gb


@pytest.mark.parametrize("layout", LAYOUTS)
def test_transposed_square_weight(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout, sizes=(3, 3, 2))
    assert gw[0].shape == (3, 3) and not np.allclose(gw[0], gw[0].T)
    report = gc.check_network(weights, biases, X, Y, [gw[0].T, gw[1]], gb, layout=layout)
    assert report["W1"].passed is False
    assert report["W1"].diagnosis == "transposed"
    assert [row.passed for row in report][1:] == [True, True, True]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_transposed_non_square_weight(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout)
    shape = gw[1].shape  # rows (4, 2), cols (2, 4)
    report = gc.check_network(weights, biases, X, Y, [gw[0], gw[1].T], gb, layout=layout)
    row = report["W2"]
    assert row.passed is False and row.shape == shape and row.grad_shape == shape[::-1]
    assert row.diagnosis == ("transposed (wrong shape: yours is %s, the parameter is %s)"
                             % (shape[::-1], shape))
    both = gc.check_network(weights, biases, X, Y, [-gw[0].T, gw[1]], gb, layout=layout)
    assert both["W1"].diagnosis.startswith("transposed and sign flipped (wrong shape")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_transposed_and_sign_flipped_square(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout, sizes=(3, 3, 2))
    report = gc.check_network(weights, biases, X, Y, [-gw[0].T, gw[1]], gb, layout=layout)
    assert report["W1"].diagnosis == "transposed and sign flipped"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sign_flipped(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout)
    report = gc.check_network(weights, biases, X, Y, [-g for g in gw], [-g for g in gb],
                              layout=layout)
    assert [row.diagnosis for row in report] == ["sign flipped"] * 4
    assert [row.name for row in report] == ["W1", "b1", "W2", "b2"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_missing_one_over_m(layout):
    # the loss averages over the 5 samples (seed 000's one output); the student's
    # gradient sums
    weights, biases, X, Y, gw, gb = network_and_gradients(layout, sizes=(3, 4, 1),
                                                          average=True, loss="bce")
    report = gc.check_network(weights, biases, X, Y, [5 * g for g in gw], [5 * g for g in gb],
                              layout=layout, average=True, loss="bce")
    for row in report:
        assert row.diagnosis == "missing 1/m factor (yours is m = 5 times too large)", row
    report = gc.check_network(weights, biases, X, Y, [-5 * gw[0], gw[1]], gb,
                              layout=layout, average=True, loss="bce")
    assert report["W1"].diagnosis.startswith("sign flipped and missing 1/m factor")
    # "mse" averages over every entry: 5 samples x 2 outputs
    weights, biases, X, Y, gw, gb = network_and_gradients(layout, loss="mse")
    report = gc.check_network(weights, biases, X, Y, [10 * g for g in gw], [10 * g for g in gb],
                              layout=layout, loss="mse")
    for row in report:
        assert row.diagnosis == "missing 1/m factor (yours is m = 10 times too large)", row


@pytest.mark.parametrize("layout", LAYOUTS)
def test_extra_one_over_m(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout)
    report = gc.check_network(weights, biases, X, Y, [g / 5 for g in gw], [g / 5 for g in gb],
                              layout=layout)
    for row in report:
        assert row.diagnosis == "extra 1/m factor (yours is m = 5 times too small)", row


def test_any_constant_ratio_is_reported_without_n_samples():
    x = np.array([0.5, -1.0, 2.0])
    loss = lambda: float(0.5 * np.sum(x ** 2))  # noqa: E731
    report = gc.check(loss, [x], [3 * x], names=["x"])
    assert report["x"].diagnosis == ("off by a constant factor: yours = 3 x the true gradient "
                                     "(a missing 1/m factor with m = 3?)")
    report = gc.check(loss, [x], [-0.25 * x], names=["x"])
    assert report["x"].diagnosis.startswith(
        "sign flipped and off by a constant factor: yours = 0.25 x the true gradient")
    assert "extra 1/m factor with m = 4?" in report["x"].diagnosis
    report = gc.check(loss, [x], [3 * x], names=["x"], n_samples=3)
    assert report["x"].diagnosis == "missing 1/m factor (yours is m = 3 times too large)"
    report = gc.check(loss, [x], [2 * x])
    assert "the 1/2 of a half squared error?" in report[0].diagnosis


def numpy_gradients_with(prime, weights, biases, X, Y, layout, **kw):
    return gradient_lists(numpy_network(weights, biases, X, Y, layout=layout, prime=prime, **kw),
                          len(weights))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_derivative_of_z_instead_of_a(layout, activation):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout, activation=activation)
    f_prime_of_a = ACTIVATIONS[activation][1]
    sigmoid_prime_of_a = ACTIVATIONS["sigmoid"][1]  # the output layer's

    def hidden_on_z(layer, z, a):  # a*(1-a) (or 1-a**2) written on z, in the hidden layer
        return f_prime_of_a(z, z) if layer == 0 else sigmoid_prime_of_a(z, a)

    wrong_w, wrong_b = numpy_gradients_with(hidden_on_z, weights, biases, X, Y, layout,
                                            activation=activation)
    report = gc.check_network(weights, biases, X, Y, wrong_w, wrong_b, layout=layout,
                              activation=activation)
    formula = {"sigmoid": "z1*(1-z1) where a1*(1-a1)", "tanh": "1-z1**2 where 1-a1**2"}
    for name in ("W1", "b1"):
        assert report[name].diagnosis == ("derivative taken of Z instead of A: %s belongs"
                                          % formula[activation]), str(report)
    assert report["W2"].passed and report["b2"].passed

    def everywhere_on_z(layer, z, a):
        return f_prime_of_a(z, z) if layer == 0 else sigmoid_prime_of_a(z, z)

    wrong_w, wrong_b = numpy_gradients_with(everywhere_on_z, weights, biases, X, Y, layout,
                                            activation=activation)
    report = gc.check_network(weights, biases, X, Y, wrong_w, wrong_b, layout=layout,
                              activation=activation)
    assert all(row.diagnosis.startswith("derivative taken of Z instead of A") for row in report)
    if activation == "sigmoid":
        assert all(row.diagnosis.endswith("in every layer") for row in report), str(report)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_derivative_of_a_instead_of_z(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout)

    def output_on_a(layer, z, a):  # sigmoid_prime(z) = s(z)(1 - s(z)), called on a
        return sigmoid(a) * (1 - sigmoid(a)) if layer == 1 else a * (1 - a)

    wrong_w, wrong_b = numpy_gradients_with(output_on_a, weights, biases, X, Y, layout)
    report = gc.check_network(weights, biases, X, Y, wrong_w, wrong_b, layout=layout)
    for row in report:  # the output delta feeds every gradient
        assert row.diagnosis == ("derivative taken of A instead of Z: sigmoid_prime(a2) where "
                                 "sigmoid_prime(z2) = a2*(1-a2) belongs"), str(report)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_wrong_shape(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout)
    b_shape = gb[0].shape  # rows (4,), cols (4, 1)
    other = (1, 4) if layout == "rows" else (4,)
    report = gc.check_network(weights, biases, X, Y, [np.ones(7), gw[1]],
                              [gb[0].reshape(other), gb[1]], layout=layout)
    assert report["W1"].diagnosis == ("wrong shape: yours is (7,), the parameter is %s"
                                      % (gw[0].shape,))
    assert report["b1"].diagnosis == ("wrong shape: yours is %s, the parameter is %s; the "
                                      "values match once reshaped" % (other, b_shape))
    assert report["W1"].passed is False and report["b1"].passed is False
    assert report["W2"].passed and report["b2"].passed
    assert "wrong shape: yours is (7,)" in str(report)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zero_gradient_is_refused(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout)
    report = gc.check_network(weights, biases, X, Y, [np.zeros_like(gw[0]), gw[1]],
                              [gb[0], np.zeros_like(gb[1])], layout=layout)
    for name in ("W1", "b2"):
        assert report[name].passed is False
        assert report[name].diagnosis.startswith("your gradient is all zeros")
    assert not report.ok


def test_zero_gradient_is_refused_even_when_the_true_one_is_tiny():
    # seed 000: dPesos1 is about 1e-7; zeros must not pass for it
    X0 = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y0 = np.array([[0, 1, 1, 0]], dtype=float)
    pesos = [np.array([[-0.00572711, 0.0105376], [0.00162986, 0.0011553]]),
             np.array([[-0.00153322, 0.0034023]])]
    sesgos = [np.zeros((2, 1)), np.zeros((1, 1))]
    kw = dict(layout="cols", loss="bce", average=True)
    gw, gb = gc.network_gradients(pesos, sesgos, X0, Y0, **kw)
    np.testing.assert_allclose(gw[0], [[-4.49904926e-08, -4.57682080e-08],
                                       [9.94446434e-08, 9.90566484e-08]], rtol=1e-8)
    np.testing.assert_allclose(gb[1], [[0.0002337]], atol=5.1e-9)
    assert gc.check_network(pesos, sesgos, X0, Y0, gw, gb, **kw).ok
    report = gc.check_network(pesos, sesgos, X0, Y0, [np.zeros((2, 2)), gw[1]],
                              [np.zeros((2, 1)), gb[1]], **kw)
    assert report["W1"].passed is False and report["b1"].passed is False
    report = gc.check_network(pesos, sesgos, X0, Y0, [4 * gw[0], gw[1]], gb, **kw)
    assert report["W1"].diagnosis == "missing 1/m factor (yours is m = 4 times too large)"


def test_both_zero_is_not_tested():
    x = np.array([1.0, 2.0])
    unused = np.array([3.0])
    copy = x.copy()
    report = gc.check(lambda: float(np.sum(x ** 2)), {"x": x, "unused": unused},
                      {"x": 2 * x, "unused": np.zeros(1)})
    assert report["x"].passed is True
    assert report["unused"].passed is None and report["unused"].result == "not tested"
    assert report["unused"].diagnosis.startswith("not tested: both gradients are zero")
    assert report.ok and report.untested == [report["unused"]] and report.failed == []
    assert "not tested (both gradients zero): unused" in str(report)
    # the classic slip: a loss that reads a copy of the parameter
    report = gc.check(lambda: float(np.sum(copy ** 2)), [x], [2 * x], names=["x"])
    assert report["x"].passed is False
    report = gc.check(lambda: float(np.sum(copy ** 2)), [x], [np.zeros(2)], names=["x"])
    assert report["x"].passed is None and "does loss_fn read this very array" in \
        report["x"].diagnosis


@pytest.mark.parametrize("layout", LAYOUTS)
def test_swapped_gradients(layout):
    weights, biases, X, Y, gw, gb = network_and_gradients(layout, sizes=(3, 2, 2))
    report = gc.check_network(weights, biases, X, Y, gw, [gb[1], gb[0]], layout=layout)
    assert report["b1"].diagnosis == "matches the gradient of b2, not of b1 (swapped?)"
    assert report["b2"].diagnosis == "matches the gradient of b1, not of b2 (swapped?)"


def test_unexplained_error_says_where():
    x = np.array([1.0, 2.0, 3.0])
    wrong = 2 * x
    wrong[1] += 0.5
    report = gc.check(lambda: float(np.sum(x ** 2)), [x], [wrong], names=["x"])
    assert report["x"].diagnosis == ("wrong values: 1 of 3 entries differ; the largest at [1]: "
                                     "yours 4.5, numeric 4")
    report = gc.check(lambda: float(np.sum(x ** 2)), [x], [np.array([2.0, np.nan, 6.0])])
    assert report[0].diagnosis == "your gradient contains nan or inf"
    report = gc.check(lambda: float(np.sum(x ** 2)), [x], [None])
    assert report[0].diagnosis == "no gradient given (None)"


# ------------------------------------------------------------ the report

def test_report_prints_as_a_table():
    wh, bh, w_out, b_out, X, y = seed_003_arrays()
    grad_w_h, grad_b_h, grad_w_out, grad_b_out = seed_003_student_gradients()
    gw, gb = gc.network_gradients([wh, w_out], [bh, b_out], X, y)
    report = gc.check_network([wh, w_out], [bh, b_out], X, y, [grad_w_h, gw[1]],
                              [gb[0], gb[1]], names=["wh", "bh", "w_out", "b_out"])
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("gradient check against central differences (float64 "
                               "tolerances): rtol 1e-05")
    assert lines[1].split() == ["name", "shape", "max", "abs", "err", "max", "rel", "err",
                                "result", "diagnosis"]
    assert lines[3].split()[:3] == ["wh", "(2,", "2)"]
    assert "WRONG" in lines[3] and lines[3].endswith("transposed and sign flipped")
    assert lines[4].split()[-1] == "ok"
    assert lines[-1] == "1 of 4 gradients wrong: wh"
    assert repr(report) == text
    page = report._repr_html_()
    assert page.count("<tr>") == 5 and "<table>" in page and "transposed and sign flipped" in page
    assert isinstance(report, list) and len(report) == 4
    assert report[0] is report["wh"]
    with pytest.raises(KeyError, match="no row named 'W9'"):
        report["W9"]
    with pytest.raises(AssertionError) as raised:
        report.assert_ok()
    assert "1 of 4 gradients wrong (wh)" in str(raised.value) and text in str(raised.value)
    fine = gc.check_network([wh, w_out], [bh, b_out], X, y, gw, gb)
    assert fine.assert_ok() is fine
    assert str(fine).splitlines()[-1] == "all 4 gradients match the central differences"


def test_check_arguments():
    x, y = np.array([1.0]), np.array([2.0])
    loss = lambda: float(x[0] * y[0])  # noqa: E731
    report = gc.check(loss, {"x": x, "y": y}, {"y": np.array([1.0]), "x": np.array([2.0])})
    assert report.ok and [row.name for row in report] == ["x", "y"]
    with pytest.raises(ValueError, match="no entry for y"):
        gc.check(loss, {"x": x, "y": y}, {"x": np.array([2.0])})
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        gc.check(loss, [x, y], [np.array([2.0])])
    with pytest.raises(ValueError, match="1 names for 2 parameters"):
        gc.check(loss, [x, y], [y, x], names=["x"])


def test_check_network_arguments():
    weights, biases, X, Y, gw, gb = network_and_gradients("rows")
    with pytest.raises(ValueError, match="grads_w must be a list of 2"):
        gc.check_network(weights, biases, X, Y, gw[:1], gb)
    with pytest.raises(ValueError, match="check_network: loss 'bce' does not go with "
                                         "output_activation 'identity': 'bce' needs 'sigmoid'"):
        gc.check_network(weights, biases, X, Y, gw, gb, loss="bce", output_activation="identity")
    with pytest.raises(ValueError, match="check_network: unknown loss 'half_squared_error'"):
        gc.check_network(weights, biases, X, Y, gw, gb, loss="half_squared_error")
    with pytest.raises(ValueError, match="check_network: unknown layout 'columns'"):
        gc.check_network(weights, biases, X, Y, gw, gb, layout="columns")
    with pytest.raises(ValueError, match=r"check_network: Y has shape \(5,\); the network "
                                         r"expects Y of shape \(5, 2\)"):
        gc.check_network(weights, biases, X, Y[:, 0], gw, gb)
    with pytest.raises(TypeError, match="check_network: weights is a dict; pass a list"):
        gc.check_network({"W1": weights[0], "W2": weights[1]}, biases, X, Y, gw, gb)
    # a bias whose gradient is not given is left out of the report
    report = gc.check_network(weights, biases, X, Y, gw, [gb[0], None])
    assert [row.name for row in report] == ["W1", "b1", "W2"] and report.ok
    report = gc.check_network(weights, biases, X, Y, gw, None)
    assert [row.name for row in report] == ["W1", "W2"] and report.ok


@pytest.mark.parametrize("module", [gc], ids=["gradcheck"])
def test_docstring_examples(module):
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted >= 10 and failed == 0


def test_every_public_function_has_an_example():
    for name in gc.__all__:
        obj = getattr(gc, name)
        assert obj.__doc__, name
        if callable(obj) and not isinstance(obj, type):
            assert ">>>" in obj.__doc__, name


def test_network_cases_cover_every_activation_and_loss_of_the_registry():
    from retroprop import registry
    assert {case[2] for case in NETWORK_CASES} == set(registry.LOSSES) == set(LOSSES)
    names = {a for case in NETWORK_CASES
             for a in (case[0] if isinstance(case[0], list) else case[:2]) if a}
    assert names == set(registry.ACTIVATIONS) == set(ACTIVATIONS)
    assert {case[3] for case in NETWORK_CASES} == {None, True, False}


# ---------------------------------------- the networks MLP trains, diagnosed

@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_cross_entropy_network_wrong_gradients_are_named(layout):
    """The network digits trains (softmax output, "ce", averaged), integer
    labels: a student's sum without 1/m, a transposed weight gradient, and
    the delta of the squared error instead of A - Y are each diagnosed."""
    rng = np.random.default_rng(21)
    weights, biases, X, _ = random_network(rng, [4, 5, 3], layout, n=6)
    labels = rng.integers(0, 3, 6)
    kw = dict(layout=layout, activation="tanh", output_activation="softmax", loss="ce")
    gw, gb = gc.network_gradients(weights, biases, X, labels, **kw)
    assert gc.check_network(weights, biases, X, labels, gw, gb, **kw).ok
    report = gc.check_network(weights, biases, X, labels, [6 * g for g in gw],
                              [6 * g for g in gb], **kw)
    assert [row.diagnosis for row in report] == \
        ["missing 1/m factor (yours is m = 6 times too large)"] * 4
    report = gc.check_network(weights, biases, X, labels, [gw[0], gw[1].T], gb, **kw)
    assert report["W2"].diagnosis.startswith("transposed") and report.failed == [report["W2"]]
    # the output delta with softmax's diagonal as if it were elementwise: (A - Y) * A (1 - A)
    net = gc.network(weights, biases, X, labels, **kw)
    Y = np.eye(3)[labels] if layout == "rows" else np.eye(3)[labels].T
    passes = net.passes(X, labels)
    A = passes["a2"]
    wrong = reference_backward(net, passes, X, (A - Y) * A * (1 - A))
    report = gc.check_network(weights, biases, X, labels, wrong[0], wrong[1], **kw)
    assert not report.ok and report["W2"].passed is False
    assert "wrong values" in report["W2"].diagnosis


def reference_backward(net, passes, X, delta):
    """dWs, dbs of net from its output delta (a student's backward)."""
    import retroprop.reference as ref
    L = len(net.weights)
    dWs, dbs = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        below = X if l == 0 else passes["a%d" % l]
        dW, db, dX = ref.dense_backward(delta, below, net.weights[l], layout=net.layout,
                                        average=True)
        dWs[l], dbs[l] = dW, db.reshape(net.biases[l].shape)
        if l:
            delta = dX * ref.tanh_prime_from_activation(below)
    return dWs, dbs


@pytest.mark.parametrize("layout", LAYOUTS)
def test_relu_tanh_network_wrong_gradients_are_named(layout):
    """relu then tanh hidden layers, identity output, "mse": tanh's derivative
    taken of Z, and a sign flip, are named."""
    rng = np.random.default_rng(22)
    weights, biases, X, Y = random_network(rng, [3, 6, 4, 2], layout, n=7, positive_y=False)
    kw = dict(layout=layout, activation=["relu", "tanh", "identity"], loss="mse")
    gw, gb = gc.network_gradients(weights, biases, X, Y, **kw)
    assert gc.check_network(weights, biases, X, Y, gw, gb, **kw).ok
    tanh_z = numpy_network(weights, biases, X, Y,
                           prime=lambda layer, z, a: (1 - z ** 2) if layer == 1 else
                           ACTIVATIONS[["relu", "tanh", "identity"][layer]][1](z, a), **kw)
    bad_w, bad_b = gradient_lists(tanh_z, 3)
    report = gc.check_network(weights, biases, X, Y, bad_w, bad_b, **kw)
    assert not report.ok
    assert report["W1"].diagnosis == ("derivative taken of Z instead of A: 1-z2**2 where "
                                      "1-a2**2 belongs"), str(report)
    report = gc.check_network(weights, biases, X, Y, [-g for g in gw], gb, **kw)
    assert [row.diagnosis for row in report.failed] == ["sign flipped"] * 3
