"""MLP.fit's optimisers, L2 penalties, learning-rate schedules and batches
(retroprop.optim): the C trainer against its NumPy twin
(retroprop.reference.net_fit) after 1000 updates, and against the field's
implementations of the same updates (torch.optim, scikit-learn's SGD and
Adam) on the same gradients."""
import math

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref
from retroprop import optim

# Every optimiser, in each of its forms: the parametrisation reads optim's table.
OPTIMIZER_CASES = {
    "sgd": dict(optimizer="sgd"),
    "sgd momentum": dict(optimizer="sgd", momentum=0.9),
    "sgd nesterov": dict(optimizer="sgd", momentum=0.9, nesterov=True),
    "sgd_keras momentum": dict(optimizer="sgd_keras", momentum=0.9),
    "sgd_keras nesterov": dict(optimizer="sgd_keras", momentum=0.8, nesterov=True),
    "adam": dict(optimizer="adam", lr=0.01),
    "adam betas eps": dict(optimizer="adam", lr=0.005, beta1=0.8, beta2=0.99, adam_eps=1e-6),
}
SCHEDULE_CASES = {
    "constant": dict(schedule="constant"),
    "step": dict(schedule="step", gamma=0.5, step_size=40),
    "exponential": dict(schedule="exponential", gamma=0.995),
    "inverse_time": dict(schedule="inverse_time", lr_decay=1e-3),
}
PENALTY_CASES = {
    "l2 (CS231n reg)": dict(l2=1e-3),
    "alpha (scikit-learn)": dict(alpha=1e-2),
    "weight_decay (decoupled)": dict(weight_decay=1e-2),
    "l2 on biases too": dict(l2=1e-3, decay_biases=True),
    "weight_decay on biases too": dict(weight_decay=1e-2, decay_biases=True),
}


def test_the_cases_cover_the_tables():
    assert {c["optimizer"] for c in OPTIMIZER_CASES.values()} == set(optim.OPTIMIZERS)
    assert {c["schedule"] for c in SCHEDULE_CASES.values()} == set(optim.SCHEDULES)


def data(n=24, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    labels = np.argmax(X[:, :n_out] + 0.5 * rng.normal(size=(n, n_out)), axis=1)
    return X, np.eye(n_out)[labels]


def pair(sizes=(4, 6, 3), dtype=np.float64, layout="rows", bias=True, **settings):
    """The C network and its NumPy twin from the same initial arrays."""
    config = dict(activation="tanh", output_activation="softmax", loss="ce", layout=layout,
                  lr=0.05, average=True)
    config.update(settings)
    init = rp.MLP(list(sizes), seed=7, dtype=dtype, bias=bias, layout=layout,
                  activation="tanh")
    copy = lambda arrays: None if arrays is None else [a.copy() for a in arrays]  # noqa: E731
    c = rp.MLP.from_arrays(copy(init.weights), copy(init.biases), **config)
    n = ref.MLP.from_arrays(copy(init.weights), copy(init.biases), **config)
    return c, n


def assert_same(c, n, hc, hn, rtol, what):
    np.testing.assert_allclose(hc, hn, rtol=rtol, err_msg=f"{what}: history")
    for i, (a, b) in enumerate(zip(c.weights + (c.biases or []), n.weights + (n.biases or []))):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-3),
                                   err_msg=f"{what}: parameter {i}")


def tolerance(dtype):
    # float64: the same operations in the same order, up to BLAS's sums; float32
    # rounds each step to 24 bits, and 1000 updates of a net amplify differences
    return 1e-9 if dtype == np.float64 else 2e-3


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_optimizer_equals_the_numpy_twin_after_1000_updates(name, dtype):
    X, Y = data()
    c, n = pair(dtype=dtype, **OPTIMIZER_CASES[name])
    # 24 samples in batches of 6, shuffled: 4 updates an epoch, 250 epochs
    hc = c.fit(X, Y, epochs=250, batch_size=6, shuffle=True, seed=3)
    hn = n.fit(X, Y, epochs=250, batch_size=6, shuffle=True, seed=3)
    assert c.updates == n.updates == 1000 and c.epochs_done == 250
    assert_same(c, n, hc, hn, tolerance(dtype), f"{name} {np.dtype(dtype)}")
    assert hc[-1] < 0.7 * hc[0]  # it learns


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_optimizer_on_a_tiny_net_in_columns_full_batch(name):
    # seed 000's shape (2-2-1 columns, BCE): the size a fused tiny-network path
    # takes for plain SGD; every other optimiser must take the general one
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y = np.array([[0, 1, 1, 0]], dtype=float)
    config = dict(layout="cols", loss="bce", lr=0.5, average=True)
    config.update(OPTIMIZER_CASES[name])
    init = rp.MLP([2, 2, 1], layout="cols", seed=1)
    c = rp.MLP.from_arrays([w.copy() for w in init.weights], [b.copy() for b in init.biases],
                           **config)
    n = ref.MLP.from_arrays([w.copy() for w in init.weights], [b.copy() for b in init.biases],
                            **config)
    assert_same(c, n, c.fit(X, Y, epochs=1000), n.fit(X, Y, epochs=1000), 1e-9, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SCHEDULE_CASES))
def test_schedule_equals_the_numpy_twin(name, dtype):
    X, Y = data()
    for opt in ("sgd momentum", "sgd_keras momentum", "adam"):
        settings = dict(OPTIMIZER_CASES[opt], **SCHEDULE_CASES[name])
        c, n = pair(dtype=dtype, **settings)
        hc = c.fit(X, Y, epochs=250, batch_size=6)
        hn = n.fit(X, Y, epochs=250, batch_size=6)
        assert_same(c, n, hc, hn, tolerance(dtype), f"{name} with {opt}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(PENALTY_CASES))
@pytest.mark.parametrize("opt", ["sgd", "sgd momentum", "adam"])
def test_penalty_equals_the_numpy_twin(name, opt, dtype):
    X, Y = data()
    settings = dict(OPTIMIZER_CASES[opt], **PENALTY_CASES[name])
    c, n = pair(dtype=dtype, **settings)
    hc = c.fit(X, Y, epochs=125, batch_size=5, shuffle=True, seed=1)  # 5 updates an epoch
    hn = n.fit(X, Y, epochs=125, batch_size=5, shuffle=True, seed=1)
    assert_same(c, n, hc, hn, tolerance(dtype), f"{name} with {opt}")
    np.testing.assert_allclose(c.loss(X, Y), n.loss(X, Y), rtol=tolerance(dtype))


@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_batch_modes_equal_the_numpy_twin(layout):
    X, Y = data()
    if layout == "cols":
        X, Y = X.T.copy(), Y.T.copy()
    rng = np.random.default_rng(5)
    given = [rng.choice(24, size=k, replace=False) for k in (5, 9, 3)] + [np.array([0, 0, 1])]
    for kwargs in (dict(), dict(batch_size=7), dict(batch_size=7, shuffle=True, seed=2),
                   dict(batch_size=8, replace=True, seed=4), dict(batches=given)):
        c, n = pair(layout=layout, optimizer="adam", lr=0.01, l2=1e-3)
        hc, hn = c.fit(X, Y, epochs=250, **kwargs), n.fit(X, Y, epochs=250, **kwargs)
        assert_same(c, n, hc, hn, 1e-9, f"{kwargs} {layout}")


def test_no_bias_net_with_every_optimizer():
    X, Y = data()
    for name, settings in OPTIMIZER_CASES.items():
        c, n = pair(bias=False, weight_decay=1e-3, **settings)
        assert_same(c, n, c.fit(X, Y, 100, batch_size=8), n.fit(X, Y, 100, batch_size=8),
                    1e-9, name)


# ------------------------------------------------------------- conventions

def test_the_two_momentum_forms_agree_at_constant_lr_and_part_under_a_schedule():
    X, Y = data()
    runs = {}
    for schedule in (dict(), dict(schedule="inverse_time", lr_decay=0.05)):
        for form in ("sgd", "sgd_keras"):
            c, _ = pair(optimizer=form, momentum=0.9, **schedule)
            c.fit(X, Y, epochs=50)
            runs[form, bool(schedule)] = np.concatenate([w.ravel() for w in c.weights])
    np.testing.assert_allclose(runs["sgd", False], runs["sgd_keras", False], rtol=1e-12)
    assert np.abs(runs["sgd", True] - runs["sgd_keras", True]).max() > 1e-6


def test_l2_is_cs231n_reg_and_alpha_is_scikit_learns():
    X, Y = data()
    plain, _ = pair()
    reg, alpha = 0.3, 0.2
    cs, _ = pair(l2=reg)
    sk, _ = pair(alpha=alpha)
    squares = sum(float(np.sum(W ** 2)) for W in plain.weights)
    # CS231n: loss = data loss + reg * sum(W * W), dW = ... + 2 * reg * W
    assert math.isclose(cs.loss(X, Y), plain.loss(X, Y) + reg * squares, rel_tol=1e-13)
    # scikit-learn: loss + 0.5 * alpha * sum(W * W) / n_samples, dW = (... + alpha * W) / n
    assert math.isclose(sk.loss(X, Y), plain.loss(X, Y) + 0.5 * alpha * squares / len(X),
                        rel_tol=1e-13)
    (g0, b0), (g1, b1), (g2, _) = plain.backward(X, Y), cs.backward(X, Y), sk.backward(X, Y)
    for W, a, b, c in zip(plain.weights, g0, g1, g2):
        np.testing.assert_allclose(b, a + 2 * reg * W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(c, a + alpha / len(X) * W, rtol=1e-12, atol=1e-15)
    for a, b in zip(b0, b1):  # biases: weights only by default
        np.testing.assert_array_equal(a, b)


def test_the_penalised_gradient_is_the_derivative_of_the_penalised_loss():
    X, Y = data(n=6)
    net, _ = pair(l2=0.05, alpha=0.1, decay_biases=True)
    dWs, dbs = net.backward(X, Y)
    h = 1e-6
    for params, grads in ((net.weights, dWs), (net.biases, dbs)):
        for P, G in zip(params, grads):
            for idx in [(0,) * P.ndim, tuple(s - 1 for s in P.shape)]:
                keep = P[idx]
                P[idx] = keep + h
                up = net.loss(X, Y)
                P[idx] = keep - h
                down = net.loss(X, Y)
                P[idx] = keep
                assert abs(G[idx]) > 1e-4
                assert math.isclose(G[idx], (up - down) / (2 * h), rel_tol=1e-6)


def test_the_history_includes_the_penalty():
    X, Y = data()
    net, _ = pair(l2=0.5)
    before = net.loss(X, Y)
    assert math.isclose(net.fit(X, Y, epochs=1)[0], before, rel_tol=1e-13)
    decoupled, _ = pair(weight_decay=0.5)
    plain, _ = pair()
    assert decoupled.fit(X, Y, epochs=1)[0] == plain.fit(X, Y, epochs=1)[0]


def test_a_python_schedule_runs_like_the_c_schedule_it_computes():
    X, Y = data()
    for shuffle in (False, True):
        c, _ = pair(optimizer="sgd_keras", momentum=0.9, schedule="exponential", gamma=0.97)
        py, _ = pair(optimizer="sgd_keras", momentum=0.9, schedule=lambda e: 0.05 * 0.97 ** e)
        kwargs = dict(batch_size=5, shuffle=shuffle, seed=9)
        # one C call against 30 (the Python function between epochs): same bits
        np.testing.assert_array_equal(c.fit(X, Y, 30, **kwargs), py.fit(X, Y, 30, **kwargs))
        for a, b in zip(c.weights, py.weights):
            np.testing.assert_array_equal(a, b)
    seen = []
    net, _ = pair(schedule=lambda epoch: seen.append(epoch) or 0.01)
    net.fit(X, Y, 3)
    net.fit(X, Y, 2)
    assert seen == [0, 1, 2, 3, 4]


def test_two_fits_continue_the_optimizer_like_one():
    X, Y = data()
    one, _ = pair(optimizer="adam", lr=0.01, schedule="inverse_time", lr_decay=0.01)
    two, _ = pair(optimizer="adam", lr=0.01, schedule="inverse_time", lr_decay=0.01)
    h = one.fit(X, Y, 40, batch_size=6)
    h2 = np.concatenate([two.fit(X, Y, 15, batch_size=6), two.fit(X, Y, 25, batch_size=6)])
    np.testing.assert_array_equal(h, h2)
    assert two.updates == 160 and two.epochs_done == 40
    two.reset_optimizer()
    assert two.updates == 0


def test_given_batches_are_the_steps_on_those_rows():
    X, Y = data()
    batches = [np.array([3, 1, 4]), np.array([1, 5, 9, 2, 6])]
    a, _ = pair(optimizer="sgd", momentum=0.5)
    b, _ = pair(optimizer="sgd", momentum=0.5)
    history = a.fit(X, Y, epochs=2, batches=batches)
    losses = [b.step(X[idx], Y[idx]) for _ in range(2) for idx in batches]
    for u, v in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(u, v)
    # the epoch's loss: the batches' summed losses over the 8 samples they hold
    np.testing.assert_allclose(history, [(3 * losses[0] + 5 * losses[1]) / 8,
                                         (3 * losses[2] + 5 * losses[3]) / 8], rtol=1e-14)


def test_batches_with_replacement_repeat_samples():
    X, Y = data(n=40)
    counts = np.zeros(40)
    # a network that learns nothing (lr 0) but counts: the twin draws the same
    # indices as C, so read them from the twin's draws
    state = 12345
    for _ in range(5):  # ceil(40 / 8) batches of 8
        for _ in range(8):
            state, r = ref._splitmix64(state)
            counts[r % 40] += 1
    assert counts.max() > 1  # with replacement: some sample twice
    c, n = pair(sizes=(4, 6, 3), lr=0.05)
    assert_same(c, n, c.fit(X, Y, 1, batch_size=8, replace=True, seed=12345),
                n.fit(X, Y, 1, batch_size=8, replace=True, seed=12345), 1e-12, "one epoch")


# ------------------------------------------------- against the field's code

def gradients_at(net, X, Y):
    dWs, dbs = net.backward(X, Y)
    return dWs + dbs


def field_run(make_optimizer, settings, steps, X, Y, scheduler=None):
    """`steps` full-batch updates by another library's optimiser, fed our
    gradients at its current parameters; returns its parameters."""
    torch = pytest.importorskip("torch")
    start, _ = pair()
    params = [torch.tensor(p.copy(), dtype=torch.float64) for p in start.weights + start.biases]
    L = len(start.weights)
    opt = make_optimizer(params)
    sched = scheduler(opt) if scheduler is not None else None
    for _ in range(steps):
        arrays = [p.detach().numpy() for p in params]
        at = rp.MLP.from_arrays([a.copy() for a in arrays[:L]], [a.copy() for a in arrays[L:]],
                                activation="tanh", output_activation="softmax", loss="ce")
        for p, g in zip(params, gradients_at(at, X, Y)):
            p.grad = torch.from_numpy(g)
        opt.step()
        if sched is not None:
            sched.step()
    return [p.detach().numpy() for p in params]


TORCH_CASES = {
    "SGD": (dict(optimizer="sgd", lr=0.1), lambda t: lambda ps: t.optim.SGD(ps, lr=0.1), None),
    "SGD momentum": (dict(optimizer="sgd", lr=0.1, momentum=0.9),
                     lambda t: lambda ps: t.optim.SGD(ps, lr=0.1, momentum=0.9), None),
    "SGD nesterov": (dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True),
                     lambda t: lambda ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                     None),
    "SGD weight_decay = l2 / 2 on every parameter": (
        dict(optimizer="sgd", lr=0.1, momentum=0.9, l2=0.01, decay_biases=True),
        lambda t: lambda ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.02), None),
    "Adam": (dict(optimizer="adam", lr=0.01),
             lambda t: lambda ps: t.optim.Adam(ps, lr=0.01), None),
    "Adam betas eps": (dict(optimizer="adam", lr=0.01, beta1=0.8, beta2=0.99, adam_eps=1e-5),
                       lambda t: lambda ps: t.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99),
                                                         eps=1e-5), None),
    "AdamW": (dict(optimizer="adam", lr=0.01, weight_decay=0.1, decay_biases=True),
              lambda t: lambda ps: t.optim.AdamW(ps, lr=0.01, weight_decay=0.1), None),
    "SGD momentum, StepLR": (
        dict(optimizer="sgd", lr=0.1, momentum=0.9, schedule="step", gamma=0.5, step_size=30),
        lambda t: lambda ps: t.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda t: lambda o: t.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5)),
    "Adam, ExponentialLR": (
        dict(optimizer="adam", lr=0.01, schedule="exponential", gamma=0.99),
        lambda t: lambda ps: t.optim.Adam(ps, lr=0.01),
        lambda t: lambda o: t.optim.lr_scheduler.ExponentialLR(o, gamma=0.99)),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_against_torch_optim_on_the_same_gradients(name):
    torch = pytest.importorskip("torch")
    settings, make, sched = TORCH_CASES[name]
    X, Y = data()
    steps = 200
    theirs = field_run(make(torch), settings, steps, X, Y,
                       None if sched is None else sched(torch))
    ours, _ = pair(**settings)
    ours.fit(X, Y, epochs=steps)  # full batch: one update an epoch
    for i, (a, b) in enumerate(zip(ours.weights + ours.biases, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"{name}: parameter {i}")
    assert not np.allclose(ours.weights[0], pair()[0].weights[0], atol=1e-3)  # it moved


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_keras_against_scikit_learns_sgd_optimizer(nesterov):
    stochastic = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    X, Y = data()
    start, _ = pair()
    params = [p.copy() for p in start.weights + start.biases]
    L = len(start.weights)
    opt = stochastic.SGDOptimizer(params, learning_rate_init=0.1, momentum=0.9,
                                  nesterov=nesterov)
    for _ in range(200):
        at = rp.MLP.from_arrays([p.copy() for p in params[:L]], [p.copy() for p in params[L:]],
                                activation="tanh", output_activation="softmax", loss="ce")
        opt.update_params(params, gradients_at(at, X, Y))
    ours, _ = pair(optimizer="sgd_keras", lr=0.1, momentum=0.9, nesterov=nesterov)
    ours.fit(X, Y, epochs=200)
    for a, b in zip(ours.weights + ours.biases, params):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs,match", [
    (dict(optimizer="rmsprop"), r"MLP: unknown optimizer 'rmsprop'; expected one of 'sgd'"),
    (dict(schedule="cosine"), r"MLP: unknown schedule 'cosine'"),
    (dict(schedule="step", gamma=0.5), r"schedule 'step' needs step_size"),
    (dict(schedule="exponential"), r"schedule 'exponential' needs gamma"),
    (dict(schedule="inverse_time"), r"schedule 'inverse_time' needs lr_decay"),
    (dict(nesterov=True), r"nesterov needs optimizer 'sgd' or 'sgd_keras' with momentum > 0"),
    (dict(optimizer="adam", beta2=1.0), r"MLP: beta2 must be in \[0, 1\), got 1.0"),
    (dict(l2=-1.0), r"MLP: l2 must be a finite number >= 0, got -1.0"),
    (dict(weight_decay=float("nan")), r"MLP: weight_decay must be a finite number >= 0"),
])
def test_bad_optimizer_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rp.MLP([3, 2], **kwargs)


def test_bad_batches_change_nothing():
    X, Y = data()
    net, _ = pair()
    before = [w.copy() for w in net.weights]
    for kwargs, match in [
            (dict(batches=[np.array([0, 24])]), r"MLP.fit: batches\[0\] holds the index 24, "
                                               r"not a sample of the 24 in X"),
            (dict(batches=[np.array([1]), np.array([-1])]), r"batches\[1\] holds the index -1"),
            (dict(batches=[np.array([], dtype=int)]), r"non-empty 1-D integer index arrays"),
            (dict(batches=[[0.5]]), r"non-empty 1-D integer index arrays"),
            (dict(batches=[[0]], batch_size=3), r"batches are the caller's"),
            (dict(replace=True), r"replace=True draws batches of batch_size indices"),
    ]:
        with pytest.raises(ValueError, match=match):
            net.fit(X, Y, 2, **kwargs)
    for a, b in zip(before, net.weights):
        np.testing.assert_array_equal(a, b)
    net.schedule = lambda epoch: float("inf")
    with pytest.raises(ValueError, match=r"MLP.fit: the schedule's lr must be a finite number"):
        net.fit(X, Y, 2)


def test_the_binding_refuses_unknown_configuration_keys():
    net, _ = pair()
    X, _ = data()
    with pytest.raises(ValueError, match=r"unknown configuration key 'momemtum'"):
        rp._core.net_forward(net.weights, net.biases, X, dict(net._config(), momemtum=0.9))


def test_save_and_load_keep_the_optimizer_state(tmp_path):
    X, Y = data()
    settings = dict(optimizer="adam", lr=0.01, schedule="inverse_time", lr_decay=0.01,
                    weight_decay=1e-3)
    one, _ = pair(**settings)
    two, _ = pair(**settings)
    h = one.fit(X, Y, 40, batch_size=6)
    first = two.fit(X, Y, 15, batch_size=6)
    two.save(tmp_path / "net.npz")
    three = rp.MLP.load(tmp_path / "net.npz")
    assert three.optimizer == "adam" and three.updates == 60 and three.epochs_done == 15
    np.testing.assert_array_equal(h, np.concatenate([first, three.fit(X, Y, 25, batch_size=6)]))
    for a, b in zip(one.weights, three.weights):
        np.testing.assert_array_equal(a, b)
    three.schedule = lambda epoch: 0.01
    with pytest.raises(TypeError, match="a Python schedule function cannot be saved"):
        three.save(tmp_path / "other.npz")


# ------------------------------------- the trainer's two paths (rp_net_plain_sgd)

def tiny():
    X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=float)
    Y = np.array([[0], [1], [1], [0], [1]], dtype=float)
    init = rp.MLP([3, 4, 1], seed=3)
    return X, Y, init


@pytest.mark.parametrize("kwargs", [dict(), dict(batch_size=2, shuffle=True, seed=1),
                                    dict(batch_size=3, replace=True, seed=2),
                                    dict(batches=[[4, 0], [1, 1, 2], [3]])],
                         ids=["full", "shuffled", "replacement", "given"])
@pytest.mark.parametrize("schedule", [dict(), dict(schedule="inverse_time", lr_decay=0.01),
                                      dict(schedule="step", gamma=0.5, step_size=50)],
                         ids=["constant", "inverse_time", "step"])
def test_plain_sgd_takes_the_small_path_with_every_batching_and_schedule(monkeypatch, kwargs,
                                                                         schedule):
    X, Y, init = tiny()
    results = []
    for path in ("general", "small"):
        monkeypatch.setenv("RETROPROP_TRAINER", path)
        net = rp.MLP.from_arrays([w.copy() for w in init.weights],
                                 [b.copy() for b in init.biases], lr=0.5, **schedule)
        h = net.fit(X, Y, epochs=200, **kwargs)
        results.append([*net.weights, *net.biases, h])
    for g, s in zip(*results):
        assert g.tobytes() == s.tobytes()
    twin = ref.MLP.from_arrays([w.copy() for w in init.weights], [b.copy() for b in init.biases],
                               lr=0.5, **schedule)
    np.testing.assert_allclose(twin.fit(X, Y, epochs=200, **kwargs), results[1][-1], rtol=1e-9)


@pytest.mark.parametrize("settings", [OPTIMIZER_CASES[name] for name in sorted(OPTIMIZER_CASES)
                                      if name != "sgd"] + [dict(l2=1e-3), dict(alpha=0.1),
                                                           dict(weight_decay=1e-3)])
def test_every_other_optimizer_takes_the_general_path(monkeypatch, settings):
    X, Y, init = tiny()
    monkeypatch.setenv("RETROPROP_TRAINER", "small")
    net = rp.MLP.from_arrays([w.copy() for w in init.weights], [b.copy() for b in init.biases],
                             **dict(dict(lr=0.5), **settings))
    with pytest.raises(RuntimeError, match="does not take the small-network path"):
        net.fit(X, Y, epochs=2)
    monkeypatch.setenv("RETROPROP_TRAINER", "general")
    net.fit(X, Y, epochs=2)


def test_alpha_against_scikit_learns_backprop():
    # scikit-learn's own loss and gradients with its L2 term (MLPRegressor._backprop):
    # squared_loss is half the mean squared error, the same as the seeds'
    # half summed squared error averaged over the samples of a one-output net
    sk = pytest.importorskip("sklearn.neural_network")
    import inspect
    import warnings
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.normal(size=20)
    reg = sk.MLPRegressor(hidden_layer_sizes=(6,), activation="tanh", alpha=0.3, max_iter=1,
                          solver="sgd", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after one iteration
        reg.fit(X, y)
    if "sample_weight" not in inspect.signature(reg._backprop).parameters:
        pytest.skip("this scikit-learn's private _backprop takes other arguments")
    coefs, intercepts = [c.copy() for c in reg.coefs_], [b.copy() for b in reg.intercepts_]
    grads = [np.empty_like(c) for c in coefs], [np.empty_like(b) for b in intercepts]
    loss, dW_sk, db_sk = reg._backprop(X, y[:, None], None, [X] + [None] * (reg.n_layers_ - 1),
                                       [None] * (reg.n_layers_ - 1), *grads)
    net = rp.MLP.from_arrays(coefs, intercepts, activation="tanh", output_activation="identity",
                             loss="half_sum_squared_error", average=True, alpha=0.3)
    assert math.isclose(net.loss(X, y), loss, rel_tol=1e-14)
    dW, db = net.backward(X, y)
    for ours, theirs in zip(dW + db, dW_sk + db_sk):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
