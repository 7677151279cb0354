"""retroprop.MLP and RedNeuronal: the fused C trainer against the same loop in
NumPy (retroprop.reference.MLP), the seeds' configurations, in-place training
of the caller's arrays, a real data set, bad configurations and Ctrl-C."""
import _thread
import threading
import time

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref
from retroprop import registry

# seed 000 (columns), seed 001 (rows, no bias), seed 003 (rows, biases)
X0 = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
Y0 = np.array([[0, 1, 1, 0]], dtype=float)
X1 = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
Y1 = np.array([[0], [1], [1], [0]])
X3 = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
Y3 = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])


def seed_000_arrays():
    return ([np.array([[-0.00572711, 0.0105376], [0.00162986, 0.0011553]]),
             np.array([[-0.00153322, 0.0034023]])],
            [np.zeros((2, 1)), np.zeros((1, 1))])


def seed_001_arrays():
    np.random.seed(1)
    sinapsis0 = 2 * np.random.random((3, 4)) - 1
    sinapsis1 = 2 * np.random.random((4, 1)) - 1
    return [sinapsis0, sinapsis1], None


def seed_003_arrays():
    return ([np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([[0.40, 0.50], [0.45, 0.55]])],
            [np.array([0.35, 0.35]), np.array([0.60, 0.60])])


def copies(weights, biases):
    return [w.copy() for w in weights], None if biases is None else [
        None if b is None else b.copy() for b in biases]


def both(arrays, **config):
    """The C network and its NumPy twin on separate copies of the same arrays."""
    weights, biases = arrays
    c = rp.MLP.from_arrays(*copies(weights, biases), **config)
    n = ref.MLP.from_arrays(*copies(weights, biases), **config)
    return c, n


def assert_same_net(c, n, rtol, what):
    for i, (a, b) in enumerate(zip(c.weights, n.weights)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max(),
                                   err_msg=f"{what}: weights[{i}]")
    for i, (a, b) in enumerate(zip(c.biases or [], n.biases or [])):
        assert (a is None) == (b is None), f"{what}: biases[{i}]"
        if a is None:
            continue
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-3),
                                   err_msg=f"{what}: biases[{i}]")


SEED_CONFIGS = {
    "seed000": (seed_000_arrays, X0, Y0,
                dict(layout="cols", loss="bce", average=True, lr=0.5)),
    "seed001": (seed_001_arrays, X1, Y1,
                dict(layout="rows", loss="half_sum_squared_error", lr=1.0)),
    "seed003": (seed_003_arrays, X3, Y3,
                dict(layout="rows", loss="half_sum_squared_error", lr=0.5)),
}


@pytest.mark.parametrize("name", sorted(SEED_CONFIGS))
def test_fit_equals_the_numpy_loop_on_the_seeds(name):
    make, X, Y, config = SEED_CONFIGS[name]
    c, n = both(make(), **config)
    hc, hn = c.fit(X, Y, epochs=1000), n.fit(X, Y, epochs=1000)
    assert hc.shape == (1000,) and hc.dtype == np.float64
    np.testing.assert_allclose(hc, hn, rtol=1e-9, err_msg=name)
    assert_same_net(c, n, 1e-9, name)
    assert hc[-1] < hc[0]  # it learns


def deep_data(layout, n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    labels = np.argmax(X[:, :3] + 0.3 * rng.normal(size=(n, 3)), axis=1)
    Y = np.eye(3)[labels]
    return (X, Y) if layout == "rows" else (X.T.copy(), Y.T.copy())


@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_fit_equals_the_numpy_loop_deep_tanh_softmax_momentum_minibatches(layout):
    X, Y = deep_data(layout)
    config = dict(activation="tanh", output_activation="softmax", loss="ce", layout=layout,
                  lr=0.05, momentum=0.9, average=True)
    init = rp.MLP([5, 8, 6, 3], seed=3, **config)
    c, n = both((init.weights, init.biases), **config)
    # 40 samples in batches of 7: 6 steps an epoch, 167 epochs ~ 1000 steps
    hc = c.fit(X, Y, epochs=167, batch_size=7, shuffle=True, seed=11)
    hn = n.fit(X, Y, epochs=167, batch_size=7, shuffle=True, seed=11)
    np.testing.assert_allclose(hc, hn, rtol=1e-9)
    assert_same_net(c, n, 1e-9, f"5-8-6-3 {layout}")
    assert hc[-1] < 0.5 * hc[0]


def test_momentum_without_biases_equals_the_numpy_loop():
    # found by tests/test_fuzz.py: a net without biases had no bias velocities,
    # and fit refused them ("momentum needs velocity lists ...")
    config = dict(loss="half_sum_squared_error", lr=0.5, momentum=0.9)
    c, n = both(seed_001_arrays(), **config)
    np.testing.assert_allclose(c.fit(X1, Y1, epochs=50), n.fit(X1, Y1, epochs=50), rtol=1e-9)
    assert_same_net(c, n, 1e-9, "seed 001 with momentum")


@pytest.mark.parametrize("activation,output_activation,loss", [
    ("relu", "identity", "mse"), ("identity", "sigmoid", "bce"), ("sigmoid", "tanh", "mse")])
def test_fit_equals_the_numpy_loop_other_activations(activation, output_activation, loss):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    Y = (rng.uniform(size=(30, 2)) > 0.5).astype(float)
    config = dict(activation=activation, output_activation=output_activation, loss=loss,
                  lr=0.01, average=True)
    init = rp.MLP([4, 7, 2], seed=5, **config)
    c, n = both((init.weights, init.biases), **config)
    np.testing.assert_allclose(c.fit(X, Y, 200, batch_size=8), n.fit(X, Y, 200, batch_size=8),
                               rtol=1e-9)
    assert_same_net(c, n, 1e-9, activation)


def test_float32_fit_follows_the_numpy_loop():
    X, Y = deep_data("rows")
    config = dict(activation="tanh", output_activation="softmax", loss="ce", lr=0.05,
                  dtype=np.float32)
    c = rp.MLP([5, 8, 3], seed=2, **config)
    n = ref.MLP.from_arrays(*copies(c.weights, c.biases), lr=0.05, activation="tanh",
                            output_activation="softmax", loss="ce")
    assert c.weights[0].dtype == np.float32
    hc, hn = c.fit(X, Y, 50, batch_size=10), n.fit(X, Y, 50, batch_size=10)
    assert c.weights[0].dtype == np.float32
    np.testing.assert_allclose(hc, hn, rtol=1e-4)
    assert_same_net(c, n, 1e-4, "float32")


def test_seed_001_final_predictions_after_10000_iterations():
    # The seed prints capa_2 of its last iteration, computed before that
    # iteration's update: 9999 updates, then the forward pass.
    weights, _ = seed_001_arrays()
    net = rp.MLP.from_arrays(weights, None, loss="half_sum_squared_error", lr=1.0)
    net.fit(X1, Y1, epochs=9999)
    np.testing.assert_allclose(net.forward(X1).ravel(),
                               [0.00510229, 0.99437164, 0.99493875, 0.00421887],
                               rtol=0, atol=5.1e-9)
    # and the same with the NumPy loop, tightly
    twin = ref.MLP.from_arrays(seed_001_arrays()[0], None, loss="half_sum_squared_error", lr=1.0)
    twin.fit(X1, Y1, epochs=9999)
    np.testing.assert_allclose(net.forward(X1), twin.forward(X1), rtol=1e-12)


def test_from_arrays_trains_the_callers_arrays_in_place():
    (pesos1, pesos2), (sesgo1, sesgo2) = seed_000_arrays()
    originals = [a.copy() for a in (pesos1, pesos2, sesgo1, sesgo2)]
    pointers = [a.__array_interface__["data"][0] for a in (pesos1, pesos2, sesgo1, sesgo2)]
    net = rp.MLP.from_arrays([pesos1, pesos2], [sesgo1, sesgo2], layout="cols", loss="bce",
                             lr=0.5)
    net.fit(X0, Y0, epochs=100)
    assert net.weights[0] is pesos1 and net.weights[1] is pesos2
    assert net.biases[0] is sesgo1 and net.biases[1] is sesgo2
    assert [a.__array_interface__["data"][0] for a in (pesos1, pesos2, sesgo1, sesgo2)] == pointers
    for a, before in zip((pesos1, pesos2, sesgo1, sesgo2), originals):
        assert not np.array_equal(a, before)


def test_assigning_into_the_weights_changes_the_network():
    net = rp.MLP([2, 2, 2], loss="mse", seed=0)
    wh, w_out = seed_003_arrays()[0]
    net.weights[0][...] = wh
    net.weights[1] = w_out.copy()
    net.biases[0][...] = 0.35
    net.biases[1][...] = 0.60
    np.testing.assert_allclose(net.forward(X3)[0], [0.75000237, 0.77134977], atol=5.1e-9)


def test_backward_step_loss_and_forward_agree_with_the_kernels():
    weights, biases = seed_003_arrays()
    net = rp.MLP.from_arrays(*copies(weights, biases), loss="half_sum_squared_error", lr=0.5)
    twin = ref.MLP.from_arrays(*copies(weights, biases), loss="half_sum_squared_error", lr=0.5)
    dWs, dbs = net.backward(X3, Y3)
    tW, tb = twin.backward(X3, Y3)
    for a, b, p in zip(dWs + dbs, tW + tb, net.weights + net.biases):
        assert a.shape == p.shape
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # seed 003's correct gradient, from its printed (transposed, negated) one
    np.testing.assert_allclose(dWs[0], -np.array([[-0.01984968, -0.01968949],
                                                  [-0.02101044, -0.02081363]]).T, atol=5.1e-9)
    assert net.loss(X3, Y3) == pytest.approx(1.2915201744, rel=1e-10)
    assert net.step(X3, Y3) == pytest.approx(1.2915201744, rel=1e-10)
    assert net.loss(X3, Y3) == pytest.approx(1.2243474114, rel=1e-10)
    out = net.forward(X3)
    assert out.shape == (4, 2) and len(net.activations) == 2
    assert np.array_equal(net.predict(X3), out)  # mse: the outputs themselves


def test_backward_matches_central_differences():
    X, Y = deep_data("cols", n=12)
    net = rp.MLP([5, 4, 3], activation="tanh", output_activation="softmax", loss="ce",
                 layout="cols", seed=1)
    dWs, dbs = net.backward(X, Y)
    h = 1e-6
    for params, grads in ((net.weights, dWs), (net.biases, dbs)):
        for p, g in zip(params, grads):
            assert np.abs(g).max() > 1e-4   # not trivially zero
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                keep = p[idx]
                p[idx] = keep + h
                up = net.loss(X, Y)
                p[idx] = keep - h
                down = net.loss(X, Y)
                p[idx] = keep
                numeric[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


def test_digits_reach_95_percent_in_30_epochs():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X = digits.data / 16.0
    y = digits.target
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:1400], order[1400:]
    net = rp.MLP([64, 32, 10], activation="sigmoid", output_activation="softmax", loss="ce",
                 lr=0.5, seed=0)
    history = net.fit(X[train], y[train], epochs=30, batch_size=32, shuffle=True, seed=0)
    accuracy = float(np.mean(net.predict(X[test]) == y[test]))
    assert history[-1] < history[0]
    assert accuracy >= 0.95, accuracy


def test_red_neuronal_reproduces_seed_000():
    red = rp.RedNeuronal(tasa=0.5)
    (p1, p2), (s1, s2) = seed_000_arrays()
    red.pesos1[...], red.pesos2[...] = p1, p2
    Y_pred = red.forward(X0)
    np.testing.assert_allclose(Y_pred, [[0.50023363, 0.50023287, 0.50023453, 0.50023377]],
                               atol=5.1e-9)
    np.testing.assert_allclose(red.act1[0], [0.5, 0.50263438, 0.49856823, 0.50120262],
                               atol=5.1e-9)
    assert red.perdida(Y_pred, Y0) == pytest.approx(0.6931472697889913, rel=1e-14)
    dPesos1, dSesgo1, dPesos2, dSesgo2 = red.backward(X0, Y0)
    np.testing.assert_allclose(dPesos2, [[0.00011699, 0.00011693]], atol=5.1e-9)
    np.testing.assert_allclose(dPesos1, [[-4.49904926e-08, -4.57682080e-08],
                                         [9.94446434e-08, 9.90566484e-08]], rtol=1e-8)
    np.testing.assert_allclose(dSesgo1, [[-9.10234366e-08], [1.98679661e-07]], rtol=1e-8)
    before = red.pesos2.copy()
    red.actualizar(dPesos1, dSesgo1, dPesos2, dSesgo2)
    np.testing.assert_allclose(red.pesos2, before - 0.5 * dPesos2, rtol=1e-15)


def test_red_neuronal_learns_xor_in_place():
    red = rp.RedNeuronal(ocultas=4, tasa=1.0, semilla=0)
    # the seed's 0.01 * randn start sits on XOR's saddle; start from larger weights
    rng = np.random.default_rng(0)
    red.pesos1[...] = rng.uniform(-1, 1, red.pesos1.shape)
    red.pesos2[...] = rng.uniform(-1, 1, red.pesos2.shape)
    pesos1 = red.pesos1
    historia = red.entrenar(X0, Y0, iteraciones=5000)
    assert red.pesos1 is pesos1 and historia.shape == (5000,)
    assert historia[-1] < 0.05
    assert red.predecir(X0).tolist() == [[0, 1, 1, 0]]


# ------------------------------------------------------------ bad configuration

def unchanged(net):
    return [a.copy() for a in net.weights + (net.biases or [])]


def assert_unchanged(net, before):
    for a, b in zip(net.weights + (net.biases or []), before):
        np.testing.assert_array_equal(a, b)


def test_sizes_that_do_not_chain():
    with pytest.raises(ValueError, match=r"sizes do not chain: weights\[0\] \(3, 4\) has 4 "
                                         r"outputs but weights\[1\] \(5, 1\) has 5 inputs"):
        rp.MLP.from_arrays([np.zeros((3, 4)), np.zeros((5, 1))], loss="mse")
    with pytest.raises(ValueError, match=r"biases\[0\] has shape \(3,\); layer 0 maps 3 "
                                         r"inputs to 4 outputs"):
        rp.MLP.from_arrays([np.zeros((3, 4)), np.zeros((4, 1))], [np.zeros(3), np.zeros(1)],
                           loss="mse")


@pytest.mark.parametrize("kwargs,match", [
    (dict(activation="softplus"), r"unknown activation 'softplus'"),
    (dict(output_activation="sign"), r"unknown output_activation 'sign'"),
    (dict(loss="hinge"), r"unknown loss 'hinge'"),
    (dict(loss="ce"), r"loss 'ce' does not go with output_activation 'sigmoid'"),
    (dict(loss="half_squared_error"), r"unknown loss 'half_squared_error'; expected 'bce'"),
    (dict(output_activation="softmax", loss="mse"), r"a 'softmax' output takes loss 'ce'"),
    (dict(layout="columns"), r"unknown layout 'columns'"),
    (dict(lr=float("nan")), r"lr must be a finite number"),
    (dict(lr=float("inf")), r"lr must be a finite number"),
    (dict(momentum=1.5), r"momentum must be in \[0, 1\)"),
])
def test_bad_configuration_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rp.MLP([2, 3, 1], **kwargs)


def test_bad_sizes():
    with pytest.raises(ValueError, match=r"sizes must be at least two positive integers"):
        rp.MLP([3])
    with pytest.raises(ValueError, match=r"sizes must be at least two positive integers"):
        rp.MLP([3, 0, 1])


def test_y_of_the_wrong_shape_changes_nothing():
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    before = unchanged(net)
    with pytest.raises(ValueError, match=r"Y has shape \(4, 2\); the network expects Y"):
        net.fit(X1, np.zeros((4, 2)), epochs=10)
    with pytest.raises(ValueError, match=r"Y has shape \(3, 1\)"):
        net.fit(X1, np.zeros((3, 1)), epochs=10)
    with pytest.raises(ValueError, match=r"X has shape \(4, 2\)"):
        net.fit(X3, Y1, epochs=10)
    assert_unchanged(net, before)


def test_lr_made_non_finite_later_changes_nothing():
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    before = unchanged(net)
    net.lr = float("nan")
    with pytest.raises(ValueError, match=r"lr must be a finite number"):
        net.fit(X1, Y1, epochs=10)
    assert_unchanged(net, before)


@pytest.mark.parametrize("epochs", [0, -1, 2.5])
def test_epochs_must_be_positive(epochs):
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    with pytest.raises(ValueError, match=r"epochs must be a positive integer"):
        net.fit(X1, Y1, epochs=epochs)


def test_labels_out_of_range():
    net = rp.MLP([3, 4, 2], output_activation="softmax", loss="ce", seed=0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        net.fit(X1, np.array([0, 1, 2, 1]), epochs=1)


def test_mixed_dtypes_are_refused_naming_both():
    with pytest.raises(TypeError, match=r"weights\[1\] has dtype float32 but weights\[0\] has "
                                        r"dtype float64, which sets the network's dtype"):
        rp.MLP.from_arrays([np.zeros((3, 4)), np.zeros((4, 1), np.float32)], loss="mse")
    with pytest.raises(TypeError, match=r"biases\[0\] has dtype float64 but weights\[0\] has "
                                        r"dtype float32"):
        rp.MLP.from_arrays([np.zeros((3, 4), np.float32)], [np.zeros(4)], loss="mse")


# ------------------------------------------------------------ the registry's losses

@pytest.mark.parametrize("loss", sorted(registry.LOSSES))
def test_every_loss_is_its_function(loss):
    """MLP.loss with the loss's own averaging is rp.<function>(A, Y): one meaning."""
    entry = registry.LOSSES[loss]
    output = (entry.outputs or ("identity",))[0]
    rng = np.random.default_rng(len(loss))
    net = rp.MLP([3, 5, 4], output_activation=output, loss=loss, seed=1)
    X = rng.normal(size=(6, 3))
    Y = np.eye(4)[rng.integers(0, 4, 6)] if loss in ("ce", "bce") else rng.normal(size=(6, 4))
    A = net.forward(X)
    want = getattr(rp, entry.function)(A, Y)
    assert net.loss(X, Y) == pytest.approx(want, rel=1e-12)
    assert ref.MLP.from_arrays(net.weights, net.biases, output_activation=output,
                               loss=loss).loss(X, Y) == pytest.approx(want, rel=1e-12)
    assert net.average == entry.average


def test_mse_is_the_mean_and_the_seeds_loss_has_its_own_name():
    X, Y = X1, Y1
    mse = rp.MLP.from_arrays(seed_001_arrays()[0], None, loss="mse")
    half = rp.MLP.from_arrays(seed_001_arrays()[0], None, loss="half_sum_squared_error")
    A = mse.forward(X)
    assert mse.loss(X, Y) == pytest.approx(np.mean((A - Y) ** 2), rel=1e-14)
    assert half.loss(X, Y) == pytest.approx(0.5 * np.sum((A - Y) ** 2), rel=1e-14)
    (dW_mse, _), (dW_half, _) = mse.backward(X, Y), half.backward(X, Y)
    for a, b in zip(dW_mse, dW_half):  # d mean = 2 / (n * outputs) * d half-sum
        np.testing.assert_allclose(a, 2 / 4 * b, rtol=1e-14)
    # the old spelling of the seeds' loss does not silently train the mean
    with pytest.raises(ValueError, match="loss 'mse' is the mean squared error.*never summed "
                                         ".*loss='half_sum_squared_error' \\(seeds 001-003\\)"):
        rp.MLP.from_arrays(seed_001_arrays()[0], None, loss="mse", average=False)


@pytest.mark.parametrize("eps", [0.0, 1e-8, 1e-3])
def test_eps_is_settable_and_reaches_the_c_loop(eps):
    # seed 000's net; eps=0 is deeplearning.ai's compute_cost
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], float)
    Y = np.array([[0, 1, 1, 0]], float)
    make = lambda backend: backend.MLP.from_arrays(  # noqa: E731
        *copies(*seed_000_arrays()), layout="cols", loss="bce", eps=eps, lr=0.5)
    c, n = make(rp), make(ref)
    A = c.forward(X)
    assert c.loss(X, Y) == pytest.approx(rp.bce(A, Y, eps=eps), rel=1e-14)
    np.testing.assert_allclose(c.fit(X, Y, epochs=50), n.fit(X, Y, epochs=50), rtol=1e-12)
    assert c.eps == eps
    with pytest.raises(ValueError, match="MLP: loss 'mse' has no logarithm, so no eps"):
        rp.MLP([2, 1], output_activation="identity", loss="mse", eps=0.1)
    with pytest.raises(ValueError, match="MLP: eps must be a finite number >= 0, got -1"):
        rp.MLP([2, 1], eps=-1)


@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_per_layer_activations_and_missing_biases(layout):
    X, Y = deep_data(layout)
    acts = ["relu", "tanh", "softmax"]
    init = rp.MLP([5, 8, 6, 3], activation=acts, loss="ce", layout=layout, seed=2)
    assert init.activation_names == acts
    biases = [init.biases[0], None, init.biases[2]]
    c, n = both((init.weights, biases), activation=acts, loss="ce", layout=layout, lr=0.1)
    for net in (c, n):
        dWs, dbs = net.backward(X, Y)
        assert dbs[1] is None and dbs[0].shape == biases[0].shape, type(net)
        assert len(dWs) == 3
    (dWc, dbc), (dWn, dbn) = c.backward(X, Y), n.backward(X, Y)
    for a, b in zip(dWc + [dbc[0], dbc[2]], dWn + [dbn[0], dbn[2]]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c.fit(X, Y, epochs=30), n.fit(X, Y, epochs=30), rtol=1e-9)
    assert_same_net(c, n, 1e-9, "relu-tanh-softmax, one bias missing")
    with pytest.raises(ValueError, match="MLP: activation has 2 names for 3 layers"):
        rp.MLP([5, 8, 6, 3], activation=["relu", "softmax"], loss="ce")
    with pytest.raises(ValueError, match="MLP: activation\\[0\\] 'softmax' can only be the "
                                         "output's"):
        rp.MLP([5, 8, 3], activation=["softmax", "softmax"], loss="ce")
    with pytest.raises(ValueError, match="leave output_activation out"):
        rp.MLP([5, 8, 3], activation=["relu", "softmax"], output_activation="softmax")


def test_from_arrays_teaches_lists_where_a_dict_is_not_taken():
    weights = [np.zeros((3, 4)), np.zeros((4, 1))]
    with pytest.raises(TypeError, match=r"MLP.from_arrays: biases is a dict \(keys 'b1', "
                                        r"'b2'\); pass a list of arrays, one per layer"):
        rp.MLP.from_arrays(weights, {"b1": np.zeros(4), "b2": np.zeros(1)})
    with pytest.raises(TypeError, match=r"MLP.from_arrays: weights is one array of shape "
                                        r"\(3, 4\); pass a list"):
        rp.MLP.from_arrays(weights[0])


def test_layout_hint_for_rashids_weights():
    # Rashid's (out, in) weights with the default layout: they chain as columns
    w_ih, w_ho = np.zeros((3, 2)), np.zeros((1, 3))
    with pytest.raises(ValueError, match="did you mean layout='cols'\\?"):
        rp.MLP.from_arrays([w_ih, w_ho], loss="mse")
    # one layer (1, 3) of Rashid's, X (3, 5) in columns: only X says it
    net = rp.MLP.from_arrays([w_ho.copy()], loss="mse")
    with pytest.raises(ValueError, match="it fits samples as columns: did you mean "
                                         "layout='cols'\\?"):
        net.fit(np.zeros((3, 5)), np.zeros((5, 1)), epochs=1)
    # the weights in rows but X in columns: X.T
    net = rp.MLP.from_arrays([w_ih.T.copy(), w_ho.T.copy()], loss="mse")
    with pytest.raises(ValueError, match="its transpose fits: did you mean X.T\\?"):
        net.fit(np.zeros((2, 5)), np.zeros((5, 1)), epochs=1)


def test_ce_labels_say_what_shapes_work():
    net = rp.MLP([3, 2], output_activation="softmax", loss="ce")
    with pytest.raises(ValueError, match=r"MLP.fit: Y has shape \(4, 1\); loss='ce' takes one-hot "
                                        r"targets, \(4, 2\) here \(layout='rows'\), or integer "
                                        r"labels as a 1-D array of 4 \(y.ravel\(\)\)"):
        net.fit(X1, np.array([[0], [1], [1], [0]]), epochs=1)
    net.fit(X1, np.array([0, 1, 1, 0]), epochs=1)  # what it says works


# ------------------------------------------------------------ seeds, threads, Ctrl-C

def test_initialisation_is_reproducible():
    a, b = rp.MLP([4, 5, 2], seed=7), rp.MLP([4, 5, 2], seed=7)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(x, y)
    assert a.weights[0].shape == (4, 5) and a.biases[0].shape == (5,)
    c = rp.MLP([4, 5, 2], layout="cols", seed=7, bias=False)
    assert c.weights[0].shape == (5, 4) and c.biases is None


def test_two_threads_fit_separate_nets_as_sequentially():
    X, Y = deep_data("rows", n=200)
    config = dict(activation="tanh", output_activation="softmax", loss="ce", lr=0.05)
    nets = [rp.MLP([5, 16, 3], seed=s, **config) for s in (1, 2)]
    alone = [rp.MLP.from_arrays(*copies(n.weights, n.biases), **config) for n in nets]
    expected = [n.fit(X, Y, 300, batch_size=16, shuffle=True, seed=4) for n in alone]
    results = [None, None]

    def run(i):
        results[i] = nets[i].fit(X, Y, 300, batch_size=16, shuffle=True, seed=4)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        np.testing.assert_array_equal(results[i], expected[i])
        for a, b in zip(nets[i].weights, alone[i].weights):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_two_threads_fitting_the_same_net_do_not_crash(momentum):
    # Documented in MLP.fit: the two fits update the same arrays in place with
    # the GIL released, their steps interleave, the result is neither fit's
    # alone; but nothing crashes and the parameters stay finite and usable.
    X, Y = deep_data("rows", n=200)
    net = rp.MLP([5, 32, 16, 3], activation="tanh", output_activation="softmax", loss="ce",
                 lr=0.05, momentum=momentum, seed=1)
    histories, errors = [None] * 4, []

    def run(i):
        try:
            histories[i] = net.fit(X, Y, 150, batch_size=8, shuffle=True, seed=i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for h in histories:
        assert h.shape == (150,) and np.isfinite(h).all()
    for a in net.weights + net.biases:
        assert np.isfinite(a).all()
    assert (net.predict(X) == Y.argmax(axis=1)).mean() > 0.8  # it still learned


def test_ctrl_c_stops_a_long_fit_cleanly():
    X = np.random.default_rng(0).normal(size=(2000, 64))
    Y = np.eye(10)[np.arange(2000) % 10]
    net = rp.MLP([64, 128, 10], output_activation="softmax", loss="ce", lr=0.01, seed=0)
    fired = []

    def ctrl_c():
        fired.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(0.3, ctrl_c)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, Y, epochs=100000, batch_size=32)
    finally:
        timer.cancel()
    stopped = time.perf_counter()
    assert stopped - start < 10, stopped - start  # a 100000-epoch fit would take hours
    # the fit looks for Ctrl-C every few million multiply-adds (a few ms);
    # 2 s leaves room for a loaded CI machine
    assert fired and stopped - fired[0] < 2.0, f"stopped {stopped - fired[0]:.3f} s after Ctrl-C"
    for a in net.weights + net.biases:
        assert np.isfinite(a).all()
    net.fit(X[:64], Y[:64], epochs=1)  # and the network still trains
