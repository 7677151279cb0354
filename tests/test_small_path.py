"""The trainer's two paths give the same bits.

MLP.fit takes the small-network path (src/kernels/rp_net_small_impl.h) when
every product of a batch is small, else the general one (rp_net_impl.h).
RETROPROP_TRAINER=general or small forces one of them (small fails with
RuntimeError on a fit it does not take, so these tests cannot pass by both
runs taking the same path). Each test fits the same network from the same
parameters both ways and compares weights, biases and loss history exactly.
"""
import numpy as np
import pytest

import retroprop as rp

CONFIGS = [("sigmoid", "sigmoid", "half_sum_squared_error"), ("sigmoid", "sigmoid", "bce"),
           ("tanh", "identity", "half_sum_squared_error"), ("relu", "sigmoid", "bce"),
           ("identity", "tanh", "mse"), ("tanh", "relu", "sum_squared_error")]


def fit_both(monkeypatch, make, X, Y, **fit):
    """(general, small) results: every parameter and the history, as arrays."""
    out = []
    for path in ("general", "small"):
        monkeypatch.setenv("RETROPROP_TRAINER", path)
        net = make()
        history = net.fit(X, Y, **fit)
        out.append([w.copy() for w in net.weights]
                   + ([b.copy() for b in net.biases] if net.biases is not None else [])
                   + [history])
    monkeypatch.delenv("RETROPROP_TRAINER")
    return out


def assert_same_bits(general, small, what):
    assert len(general) == len(small)
    for i, (g, s) in enumerate(zip(general, small)):
        assert g.dtype == s.dtype and g.shape == s.shape, what
        assert g.tobytes() == s.tobytes(), (
            f"{what}: array {i} differs, max |diff| {np.max(np.abs(g - s))}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("activation,output_activation,loss", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_size,shuffle", [(None, False), (3, True), (4, False),
                                                (None, True)])
def test_the_two_paths_give_the_same_bits(monkeypatch, dtype, layout, activation,
                                          output_activation, loss, bias, batch_size, shuffle):
    rng = np.random.default_rng(3)
    X, Y = rng.random((7, 3)), (rng.random((7, 2)) > 0.5).astype(float)
    if layout == "cols":
        X, Y = X.T.copy(), Y.T.copy()

    def make():
        return rp.MLP([3, 5, 4, 2], activation=activation, output_activation=output_activation,
                      loss=loss, layout=layout, bias=bias, lr=0.3, dtype=dtype, seed=2)
    general, small = fit_both(monkeypatch, make, X, Y, epochs=30, batch_size=batch_size,
                              shuffle=shuffle, seed=5)
    assert_same_bits(general, small, f"{dtype.__name__} {layout} {activation} "
                     f"{output_activation} {loss} bias={bias} batch={batch_size}")
    assert not np.array_equal(general[0], make().weights[0])   # it trained


@pytest.mark.parametrize("samples", [1, 2, 5, 8, 9, 64, 65, 200])
def test_batch_sizes_on_both_sides_of_the_compiled_cases(monkeypatch, samples):
    """The step is compiled for each batch size up to 8 and runs with the size
    itself beyond; the bias gradient switches to pairwise sums beyond 64."""
    rng = np.random.default_rng(samples)
    X, Y = rng.standard_normal((samples, 2)), rng.random((samples, 1))

    def make():
        return rp.MLP([2, 2, 1], activation="tanh", output_activation="sigmoid", loss="mse",
                      lr=0.2, seed=1)
    general, small = fit_both(monkeypatch, make, X, Y, epochs=20)
    assert_same_bits(general, small, f"{samples} samples")


def test_seed_001_and_seed_000_take_the_small_path_and_agree(monkeypatch):
    X1 = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    Y1 = np.array([[0], [1], [1], [0]])
    np.random.seed(1)
    w = [2 * np.random.random((3, 4)) - 1, 2 * np.random.random((4, 1)) - 1]
    general, small = fit_both(
        monkeypatch, lambda: rp.MLP.from_arrays([a.copy() for a in w], None,
                                                loss="half_sum_squared_error", lr=1.0), X1, Y1, epochs=2000)
    assert_same_bits(general, small, "seed 001")

    X0, Y0 = np.array([[0, 0, 1, 1], [0, 1, 0, 1]]), np.array([[0, 1, 1, 0]])
    rng = np.random.default_rng(0)
    p = [rng.standard_normal((2, 2)), np.zeros((2, 1)), rng.standard_normal((1, 2)),
         np.zeros((1, 1))]
    general, small = fit_both(
        monkeypatch, lambda: rp.MLP.from_arrays([p[0].copy(), p[2].copy()],
                                                [p[1].copy(), p[3].copy()], layout="cols",
                                                loss="bce", average=True, lr=0.1),
        X0, Y0, epochs=2000)
    assert_same_bits(general, small, "seed 000")


def test_strided_parameters_are_trained_in_place(monkeypatch):
    """The small path reads and writes the caller's arrays through their strides."""
    rng = np.random.default_rng(7)
    X, Y = rng.random((4, 3)), rng.random((4, 2))
    start = [rng.standard_normal((6, 10)), rng.standard_normal((8, 6)), rng.standard_normal(8)]
    results = []
    for path in ("general", "small"):
        monkeypatch.setenv("RETROPROP_TRAINER", path)
        big = [a.copy() for a in start]
        W0, W1, b0 = big[0][::2, ::3], big[1][::2, ::-3], big[2][::2]   # (3, 4), (4, 2), (4,)
        assert W0.base is big[0] and W1.base is big[1] and b0.base is big[2]
        net = rp.MLP.from_arrays([W0, W1], [b0, np.zeros(2)], loss="mse", lr=0.5)
        net.fit(X, Y, epochs=50)
        results.append(big + [net.biases[1].copy()])
    monkeypatch.delenv("RETROPROP_TRAINER")
    assert_same_bits(results[0], results[1], "strided parameters")
    assert not np.array_equal(results[0][0], start[0])


@pytest.mark.parametrize("make", [
    lambda: rp.MLP([3, 4, 2], output_activation="softmax", loss="ce", seed=0),
    lambda: rp.MLP([3, 4, 2], momentum=0.9, seed=0),
    lambda: rp.MLP([64, 32, 10], seed=0),
], ids=["softmax", "momentum", "large"])
def test_fits_the_small_path_does_not_take_say_so(monkeypatch, make):
    rng = np.random.default_rng(0)
    net = make()
    X, Y = rng.random((40, net.sizes[0])), rng.random((40, net.sizes[-1]))
    Y /= Y.sum(axis=1, keepdims=True)
    monkeypatch.setenv("RETROPROP_TRAINER", "small")
    with pytest.raises(RuntimeError, match="does not take the small-network path"):
        net.fit(X, Y, epochs=1)
    monkeypatch.setenv("RETROPROP_TRAINER", "general")
    net.fit(X, Y, epochs=1)
