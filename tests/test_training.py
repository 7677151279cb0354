"""MLP.fit's loop around the C trainer (retroprop/training.py): chunks of epochs
that give the same bits as one call, validation, early stopping, callbacks,
the progress display, History, and their bad input."""
import _thread
import io
import threading
import time

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref
from retroprop import progress as progress_module
from retroprop.training import History


def digits_like(n=120, seed=0, layout="rows"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    labels = np.argmax(X[:, :3] + 0.5 * rng.normal(size=(n, 3)), axis=1)
    return (X, labels) if layout == "rows" else (X.T.copy(), labels)


def pair(layout="rows", momentum=0.9, dtype=np.float64, cls=rp.MLP, **extra):
    config = dict(activation="tanh", output_activation="softmax", loss="ce", layout=layout,
                  lr=0.05, momentum=momentum, **extra)
    init = rp.MLP([6, 8, 3], seed=7, dtype=dtype, **config)
    make = lambda k: k.from_arrays([W.copy() for W in init.weights],  # noqa: E731
                                   [b.copy() for b in init.biases], **config)
    return make(rp.MLP), make(cls)


def params(net):
    return [*net.weights, *net.biases]


@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunks_give_the_bits_of_one_call(layout, dtype):
    """A callback every 7 epochs splits the fit into C calls: shuffling,
    momentum and losses continue exactly as in one call."""
    X, y = digits_like(layout=layout)
    one, chunked = pair(layout, dtype=dtype)
    seen = []
    h1 = one.fit(X, y, epochs=40, batch_size=16, shuffle=True, seed=5)
    h2 = chunked.fit(X, y, epochs=40, batch_size=16, shuffle=True, seed=5,
                     callback=lambda net, epoch, logs: seen.append(epoch), callback_every=7)
    assert seen == [6, 13, 20, 27, 34]
    assert np.array_equal(h1, h2)
    for a, b in zip(params(one), params(chunked)):
        assert np.array_equal(a, b)
    assert not np.array_equal(one.weights[0], pair(layout, dtype=dtype)[0].weights[0])


def test_chunked_fit_equals_the_numpy_twin():
    """The chunked loop on C and on retroprop.reference's twins (both carry the
    shuffling state from call to call)."""
    X, y = digits_like()
    c, n = pair(cls=ref.MLP)
    Xv, yv = digits_like(40, seed=1)
    hc = c.fit(X, y, epochs=30, batch_size=10, shuffle=True, seed=2, validation_data=(Xv, yv))
    hn = n.fit(X, y, epochs=30, batch_size=10, shuffle=True, seed=2, validation_data=(Xv, yv))
    np.testing.assert_allclose(hc, hn, rtol=1e-9)
    for key in ("val_loss", "val_accuracy"):
        np.testing.assert_allclose(hc.history[key], hn.history[key], rtol=1e-9)
    for a, b in zip(params(c), params(n)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_shuffle_state_of_c_and_twin():
    X, y = digits_like(30)
    c, n = pair(cls=ref.MLP)
    states = []
    for net in (c, n):
        state = np.zeros(31, dtype=np.uint64)
        state[0] = 12345
        state[1:] = np.arange(30)[::-1]
        X2, Y2 = net._prepare("t", X, y)
        net._epochs(X2, Y2, 3, net._batching("t", 4, True, False, None, 0), state)
        states.append(state)
    assert np.array_equal(states[0], states[1])
    assert sorted(states[0][1:]) == list(range(30)) and states[0][0] != 12345


def test_shuffle_state_is_checked():
    X, y = digits_like(30)
    c, _ = pair()
    X2, Y2 = c._prepare("t", X, y)
    before = [p.copy() for p in params(c)]
    bad = np.zeros(31, dtype=np.uint64)
    bad[5] = 30  # not a sample index
    with pytest.raises(ValueError, match=r"shuffle_state\[5\] is 30, not a sample index in "
                                         r"\[0, 30\)"):
        c._epochs(X2, Y2, 1, c._batching("t", 4, True, False, None, 0), bad)
    for wrong in (np.zeros(30, dtype=np.uint64), np.zeros(31), np.zeros(62, np.uint64)[::2]):
        with pytest.raises(ValueError, match="shuffle_state must be a writeable C-contiguous "
                                             "uint64 array of n . 1 = 31 values"):
            c._epochs(X2, Y2, 1, c._batching("t", 4, True, False, None, 0), wrong)
    for a, b in zip(params(c), before):
        assert np.array_equal(a, b)


def numpy_loss_ce(weights, biases, X, labels):
    """-mean(log(softmax(tanh(X W1 + b1) W2 + b2)[label] + 1e-8)), in NumPy."""
    A = np.tanh(X @ weights[0] + biases[0])
    Z = A @ weights[1] + biases[1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return -np.mean(np.log(P[np.arange(len(labels)), labels] + 1e-8)), np.argmax(P, axis=1)


def test_validation_loss_and_accuracy_every_epoch():
    X, y = digits_like()
    Xv, yv = digits_like(50, seed=3)
    net, step = pair(momentum=0.0)
    history = net.fit(X, y, epochs=12, batch_size=20, validation_data=(Xv, yv))
    assert set(history.history) == {"loss", "val_loss", "val_accuracy"}
    assert history.epoch == list(range(12))
    for e in range(12):
        step.fit(X, y, epochs=1, batch_size=20)   # no shuffling: the same steps
        loss, predicted = numpy_loss_ce(step.weights, step.biases, Xv, yv)
        np.testing.assert_allclose(history.history["val_loss"][e], loss, rtol=1e-12)
        assert history.history["val_accuracy"][e] == np.mean(predicted == yv)
    # one-hot validation labels give the same numbers
    again, _ = pair(momentum=0.0)
    h2 = again.fit(X, y, epochs=12, batch_size=20, validation_data=(Xv, np.eye(3)[yv]))
    assert np.array_equal(h2.history["val_loss"], history.history["val_loss"])
    assert np.array_equal(h2.history["val_accuracy"], history.history["val_accuracy"])
    assert history.history["val_accuracy"][-1] > 0.6


def test_validation_for_bce_and_mse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    Y = (X[:, :1] > 0).astype(float)
    net = rp.MLP([3, 4, 1], seed=1, lr=0.5)
    h = net.fit(X, Y, epochs=5, validation_data=(X[:20], Y[:20].ravel()))
    assert net.loss(X[:20], Y[:20]) == h.history["val_loss"][-1]
    assert h.history["val_accuracy"][-1] == np.mean(net.predict(X[:20]) == Y[:20])
    reg = rp.MLP([3, 4, 1], output_activation="identity", loss="mse", seed=1, lr=0.01)
    h = reg.fit(X, Y, epochs=5, validation_data=(X[:20], Y[:20]))
    assert set(h.history) == {"loss", "val_loss"}


def test_early_stopping_restores_the_best_weights():
    X, y = digits_like(80)
    Xv, yv = digits_like(200, seed=9)   # a validation set the net overfits against
    config = dict(activation="tanh", output_activation="softmax", loss="ce", lr=0.3)
    init = rp.MLP([6, 32, 3], seed=1, **config)
    make = lambda: rp.MLP.from_arrays([W.copy() for W in init.weights],  # noqa: E731
                                      [b.copy() for b in init.biases], **config)
    full = make().fit(X, y, epochs=400, validation_data=(Xv, yv))
    val = full.history["val_loss"]
    # Keras's rule, on the full run's numbers: stop once `patience` epochs in a
    # row did not improve on the best
    patience, best, best_epoch, waited, stop = 10, np.inf, None, 0, None
    for e, v in enumerate(val):
        if v < best:
            best, best_epoch, waited = v, e, 0
        else:
            waited += 1
            if waited >= patience:
                stop = e
                break
    assert stop is not None and stop < 399, "the example should overfit"
    net = make()
    h = net.fit(X, y, epochs=400, validation_data=(Xv, yv), patience=patience)
    assert len(h) == stop + 1 and h.stopped_epoch == stop and h.best_epoch == best_epoch
    assert np.array_equal(h.history["val_loss"], val[:stop + 1])
    assert net.loss(Xv, yv) == val[best_epoch]
    kept = make()
    kept.fit(X, y, epochs=best_epoch + 1)
    for a, b in zip(params(net), params(kept)):
        assert np.array_equal(a, b)
    # without restore_best the net keeps its last weights
    last = make()
    last.fit(X, y, epochs=400, validation_data=(Xv, yv), patience=patience, restore_best=False)
    assert last.loss(Xv, yv) == val[stop]


def test_early_stopping_min_delta_and_train_loss():
    X, y = digits_like()
    net, _ = pair()
    h = net.fit(X, y, epochs=300, patience=3, min_delta=1e-2, monitor="loss")
    assert h.stopped_epoch is not None and len(h) < 300
    assert "val_loss" not in h.history
    assert h.best_epoch < len(h) - 1


def test_patience_larger_than_the_run_ends_normally():
    X, y = digits_like()
    net, _ = pair()
    h = net.fit(X, y, epochs=5, patience=50, validation_data=(X, y))
    assert len(h) == 5 and h.stopped_epoch is None


def test_callback_sees_the_network_and_may_stop():
    X, y = digits_like()
    net, probe = pair()
    calls = []

    def callback(n, epoch, logs):
        calls.append((epoch, dict(logs), n.weights[0].copy()))
        return epoch >= 9

    h = net.fit(X, y, epochs=100, batch_size=30, callback=callback, callback_every=5,
                validation_data=(X[:30], y[:30]))
    assert [c[0] for c in calls] == [4, 9]
    assert len(h) == 10 and h.stopped_epoch == 9
    probe.fit(X, y, epochs=5, batch_size=30)
    assert np.array_equal(calls[0][2], probe.weights[0])
    assert calls[0][1] == {"loss": h[4], "val_loss": h.history["val_loss"][4],
                           "val_accuracy": h.history["val_accuracy"][4]}


def test_history_is_the_array_fit_returned():
    X, y = digits_like()
    net, _ = pair()
    h = net.fit(X, y, epochs=10)
    assert isinstance(h, History) and isinstance(h, np.ndarray) and net.history is h
    assert h.shape == (10,) and h.dtype == np.float64
    assert np.array_equal(h.history["loss"], h)
    assert type(h * 2) is np.ndarray and type(h[2:]) is np.ndarray
    assert isinstance(h[0], float) and isinstance(h.sum(), float) and type(h.min()) is np.float64
    assert h.best_epoch is None and h.stopped_epoch is None
    import pickle
    assert type(pickle.loads(pickle.dumps(h))) is np.ndarray


def test_default_epochs_is_200():
    X, y = digits_like(20)
    net, _ = pair()
    assert len(net.fit(X, y)) == 200


def test_progress_in_a_terminal(capsys, monkeypatch):
    X, y = digits_like()
    net, _ = pair()
    net.fit(X, y, epochs=30, progress=True, validation_data=(X, y))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3  # rate-limited
    assert lines[-1].startswith("epoch 30/30 [####################] loss ")
    assert " val_loss " in lines[-1] and " val_accuracy " in lines[-1]
    net.fit(X, y, epochs=30)  # off by default outside Jupyter
    net.fit(X, y, epochs=30, progress=False, validation_data=(X, y))
    assert capsys.readouterr().err == ""


def test_progress_text_on_a_tty_rewrites_one_line():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    out = TTY()
    bar = progress_module.Progress(10, ("text", 0.0), stream=out)
    bar.update(3, {"loss": 0.5})
    bar.update(4, {"loss": 0.25})    # within the interval: not shown
    bar.close()
    assert out.getvalue().startswith("\repoch 3/10 [######..............] loss 0.5 ")
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith(" s\n")
    assert "epoch 4/10" in out.getvalue()


def test_progress_in_jupyter_updates_one_html_display(monkeypatch):
    """In a kernel, fit displays one HTML bar (display_id) and updates it."""
    import IPython.display

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(("display", obj))
        return Handle()

    monkeypatch.setattr(progress_module, "_jupyter_shell", lambda: object())
    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(progress_module.Progress, "interval", 0.0)
    X, y = digits_like()
    net, _ = pair()
    net.fit(X, y, epochs=4, progress=True, validation_data=(X, y))
    assert [kind for kind, _ in shown] == ["display"] + ["update"] * 4
    html = shown[-1][1]._repr_html_()
    assert html.startswith('<progress value="4" max="4"') and "val_loss" in html
    assert repr(shown[-1][1]).startswith("epoch 4/4 loss ")
    # progress=None in Jupyter: nothing for a fit shorter than a second
    monkeypatch.setattr(progress_module.Progress, "interval", 0.25)
    shown.clear()
    net.fit(X, y, epochs=4)
    assert shown == []


def test_progress_falls_back_to_text_without_ipython_display(monkeypatch, capsys):
    import IPython.display

    def broken(*args, **kwargs):
        raise RuntimeError("no front end")

    monkeypatch.setattr(progress_module, "_jupyter_shell", lambda: object())
    monkeypatch.setattr(IPython.display, "display", broken)
    X, y = digits_like()
    net, _ = pair()
    net.fit(X, y, epochs=3, progress=True)
    assert "epoch 3/3" in capsys.readouterr().err


def test_ctrl_c_in_a_chunked_fit_keeps_the_epochs_run():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = rng.integers(0, 5, size=4000)
    net = rp.MLP([20, 64, 5], output_activation="softmax", loss="ce", seed=0, lr=0.01)
    fired = []

    def ctrl_c():
        fired.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(0.5, ctrl_c)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, epochs=100000, batch_size=32, validation_data=(X[:100], y[:100]))
    finally:
        timer.cancel()
    assert fired and time.perf_counter() - fired[0] < 2.0
    h = net.history
    assert isinstance(h, History) and len(h) >= 1
    assert len(h.history["val_loss"]) == len(h) and np.isfinite(h).all()



def test_ctrl_c_during_validation_keeps_only_finished_epochs(monkeypatch):
    """A KeyboardInterrupt while an epoch's validation runs: that epoch is not in the
    history, so every column has one value per finished epoch."""
    from retroprop import training
    calls = []
    evaluate = training._Validation.evaluate

    def interrupted_on_the_fourth(self):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return evaluate(self)

    monkeypatch.setattr(training._Validation, "evaluate", interrupted_on_the_fourth)
    X = np.random.default_rng(1).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    net = rp.MLP([3, 4, 2], output_activation="softmax", loss="ce", seed=0)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=10, validation_data=(X, y))
    h = net.history  # two or three epochs, as fit validates the data once before training
    assert len(h) >= 2
    assert len(h.history["val_loss"]) == len(h.history["val_accuracy"]) == len(h)

BAD = [
    (dict(validation_data=[1, 2, 3]), TypeError,
     "MLP.fit: validation_data must be a pair (X_val, Y_val), got list of length 3"),
    (dict(validation_data=np.zeros((4, 6))), TypeError,
     "MLP.fit: validation_data must be a pair (X_val, Y_val), got ndarray"),
    (dict(validation_data=(None, None)), TypeError,
     "MLP.fit: validation_data must be a pair of arrays (X_val, Y_val), got NoneType and "
     "NoneType"),
    (dict(validation_data=(np.zeros((5, 4)), np.zeros(5, int))), ValueError,
     "MLP.fit: validation_data: X has shape (5, 4); the network expects X of shape (n, 6): a row "
     "per sample, a column per input (layout='rows')"),
    (dict(validation_data=(np.zeros((5, 6)), np.array([0, 1, 2, 3, 0]))), ValueError,
     "MLP.fit: validation_data: labels must be in [0, 3) for a net with 3 outputs, got values "
     "from 0 to 3"),
    (dict(patience=-1), ValueError, "MLP.fit: patience must be None or an integer >= 0, got -1"),
    (dict(patience=True), ValueError,
     "MLP.fit: patience must be None or an integer >= 0, got True"),
    (dict(min_delta=-0.1), ValueError, "MLP.fit: min_delta must be a finite number >= 0, got -0.1"),
    (dict(monitor="accuracy"), ValueError,
     "MLP.fit: monitor must be 'loss' or 'val_loss', got 'accuracy'"),
    (dict(patience=3, monitor="val_loss"), ValueError,
     "MLP.fit: monitor='val_loss' needs validation_data=(X_val, Y_val)"),
    (dict(callback="print"), TypeError,
     "MLP.fit: callback must be callable as callback(net, epoch, logs), got str"),
    (dict(callback=print, callback_every=0), ValueError,
     "MLP.fit: callback_every must be a positive integer, got 0"),
    (dict(progress="yes"), ValueError,
     "MLP.fit: progress must be None (in Jupyter when the fit lasts over a second), True or "
     "False, got 'yes'"),
]


@pytest.mark.parametrize("kwargs,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_are_named_before_anything_is_written(kwargs, error, message):
    X, y = digits_like(20)
    net, _ = pair()
    before = [p.copy() for p in params(net)]
    with pytest.raises(error) as info:
        net.fit(X, y, epochs=3, **kwargs)
    assert str(info.value) == message
    for a, b in zip(params(net), before):
        assert np.array_equal(a, b)
