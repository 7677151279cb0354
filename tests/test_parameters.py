"""An MLP's parameters in and out (retroprop/parameters.py): initialisation by
name, deeplearning.ai's W1/b1 dicts trained in place, .npz files without
pickle, and PyTorch's nn.Sequential (forward equal to 1e-12 in float64)."""
import math
import subprocess
import sys

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref


# ------------------------------------------------------------ initialisation

UNIFORM = {"glorot_uniform": lambda i, o: math.sqrt(6 / (i + o)),
           "he_uniform": lambda i, o: math.sqrt(6 / i),
           "lecun_uniform": lambda i, o: math.sqrt(3 / i)}
NORMAL = {"glorot_normal": lambda i, o: math.sqrt(2 / (i + o)),
          "he_normal": lambda i, o: math.sqrt(2 / i),
          "lecun_normal": lambda i, o: math.sqrt(1 / i)}


@pytest.mark.parametrize("name", sorted(UNIFORM) + sorted(NORMAL))
@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_init_by_name_is_the_numpy_draw(name, layout):
    sizes = [5, 7, 3]
    net = rp.MLP(sizes, init=name, seed=4, layout=layout)
    rng = np.random.default_rng(4)
    for W, (i, o) in zip(net.weights, zip(sizes[:-1], sizes[1:])):
        if name in UNIFORM:
            s = UNIFORM[name](i, o)
            expected = rng.uniform(-s, s, size=(i, o))
        else:
            expected = rng.normal(0.0, NORMAL[name](i, o), size=(i, o))
        assert np.array_equal(W, expected if layout == "rows" else expected.T)
    for b in net.biases:
        assert not b.any()


@pytest.mark.parametrize("name,scale", [("glorot_normal", math.sqrt(2 / 1000)),
                                        ("he_uniform", math.sqrt(6 / 500) / math.sqrt(3)),
                                        ("lecun_normal", math.sqrt(1 / 500))])
def test_init_spread_is_the_formula(name, scale):
    W = rp.MLP([500, 500], init=name, seed=0).weights[0]
    assert abs(W.std() / scale - 1) < 0.01 and abs(W.mean()) < 0.01 * scale


def test_aliases_default_and_zeros():
    for alias, name in [("xavier_uniform", "glorot_uniform"), ("xavier_normal", "glorot_normal"),
                        ("kaiming_uniform", "he_uniform"), ("kaiming_normal", "he_normal")]:
        a, b = rp.MLP([4, 3, 2], init=alias, seed=1), rp.MLP([4, 3, 2], init=name, seed=1)
        assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    # None: He normal for relu, Glorot uniform otherwise (as before names existed)
    for activation, name in [("relu", "he_normal"), ("tanh", "glorot_uniform")]:
        a = rp.MLP([4, 3, 2], activation=activation, seed=2)
        b = rp.MLP([4, 3, 2], activation=activation, init=name, seed=2)
        assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    # a list of activations, one per layer: each layer by its own
    a = rp.MLP([4, 3, 2], activation=["relu", "identity"], loss="mse", seed=2)
    he = rp.MLP([4, 3, 2], activation=["relu", "identity"], loss="mse", init="he_normal", seed=2)
    assert np.array_equal(a.weights[0], he.weights[0])
    assert not np.array_equal(a.weights[1], he.weights[1])
    assert not any(W.any() for W in rp.MLP([4, 3, 2], init="zeros").weights)


def test_the_seeds_uniform_minus_one_to_one():
    """Seed 001: np.random.seed(1); 2 * np.random.random((3, 4)) - 1, then (4, 1)."""
    state = np.random.get_state()
    np.random.seed(1)
    s0 = 2 * np.random.random((3, 4)) - 1
    s1 = 2 * np.random.random((4, 1)) - 1
    np.random.set_state(state)
    net = rp.MLP([3, 4, 1], init="uniform_minus_one_to_one", seed=1, bias=False, loss="mse")
    assert np.array_equal(net.weights[0], s0) and np.array_equal(net.weights[1], s1)
    # the columns layout draws (out, in) arrays in turn, as a columns notebook would
    cols = rp.MLP([3, 4, 1], init="uniform_minus_one_to_one", seed=1, layout="cols")
    rs = np.random.RandomState(1)
    assert np.array_equal(cols.weights[0], 2 * rs.random_sample((4, 3)) - 1)


def test_bias_init():
    net = rp.MLP([4, 3, 2], bias_init="he_uniform", seed=3)
    rng = np.random.default_rng(3)
    for (i, o), W, b in zip([(4, 3), (3, 2)], net.weights, net.biases):
        limit = math.sqrt(6 / (i + o))
        assert np.array_equal(W, rng.uniform(-limit, limit, size=(i, o)))
        assert np.array_equal(b, rng.uniform(-math.sqrt(6 / i), math.sqrt(6 / i), size=o))


@pytest.mark.parametrize("kwargs,message", [
    (dict(init="glorot"), "MLP: unknown init 'glorot'; expected one of 'glorot_normal', "
                          "'glorot_uniform', 'he_normal', 'he_uniform', 'lecun_normal', "
                          "'lecun_uniform', 'uniform_minus_one_to_one', 'zeros', "
                          "'kaiming_normal', 'kaiming_uniform', 'xavier_normal', "
                          "'xavier_uniform' or None"),
    (dict(bias_init=None), "MLP: unknown bias_init None; expected one of 'glorot_normal', "
                           "'glorot_uniform', 'he_normal', 'he_uniform', 'lecun_normal', "
                           "'lecun_uniform', 'uniform_minus_one_to_one', 'zeros', "
                           "'kaiming_normal', 'kaiming_uniform', 'xavier_normal', "
                           "'xavier_uniform'"),
])
def test_bad_init(kwargs, message):
    with pytest.raises(ValueError) as info:
        rp.MLP([2, 1], **kwargs)
    assert str(info.value) == message


# ------------------------------------------------------------ dicts

def deeplearning_ai_parameters(seed=1):
    """initialize_parameters_deep([4, 5, 1]): W (out, in) * 0.01, b (out, 1) zeros."""
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((5, 4)) * 0.5, "b1": np.zeros((5, 1)),
            "W2": rng.standard_normal((1, 5)) * 0.5, "b2": np.zeros((1, 1))}


def deeplearning_ai_train(parameters, X, Y, learning_rate, iterations):
    """The course's L_model_forward / backward / update_parameters for relu -> sigmoid."""
    m = X.shape[1]
    for _ in range(iterations):
        Z1 = parameters["W1"] @ X + parameters["b1"]
        A1 = np.maximum(Z1, 0)
        A2 = 1 / (1 + np.exp(-(parameters["W2"] @ A1 + parameters["b2"])))
        dZ2 = A2 - Y
        dW2, db2 = dZ2 @ A1.T / m, dZ2.sum(axis=1, keepdims=True) / m
        dZ1 = (parameters["W2"].T @ dZ2) * (Z1 > 0)
        dW1, db1 = dZ1 @ X.T / m, dZ1.sum(axis=1, keepdims=True) / m
        for key, grad in [("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)]:
            parameters[key] = parameters[key] - learning_rate * grad
    return parameters


def test_a_parameter_dict_is_trained_in_place():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 50))
    Y = (X[:1] * X[1:2] > 0).astype(float)
    parameters = deeplearning_ai_parameters()
    arrays = dict(parameters)
    net = rp.MLP.from_arrays(parameters, layout="cols", activation="relu",
                             output_activation="sigmoid", loss="bce", lr=0.3)
    assert net.weights[0] is parameters["W1"] and net.biases[1] is parameters["b2"]
    net.fit(X, Y, epochs=200)
    assert all(parameters[k] is arrays[k] for k in parameters)  # the same arrays, trained
    expected = deeplearning_ai_train(deeplearning_ai_parameters(), X, Y, 0.3, 200)
    for key in expected:
        np.testing.assert_allclose(parameters[key], expected[key], rtol=1e-10, atol=1e-13)
    twin = ref.MLP.from_arrays(deeplearning_ai_parameters(), layout="cols", activation="relu",
                               output_activation="sigmoid", loss="bce", lr=0.3)
    twin.fit(X, Y, epochs=200)
    for key, value in twin.to_dict().items():
        np.testing.assert_allclose(parameters[key], value, rtol=1e-9, atol=1e-13)
    d = net.to_dict()
    assert list(d) == ["W1", "b1", "W2", "b2"] and all(d[k] is parameters[k] for k in d)


def test_a_dict_without_biases():
    rng = np.random.default_rng(1)
    net = rp.MLP.from_arrays({"W2": rng.normal(size=(4, 1)), "W1": rng.normal(size=(3, 4))},
                             loss="mse")
    assert net.biases is None and net.sizes == [3, 4, 1]
    assert list(net.to_dict()) == ["W1", "W2"]


@pytest.mark.parametrize("parameters,biases,error,message", [
    ({"W1": np.zeros((3, 4)), "w2": np.zeros((4, 1))}, None, ValueError,
     "MLP.from_arrays: a parameter dict has keys W1, b1, W2, b2, ... (deeplearning.ai's "
     "naming), got the key 'w2'"),
    ({"W1": np.zeros((3, 4)), "W3": np.zeros((4, 1))}, None, ValueError,
     "MLP.from_arrays: a parameter dict needs W1 ... WL without gaps, got W1, W3"),
    ({"b1": np.zeros(4)}, None, ValueError,
     "MLP.from_arrays: a parameter dict needs W1 ... WL without gaps, got no W"),
    ({"W1": np.zeros((3, 4)), "b2": np.zeros(4)}, None, ValueError,
     "MLP.from_arrays: the parameter dict has b2 but no W2"),
    ({"W1": np.zeros((3, 4))}, [np.zeros(4)], TypeError,
     "MLP.from_arrays: with a parameter dict the biases are its b1, b2, ...: pass biases=None"),
])
def test_bad_parameter_dicts(parameters, biases, error, message):
    with pytest.raises(error) as info:
        rp.MLP.from_arrays(parameters, biases, loss="mse")
    assert str(info.value) == message


# ------------------------------------------------------------ save / load

def trained(layout="rows", dtype=np.float64, momentum=0.9, bias=True, cls=rp.MLP):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 4))
    y = rng.integers(0, 3, size=40)
    net = cls([4, 6, 3], activation="tanh", output_activation="softmax", loss="ce",
              layout=layout, lr=0.1, momentum=momentum, dtype=dtype, seed=2, bias=bias)
    data = (X, y) if layout == "rows" else (X.T.copy(), y)
    net.fit(*data, epochs=5, batch_size=8)
    return net, data


@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_save_and_load_without_pickle(tmp_path, layout, dtype, bias):
    net, (X, y) = trained(layout, dtype, bias=bias)
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as data:   # plain arrays and JSON text
        assert all(data[k].dtype != object for k in data.files)
    loaded = rp.MLP.load(path)
    assert type(loaded) is rp.MLP and repr(loaded) == repr(net)
    for a, b in zip(net.weights + (net.biases or []), loaded.weights + (loaded.biases or [])):
        assert np.array_equal(a, b) and a.dtype == b.dtype and a is not b
    assert np.array_equal(loaded.forward(X), net.forward(X))
    # training goes on exactly as it would have (momentum's velocities are saved)
    assert np.array_equal(loaded.fit(X, y, epochs=3, batch_size=8),
                          net.fit(X, y, epochs=3, batch_size=8))
    for a, b in zip(net.weights, loaded.weights):
        assert np.array_equal(a, b)


def test_save_to_a_file_object_and_the_twin_loads(tmp_path):
    import io
    net, (X, _) = trained(cls=ref.MLP)
    buffer = io.BytesIO()
    net.save(buffer)
    buffer.seek(0)
    twin = ref.MLP.load(buffer)
    assert type(twin) is ref.MLP
    np.testing.assert_array_equal(twin.forward(X), net.forward(X))
    c = rp.MLP.load(io.BytesIO(buffer.getvalue()))
    np.testing.assert_allclose(c.forward(X), twin.forward(X), rtol=1e-12)


def test_load_refuses_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, W1=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"MLP.load: .* was not written by MLP.save"):
        rp.MLP.load(path)


# ------------------------------------------------------------ PyTorch

NETS = [("sigmoid", "sigmoid", "bce"), ("tanh", "softmax", "ce"), ("relu", "identity", "mse"),
        ("identity", "tanh", "mse")]


@pytest.mark.parametrize("activation,output_activation,loss", NETS)
@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_to_torch_computes_our_forward(activation, output_activation, loss, layout):
    torch = pytest.importorskip("torch")
    net = rp.MLP([5, 7, 6, 3], activation=activation, output_activation=output_activation,
                 loss=loss, layout=layout, seed=3, bias_init="glorot_uniform")
    model = net.to_torch()
    X = np.random.default_rng(0).normal(size=(20, 5))
    ours = net.forward(X if layout == "rows" else X.T)
    with torch.no_grad():
        theirs = model(torch.from_numpy(X)).numpy()
    assert theirs.dtype == np.float64
    np.testing.assert_allclose(theirs, ours if layout == "rows" else ours.T, rtol=1e-12,
                               atol=1e-12)
    # the keys a hand-written Sequential has
    act = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    hidden = [act[activation]()] if activation in act else []
    out = {"sigmoid": [torch.nn.Sigmoid()], "softmax": [torch.nn.Softmax(dim=1)],
           "tanh": [torch.nn.Tanh()], "identity": []}[output_activation]
    by_hand = torch.nn.Sequential(torch.nn.Linear(5, 7), *hidden, torch.nn.Linear(7, 6),
                                  *[type(h)() for h in hidden], torch.nn.Linear(6, 3), *out)
    assert list(model.state_dict()) == list(by_hand.state_dict())
    by_hand.load_state_dict(model.state_dict())   # the shapes match too
    # and back: the same network
    back = rp.MLP.from_torch(model, layout=layout)
    assert (back.activation, back.output_activation, back.loss_name) == (
        activation if activation != "identity" else "identity", output_activation, loss)
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b) and a.shape == b.shape


def test_to_torch_logits_float32_and_copies():
    torch = pytest.importorskip("torch")
    net = rp.MLP([4, 3, 2], output_activation="softmax", loss="ce", seed=1, dtype=np.float32)
    model = net.to_torch(output_activation=False)
    assert isinstance(model[-1], torch.nn.Linear) and model[0].weight.dtype == torch.float32
    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(X)).numpy()
    A1 = rp.sigmoid(X @ net.weights[0] + net.biases[0])
    np.testing.assert_allclose(logits, A1 @ net.weights[1] + net.biases[1], rtol=1e-5)
    with torch.no_grad():
        model[0].weight.zero_()
    assert net.weights[0].any()   # a copy, not a view


def test_from_torch_trains_a_torch_model_here():
    """A PyTorch model trained by retroprop: the same steps as torch.optim.SGD."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1),
                                torch.nn.Sigmoid()).double()
    net = rp.MLP.from_torch(model, lr=0.5)
    assert (net.activation, net.output_activation, net.loss_name) == ("relu", "sigmoid", "bce")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    Y = (X[:, :1] > 0).astype(float)
    net.fit(X, Y, epochs=20)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    for _ in range(20):
        optimizer.zero_grad()
        out = model(Xt)
        loss = -(Yt * torch.log(out + 1e-8) + (1 - Yt) * torch.log(1 - out + 1e-8)).mean()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(net.weights[0], model[0].weight.detach().numpy().T, rtol=1e-7,
                               atol=1e-10)


def test_from_torch_without_biases_and_identity_modules():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.Identity(),
                                torch.nn.Linear(4, 2, bias=False)).double()
    net = rp.MLP.from_torch(model)
    assert net.biases is None and net.activation == "identity" and net.loss_name == "mse"


@pytest.mark.parametrize("build,error,message", [
    (lambda nn: nn.Linear(3, 2), TypeError,
     "MLP.from_torch: model must be a torch.nn.Sequential of Linear layers and activations, "
     "got Linear"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Dropout()), ValueError,
     "MLP.from_torch: model[1] is Dropout(p=0.5, inplace=False); supported: Linear, Identity, "
     "Sigmoid, Tanh, ReLU, and Softmax(dim=1) last"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(),
                              nn.Linear(4, 1)), ValueError,
     "MLP.from_torch: the hidden layers have different activations (relu, tanh); this MLP "
     "takes one for all of them"),
    (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), ValueError,
     "MLP.from_torch: model[0] (ReLU()) must follow a Linear layer"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2).half()), TypeError,
     "MLP.from_torch: the Linear layers must all be float32 or all float64, got torch.float16, "
     "torch.float32"),
])
def test_from_torch_bad_models(build, error, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(error) as info:
        rp.MLP.from_torch(build(torch.nn))
    assert str(info.value) == message


def test_torch_is_imported_only_when_asked(monkeypatch, tmp_path):
    code = "import io, retroprop, sys; retroprop.MLP([2, 1]).save(io.BytesIO()); " \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "torch", None)   # as if torch were not installed
    with pytest.raises(ImportError, match=r"MLP.to_torch needs PyTorch \(pip install torch\)"):
        rp.MLP([2, 1]).to_torch()
