"""retroprop.capture on a loop inside a loop (epochs around minibatches): the
outer loop runs in Python, the inner loop is captured, its program recorded
once and reused while the namespace holds what it baked in; every variable,
printed line and list ends as in plain Python.

Bodies without products are held to the same bits; products are rp_gemm
against NumPy's BLAS (a few units in the last place per product), so
training runs through them are held to a tolerance (see test_capture.py).
"""
import contextlib
import io

import numpy as np
import pytest

from retroprop import capture

from test_capture import assert_same_namespace, numbers


def both(cell, setup):
    """(plain namespace, plain stdout, captured namespace, captured stdout, stderr)."""
    plain, out_p = setup(), io.StringIO()
    with contextlib.redirect_stdout(out_p):
        exec(cell, plain)
    captured, out_c, err = setup(), io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_c), contextlib.redirect_stderr(err):
        capture.run(cell, captured)
    return plain, out_p.getvalue(), captured, out_c.getvalue(), err.getvalue()


def inner_report():
    reports = capture.last_report
    assert len(reports) == 2 and reports[0].inner == [reports[1]], reports
    return reports[1]


# An epochs x minibatches classroom cell: a 4-8-1 tanh/sigmoid net, prints
# and appends in the outer body and in the inner one.
TRAIN = """
for epoch in range(epochs):
    for b in range(n_batches):
        xb = X[b * bs:(b + 1) * bs]
        yb = Y[b * bs:(b + 1) * bs]
        h = np.tanh(xb @ W1 + b1)
        out = 1 / (1 + np.exp(-(h @ W2 + b2)))
        d2 = (out - yb) * out * (1 - out)
        d1 = (d2 @ W2.T) * (1 - h * h)
        W2 -= lr * (h.T @ d2)
        b2 -= lr * np.sum(d2, axis=0, keepdims=True)
        W1 -= lr * (xb.T @ d1)
        b1 = b1 - lr * np.sum(d1, axis=0, keepdims=True)
        loss = np.mean((out - yb) ** 2)
        if b % 3 == 1 and epoch % 5 == 0:
            print("batch", epoch, b, loss)
    if epoch % 4 == 0:
        print(epoch, loss)
        losses.append(loss)
"""


def train_setup(dtype, epochs=30, n_batches=8):
    def setup():
        rng = np.random.default_rng(5)
        n = 8 * n_batches
        return {"np": np, "epochs": epochs, "n_batches": n_batches, "bs": 8, "lr": 0.5,
                "losses": [],
                "X": rng.standard_normal((n, 4)).astype(dtype),
                "Y": (rng.random((n, 1)) > 0.5).astype(dtype),
                "W1": (rng.standard_normal((4, 8)) * 0.5).astype(dtype),
                "b1": np.zeros((1, 8), dtype),
                "W2": (rng.standard_normal((8, 1)) * 0.5).astype(dtype),
                "b2": np.zeros((1, 1), dtype)}
    return setup


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epochs_around_minibatches(dtype):
    setup = train_setup(dtype)
    plain, out_p, captured, out_c, err = both(TRAIN, setup)
    assert err == ""
    report = inner_report()
    assert report.captured and report.runs == 30 and report.iterations == 240
    # recorded on the first epoch, run again from iteration 0 on the others
    assert (report.recordings, report.reuses) == (1, 29), report
    assert report.c_iterations == 240 - 1          # epoch 0: iteration 0 in Python
    assert captured["b"] == plain["b"] == 7 and captured["epoch"] == plain["epoch"] == 29
    assert captured["xb"].base is captured["X"]
    # the same lines, numbers within the products' rounding
    strip = lambda text: [line.split()[:-1] for line in text.splitlines()]  # noqa: E731
    assert strip(out_c) == strip(out_p)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(numbers(out_c), numbers(out_p), rtol=tol)
    assert_same_namespace(plain, captured, rtol=tol)
    assert [type(v) for v in captured["losses"]] == [type(v) for v in plain["losses"]]


# No products: the same bits. A print in the middle of the inner body at its
# iteration 0, which sees what the previous run left (h, xb at the last batch).
ELEMENTWISE = """
for epoch in range(epochs):
    if epoch == 3:
        print(b, xb[0, 0])
    for b in range(n_batches):
        if b == 0 and epoch % 4 == 1:
            print(epoch, b, np.sum(h), xb[0])
        xb = X[b * bs:(b + 1) * bs]
        h = np.tanh(xb * W + c)
        g = np.sum(h * (1 - h * h), axis=0, keepdims=True)
        W -= lr * g
        c = c - lr * np.mean(h, axis=0, keepdims=True)
        if b % 3 == 2:
            trace.append(np.sum(W))
    losses.append(np.sum(c))
"""


def elementwise_setup(dtype, epochs=30, n_batches=6):
    def setup():
        rng = np.random.default_rng(1)
        return {"np": np, "epochs": epochs, "n_batches": n_batches, "bs": 5, "lr": 0.05,
                "losses": [], "trace": [],
                "X": rng.standard_normal((5 * n_batches, 3)).astype(dtype),
                "W": rng.standard_normal((1, 3)).astype(dtype), "c": np.zeros((1, 3), dtype),
                "h": np.zeros((5, 3), dtype), "xb": np.zeros((5, 3), dtype)}
    return setup


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("epochs, n_batches", [(30, 6), (7, 3), (5, 11)])
def test_elementwise_epochs_give_numpy_bits(dtype, epochs, n_batches):
    plain, out_p, captured, out_c, err = both(ELEMENTWISE,
                                              elementwise_setup(dtype, epochs, n_batches))
    assert err == ""
    report = inner_report()
    assert (report.recordings, report.reuses) == (1, epochs - 1), report
    assert out_c == out_p
    assert captured["trace"] == plain["trace"] and captured["losses"] == plain["losses"]
    assert_same_namespace(plain, captured)          # rtol 0: the same bits
    assert captured["b"] == n_batches - 1


def test_learning_rate_decayed_in_the_outer_body():
    """lr *= 0.9 between epochs: the program baked lr in, so each epoch is
    recorded anew, with the new lr."""
    cell = TRAIN.replace("    if epoch % 4 == 0:\n", "    lr *= 0.9\n    if epoch % 4 == 0:\n")
    plain, out_p, captured, out_c, err = both(cell, train_setup(np.float64, epochs=8))
    assert err == ""
    report = inner_report()
    assert (report.recordings, report.reuses) == (8, 0), report
    assert captured["lr"] == plain["lr"]
    np.testing.assert_allclose(numbers(out_c), numbers(out_p), rtol=1e-12)
    assert_same_namespace(plain, captured, rtol=1e-12)


def test_a_python_value_changed_and_changed_back():
    """The program is reused only on the epochs whose scale is the one it
    was recorded with; the others record their own (then kept)."""
    cell = ("for epoch in range(9):\n"
            "    scale = 0.5 if epoch % 3 else 0.25\n"
            "    for b in range(4):\n"
            "        W = np.tanh(W * scale + X[b:b + 1])\n")
    def setup():
        rng = np.random.default_rng(2)
        return {"np": np, "W": rng.standard_normal((1, 3)), "X": rng.standard_normal((4, 3))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    report = inner_report()
    assert report.recordings + report.reuses == 9 and report.recordings >= 2
    assert_same_namespace(plain, captured)


def test_shapes_and_arrays_changed_between_epochs():
    """The data rebound to a new array each epoch (shuffled), and doubled in
    size once (more batches): each such epoch is recorded anew."""
    cell = ("for epoch in range(6):\n"
            "    X = X[::-1] + 0.0\n"
            "    if epoch == 3:\n"
            "        X = np.concatenate([X, X * 0.5])\n"
            "        n_batches = 2 * n_batches\n"
            "    for b in range(n_batches):\n"
            "        xb = X[b * 2:(b + 1) * 2]\n"
            "        h = np.tanh(xb * W)\n"
            "        W = W - 0.1 * np.sum(h, axis=0, keepdims=True)\n"
            "    print(epoch, np.sum(W))\n")
    def setup():
        rng = np.random.default_rng(3)
        return {"np": np, "n_batches": 4, "X": rng.standard_normal((8, 3)),
                "W": rng.standard_normal((1, 3))}
    plain, out_p, captured, out_c, err = both(cell, setup)
    assert err == "" and out_c == out_p
    report = inner_report()
    assert report.recordings == 6 and report.iterations == 3 * 4 + 3 * 8
    assert captured["h"].shape == (2, 3)
    assert_same_namespace(plain, captured)


def test_a_short_inner_loop_and_a_fallback_in_one_epoch_leave_later_epochs_captured():
    """Epoch 1 runs 2 batches (plain Python, as every loop under three
    iterations), epoch 3 steps with a helper calling np.clip (a notice, once,
    naming the run); the other epochs reuse the program of epoch 0."""
    cell = ("def step(W, g):\n"
            "    return W - 0.1 * g\n"
            "def clipped(W, g):\n"
            "    return np.clip(W - 0.1 * g, -1, 1)\n"
            "for epoch in range(8):\n"
            "    nb = 2 if epoch == 1 else 4\n"
            "    update = clipped if epoch == 3 else step\n"
            "    for b in range(nb):\n"
            "        h = np.tanh(X[b * 2:(b + 1) * 2] * W)\n"
            "        W = update(W, np.mean(h, axis=0, keepdims=True))\n"
            "    out.append(np.sum(W))\n")
    def setup():
        rng = np.random.default_rng(4)
        return {"np": np, "out": [], "X": rng.standard_normal((8, 3)),
                "W": rng.standard_normal((1, 3))}
    plain, _, captured, _, err = both(cell, setup)
    assert err.count("\n") == 1, err
    assert "the loop at line 8 runs in plain Python in its run 4" in err
    assert "line 4: calls np.clip" in err
    report = inner_report()
    assert report.runs == 8 and report.recordings == 1 and report.reuses == 5, report
    assert captured["out"] == plain["out"]
    assert_same_namespace(plain, captured)


def test_an_in_place_array_rebound_by_the_outer_body_is_not_written_through_the_old_one():
    """W updated in place by the batches, and rebound to a new array between
    epochs: the program's slot points at the old one, so it is recorded anew."""
    cell = ("for epoch in range(5):\n"
            "    old = W\n"
            "    W = W * 0.5\n"
            "    for b in range(3):\n"
            "        W += 0.1 * np.tanh(X[b:b + 1] + W)\n")
    def setup():
        rng = np.random.default_rng(6)
        return {"np": np, "W": rng.standard_normal((1, 3)), "X": rng.standard_normal((3, 3))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    assert inner_report().recordings == 5
    assert_same_namespace(plain, captured)
    assert captured["old"] is not captured["W"]


def test_aliasing_made_by_the_outer_body():
    """The outer body binds a rebound name to an array the loop updates in
    place: the batches must see the updates through it, as Python does."""
    cell = ("for epoch in range(5):\n"
            "    if epoch == 2:\n"
            "        V = W\n"
            "    for b in range(3):\n"
            "        W += 0.1 * np.tanh(V)\n"
            "        V = V * 0.9\n")
    def setup():
        rng = np.random.default_rng(7)
        return {"np": np, "W": rng.standard_normal((2, 2)), "V": rng.standard_normal((2, 2))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    assert_same_namespace(plain, captured)


def test_an_objects_attribute_changed_between_epochs():
    """Seed 000's shape: a class whose method steps; the outer body changes
    its learning rate, an attribute the program baked in."""
    cell = ("class Red:\n"
            "    def __init__(self, W):\n"
            "        self.W = W\n"
            "        self.lr = 0.5\n"
            "    def step(self, x):\n"
            "        self.W -= self.lr * np.tanh(x @ self.W)\n"
            "red = Red(W0)\n"
            "for epoch in range(6):\n"
            "    if epoch == 3:\n"
            "        red.lr = 0.125\n"
            "    for b in range(4):\n"
            "        red.step(X[b * 3:(b + 1) * 3])\n")
    def setup():
        rng = np.random.default_rng(8)
        return {"np": np, "W0": rng.standard_normal((3, 3)) * 0.3,
                "X": rng.standard_normal((12, 3))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    report = inner_report()
    assert (report.recordings, report.reuses) == (2, 4), report
    np.testing.assert_allclose(captured["red"].W, plain["red"].W, rtol=1e-12)
    np.testing.assert_allclose(captured["W0"], plain["W0"], rtol=1e-12)


def test_two_inner_loops_train_and_validate():
    cell = ("for epoch in range(6):\n"
            "    for b in range(4):\n"
            "        W -= 0.1 * np.tanh(X[b * 2:(b + 1) * 2].T @ X[b * 2:(b + 1) * 2] @ W)\n"
            "    for v in range(3):\n"
            "        e = np.mean((V[v:v + 1] @ W) ** 2)\n"
            "        errors.append(e)\n")
    def setup():
        rng = np.random.default_rng(9)
        return {"np": np, "errors": [], "W": rng.standard_normal((3, 3)) * 0.3,
                "X": rng.standard_normal((8, 3)), "V": rng.standard_normal((3, 3))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    reports = capture.last_report
    assert len(reports) == 3 and all(r.reuses == 5 for r in reports[1:]), reports
    np.testing.assert_allclose(captured["errors"], plain["errors"], rtol=1e-12)
    assert_same_namespace(plain, captured, rtol=1e-12)


# ------------------------------------------------------------- fallbacks

def one_notice(cell, setup, reason, line):
    plain, out_p, captured, out_c, err = both(cell, setup)
    assert err.count("\n") == 1, err
    assert "runs in plain Python" in err and reason in err and ("line %d:" % line) in err, err
    assert out_c == out_p
    assert_same_namespace(plain, captured)
    return err


def small():
    rng = np.random.default_rng(0)
    return {"np": np, "W": rng.standard_normal((3, 3)), "X": rng.standard_normal((4, 3))}


def test_fallback_loops_nested_deeper():
    cell = ("for epoch in range(3):\n"
            "    for b in range(3):\n"
            "        for c in range(2):\n"
            "            W = W * 0.5 + X[:3]\n")
    err = one_notice(cell, small, "a nested for loop", 3)
    assert "the loop at line 2 runs" in err
    assert not capture.last_report[1].captured


def test_fallback_loop_inside_an_if():
    cell = ("for epoch in range(3):\n"
            "    if epoch > 0:\n"
            "        for b in range(3):\n"
            "            W = W * 0.5 + X[:3]\n")
    err = one_notice(cell, small, "a for loop inside an if", 3)
    assert "the loop at line 1 runs" in err


def test_fallback_while_in_the_body():
    cell = ("for epoch in range(3):\n"
            "    for b in range(3):\n"
            "        W = W * 0.5 + X[:3]\n"
            "    k = 0\n"
            "    while k < 2:\n"
            "        k += 1\n")
    one_notice(cell, small, "a while loop", 5)


def test_fallback_inner_loop_not_a_range_noticed_once():
    cell = ("for epoch in range(4):\n"
            "    for b in [0, 1, 2]:\n"
            "        W = W * 0.5 + X[:3]\n")
    one_notice(cell, small, "not a range()", 2)


def test_fallback_in_the_program_replays_in_python_and_later_epochs_retry():
    """An overflow in epoch 2's batches: NumPy's warning (an error here, as
    the suite turns warnings into errors) is raised as in plain Python."""
    cell = ("for epoch in range(5):\n"
            "    if epoch == 2:\n"
            "        W = W * 1e300\n"
            "    for b in range(4):\n"
            "        W = W * 10.0\n")
    def setup():
        return {"np": np, "W": np.ones((2, 2))}
    plain = setup()
    with pytest.raises(RuntimeWarning, match="overflow"):
        exec(cell, plain)
    captured, err = setup(), io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(RuntimeWarning, match="overflow"):
        capture.run(cell, captured)
    assert "NumPy would report overflow" in err.getvalue()
    assert (captured["epoch"], captured["b"]) == (plain["epoch"], plain["b"])
    np.testing.assert_array_equal(captured["W"], plain["W"])


def test_ctrl_c_in_the_batches_leaves_a_state_of_whole_steps():
    """SIGINT while the epochs run: the arrays are those of a plain run of
    exactly the steps counted (an in-place counter updated by each step)."""
    import os
    import signal
    import threading
    if not hasattr(signal, "SIGINT") or threading.current_thread() is not threading.main_thread():
        pytest.skip("needs SIGINT in the main thread")
    cell = ("for epoch in range(10**7):\n"
            "    for b in range(8):\n"
            "        H = np.tanh(X[b * 2:(b + 1) * 2] @ W)\n"
            "        W -= 1e-3 * (X[b * 2:(b + 1) * 2].T @ (H * (1 - H * H)))\n"
            "        steps += 1.0\n")
    def setup():
        rng = np.random.default_rng(2)
        return {"np": np, "W": rng.standard_normal((4, 4)) * 0.1,
                "X": rng.standard_normal((16, 4)), "steps": np.zeros(1)}
    ns = setup()
    timer = threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            capture.run(cell, ns)
    finally:
        timer.cancel()
    done = int(ns["steps"][0])
    assert done > 16
    plain = setup()
    exec(cell.replace("range(10**7)", "range(%d)" % (done // 8)), plain)
    exec(cell.replace("range(10**7)", "range(1)").replace("range(8)", "range(%d)" % (done % 8)),
         plain)
    np.testing.assert_allclose(ns["W"], plain["W"], rtol=1e-9, atol=1e-12)
    assert plain["steps"][0] == done


def test_data_shuffled_in_place_between_epochs():
    """X and its int labels Y permuted in place by the outer body: the same
    arrays, so the program is reused; it reads X where it is and casts Y
    again (it keeps a float copy of an int array)."""
    cell = ("for epoch in range(6):\n"
            "    perm = rng.permutation(12)\n"
            "    X[:] = X[perm]\n"
            "    Y[:] = Y[perm]\n"
            "    for b in range(4):\n"
            "        xb = X[b * 3:(b + 1) * 3]\n"
            "        out = np.tanh(xb * W)\n"
            "        W = W - 0.1 * np.mean((out - Y[b * 3:(b + 1) * 3]) * xb, axis=0, "
            "keepdims=True)\n")
    def setup():
        rng = np.random.default_rng(10)
        return {"np": np, "rng": np.random.default_rng(11), "W": rng.standard_normal((1, 2)),
                "X": rng.standard_normal((12, 2)), "Y": rng.integers(0, 2, (12, 1))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    assert inner_report().reuses == 5
    assert plain.pop("rng").bit_generator.state == captured.pop("rng").bit_generator.state
    assert_same_namespace(plain, captured)


def test_an_arrays_shape_read_in_python_is_baked_in():
    """X is not read by the array work, only its shape (a Python int the
    program keeps): X rebound with another shape means a new recording."""
    cell = ("for epoch in range(5):\n"
            "    if epoch == 2:\n"
            "        X = np.ones((8, 2))\n"
            "    for b in range(3):\n"
            "        W = W + 1.0 / X.shape[0]\n"
            "        T = X\n")
    def setup():
        return {"np": np, "W": np.zeros((2, 2)), "X": np.ones((4, 2))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    assert (inner_report().recordings, inner_report().reuses) == (2, 3)
    assert captured["T"] is captured["X"]
    assert_same_namespace(plain, captured)


def test_the_epochs_body_may_break_and_try():
    cell = ("for epoch in range(10):\n"
            "    for b in range(4):\n"
            "        W = np.tanh(W + X[b:b + 1])\n"
            "    try:\n"
            "        seen.append(float(np.sum(W)))\n"
            "    except ValueError:\n"
            "        pass\n"
            "    if epoch == 6:\n"
            "        break\n"
            "else:\n"
            "    seen.append('done')\n")
    def setup():
        rng = np.random.default_rng(12)
        return {"np": np, "seen": [], "W": rng.standard_normal((1, 3)),
                "X": rng.standard_normal((4, 3))}
    plain, _, captured, _, err = both(cell, setup)
    assert err == ""
    assert inner_report().reuses == 6 and captured["epoch"] == 6
    assert captured["seen"] == plain["seen"] and "done" not in captured["seen"]
    assert_same_namespace(plain, captured)
