"""Hostile arguments: Python code that runs inside the argument handling.

Issue 10's reproducers, one test each. A test whose input used to crash the
interpreter (a segfault, a write past a buffer) runs in a subprocess, so that
a regression fails the test instead of killing the run; under the sanitizer
build the subprocess inherits the sanitizers (LD_PRELOAD, ASAN_OPTIONS).

The rule they hold the binding to: every argument is converted to the array
it will be used as, and every out= container unpacked into references the
call owns, before anything is checked; no Python code (__len__, __iter__,
__array__, a list subclass) runs between the checks and the kernel.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import retroprop as rp

PRELUDE = "import numpy as np\nimport retroprop as rp\n"


def isolated(code, timeout=120, env=None):
    """Run code in a fresh interpreter; its stdout. A crash fails the test."""
    run = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, **(env or {})))
    assert run.returncode == 0, (f"the process ended with {run.returncode}:\n"
                                 f"{run.stdout}\n{run.stderr[-5000:]}")
    return run.stdout


# ------------------------------------------------------------ out= containers

def test_list_subclass_whose_len_lies_is_refused():
    out = isolated("""
        class L(list):
            __len__ = lambda s: 2
        try:
            rp.dense_forward(np.ones((4, 3)), np.ones((3, 2)), out=L())
        except TypeError as e:
            print(e)
    """)
    assert out.strip() == ("dense_forward: out must be None or a tuple of 2 arrays "
                           "(None entries allowed)")


def test_empty_tuple_subclass_claiming_three_items_is_refused():
    out = isolated("""
        class T(tuple):
            __len__ = lambda s: 3
        try:
            rp.dense_backward(np.ones((4, 2)), np.ones((4, 3)), np.ones((3, 2)), out=T())
        except TypeError as e:
            print(e)
    """)
    assert out.strip() == ("dense_backward: out must be None or a tuple of 3 arrays "
                           "(None entries allowed)")


def test_short_tuple_subclass_is_not_read_past_its_end():
    out = isolated("""
        class S(tuple):
            __len__ = lambda s: 3
        dW = np.zeros((3, 2))
        try:
            rp.dense_backward(np.ones((4, 2)), np.ones((4, 3)), np.ones((3, 2)), out=S((dW,)))
        except TypeError as e:
            print(e)
    """)
    assert "out must be None or a tuple of 3 arrays" in out


def test_list_emptied_by_its_len_or_iter_is_no_use_after_free():
    out = isolated("""
        Z, A = np.zeros((4, 2)), np.zeros((4, 2))
        class E(list):
            def __len__(self):
                self.clear()
                return 2
        got = rp.dense_forward(np.ones((4, 3)), np.ones((3, 2)), out=E([Z, A]))
        print(got[0] is Z, got[1] is A, np.array_equal(Z, np.full((4, 2), 3.0)))
        class I(list):
            def __iter__(self):
                self.clear()
                return iter([])
        try:
            rp.dense_forward(np.ones((4, 3)), np.ones((3, 2)), out=I([Z, A]))
        except TypeError as e:
            print(e)
    """)
    first, second = out.strip().splitlines()
    assert first == "True True True"
    assert second.startswith("dense_forward: out must be None or a tuple of 2 arrays")


def test_out_whose_iter_reshapes_X_after_conversion_is_checked_as_it_is():
    # X.shape changes while out= is unpacked: the checks, which come after,
    # see the new shape, so nothing is read past W (was an ASan overflow)
    out = isolated("""
        X, W = np.ones((4, 3)), np.ones((3, 2))
        Z, A = np.zeros((4, 2)), np.zeros((4, 2))
        class R(list):
            def __iter__(self):
                X.shape = (3, 4)
                return list.__iter__(self)
        try:
            rp.dense_forward(X, W, out=R([Z, A]))
        except ValueError as e:
            print(e)
        print(np.all(Z == 0))
    """)
    message, untouched = out.strip().splitlines()
    assert message == ("dense_forward: X has 4 columns but W has 3 rows (X (3, 4), W (3, 2), "
                       "layout='rows')")
    assert untouched == "True"


def test_out_whose_iter_changes_X_dtype_in_dense_backward():
    out = isolated("""
        X, W = np.ones((4, 3)), np.ones((3, 2))
        delta = np.ones((4, 2))
        class R(list):
            def __iter__(self):
                X.dtype = np.float32     # (4, 3) float64 -> (4, 6) float32
                return list.__iter__(self)
        try:
            rp.dense_backward(delta, X, W, out=R([None, None, None]))
        except ValueError as e:
            print(e)
    """)
    assert out.strip() == ("dense_backward: X has 6 columns but W has 3 rows (X (4, 6), "
                           "W (3, 2), layout='rows')")


def test_out_list_subclass_is_read_by_its_items():
    Z, A = np.zeros((4, 2)), np.zeros((4, 2))

    class L(list):
        def __len__(self):
            raise AssertionError("__len__ is not called")

    got = rp.dense_forward(np.ones((4, 3)), np.ones((3, 2)), out=L([Z, A]))
    assert got[0] is Z and got[1] is A


# ------------------------------------------------------------ sgd_update

def test_grad_array_changing_param_dtype_cannot_write_past_it():
    out = isolated("""
        P = np.ones(4)
        class G:
            def __array__(self, dtype=None, copy=None):
                P.dtype = np.float32     # (4,) float64 -> (8,) float32
                return np.ones(4)
        try:
            rp.sgd_update(P, G(), 0.1)
        except ValueError as e:
            print(e)
    """)
    assert out.strip() == ("sgd_update: grad has shape (4,) but param has shape (8,); they "
                           "must match")


def test_grad_array_making_param_read_only_is_refused():
    P = np.ones(4)

    class G:
        def __array__(self, dtype=None, copy=None):
            P.flags.writeable = False
            return np.ones(4)

    with pytest.raises(ValueError, match=r"^sgd_update: param \(4,\) is read-only$"):
        rp.sgd_update(P, G(), 0.1)
    assert np.array_equal(P, np.ones(4))


def test_sgd_update_does_not_round_lr_and_grad_to_float32_first():
    P = np.ones(2, np.float32)
    want = P.copy()
    want -= 1e-46 * np.full(2, 1e40)
    got = rp.sgd_update(P, np.full(2, 1e40), 1e-46)
    assert got is P and np.array_equal(P, want) and np.all(P == np.float32(0.999999))


LRS = [0.1, 3, np.float32(0.1), np.float64(0.1), np.int64(2), np.array(0.25), np.float16(0.5)]
GRADS = [np.float16, np.float32, np.float64, np.int64, np.int8, np.bool_]


@pytest.mark.parametrize("param_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grad_dtype", GRADS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("lr", LRS, ids=lambda v: f"{type(v).__name__}({v})")
def test_sgd_update_is_param_minus_lr_times_grad_for_every_dtype(param_dtype, grad_dtype, lr):
    rng = np.random.default_rng(5)
    P = rng.standard_normal((3, 4)).astype(param_dtype)
    G = (rng.standard_normal((3, 4)) * 3).astype(grad_dtype)
    want = P.copy()
    with np.errstate(all="ignore"):
        want -= lr * G
        got = rp.sgd_update(P, G, lr)
    assert got is P
    np.testing.assert_array_equal(P, want, err_msg=f"{param_dtype} {grad_dtype} {lr!r}")


@pytest.mark.parametrize("lr", [True, False, np.True_, np.array(True)])
def test_sgd_update_rejects_bool_lr(lr):
    P = np.ones(2)
    with pytest.raises(TypeError, match=r"^sgd_update: lr must be a real number, got "):
        rp.sgd_update(P, np.ones(2), lr)
    assert np.array_equal(P, np.ones(2))


# ------------------------------------------------------------ overlap, masks

ZERO_STRIDE = dict(shape=(4, 2), strides=(0, 8))


def writeable_zero_stride():
    a = as_strided(np.zeros(2), **ZERO_STRIDE)
    assert a.flags.writeable and 0 in a.strides
    return a


@pytest.mark.parametrize("call", [
    lambda o: rp.matmul(np.ones((4, 3)), np.ones((3, 2)), out=o),
    lambda o: rp.dense_forward(np.ones((4, 3)), np.ones((3, 2)), out=(None, o)),
    lambda o: rp.dense_backward(np.ones((4, 2)), o.copy(), np.ones((2, 2)), out=(None, None, o)),
    lambda o: rp.sgd_update(o, np.ones((4, 2)), 0.1),
], ids=["matmul", "dense_forward", "dense_backward", "sgd_update"])
def test_self_overlapping_outputs_and_params_are_refused(call):
    o = writeable_zero_stride()
    with pytest.raises(ValueError, match=r"has elements that share memory \(strides \(0, 8\)"):
        call(o)


def test_interleaved_strides_are_refused_and_plain_views_are_not():
    base = np.zeros(16)
    interleaved = as_strided(base, (4, 4), (16, 8))       # rows overlap by half
    with pytest.raises(ValueError, match="share memory"):
        rp.matmul(np.ones((4, 3)), np.ones((3, 4)), out=interleaved)
    for view in (np.zeros((8, 8))[::2, 1::3], np.zeros((4, 6)).T, np.zeros((4, 4))[::-1]):
        rp.matmul(np.ones((view.shape[0], 2)), np.ones((2, view.shape[1])), out=view)
        assert np.all(view == 2.0)


def test_self_overlapping_network_parameter_is_refused():
    W = as_strided(np.zeros(4), (3, 4), (0, 8))
    net = rp.MLP.from_arrays([W, np.zeros((4, 1))], loss="mse")
    X1, Y1 = np.ones((4, 3)), np.ones((4, 1))
    with pytest.raises(ValueError, match=r"^MLP.fit: weights\[0\] \(3, 4\) has elements that "
                                         r"share memory \(strides \(0, 8\)\)"):
        net.fit(X1, Y1, epochs=1)
    assert net.forward(X1).shape == (4, 1)  # read-only uses are fine


@pytest.mark.parametrize("call, what", [
    (lambda m: rp.matmul(m, np.ones((2, 2))), "matmul: A"),
    (lambda m: rp.dense_forward(np.ones((3, 2)), m), "dense_forward: W"),
    (lambda m: rp.bce(m, np.ones((2, 2))), "bce: A"),
], ids=["matmul", "dense_forward", "bce"])
def test_masked_inputs_are_refused(call, what):
    m = np.ma.masked_array(np.ones((2, 2)), mask=[[1, 0], [0, 0]])
    with pytest.raises(TypeError, match=rf"^{what} is a masked array \(numpy.ma.MaskedArray\)"):
        call(m)


def test_masked_param_and_out_are_refused_before_any_write():
    m = np.ma.masked_array(np.ones((2, 2)), mask=[[1, 0], [0, 0]])
    with pytest.raises(TypeError, match=r"^sgd_update: param is a masked array"):
        rp.sgd_update(m, np.ones((2, 2)), 0.5)
    with pytest.raises(TypeError, match=r"^matmul: out is a masked array"):
        rp.matmul(np.ones((2, 2)), np.ones((2, 2)), out=m)
    assert np.array_equal(m.data, np.ones((2, 2)))


def test_masked_data_for_the_network_is_refused():
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    X = np.ma.masked_array(np.ones((4, 3)), mask=np.eye(4, 3, dtype=bool))
    with pytest.raises(TypeError, match=r"^MLP.fit: X is a masked array"):
        net.fit(X, np.ones((4, 1)), epochs=1)
    with pytest.raises(TypeError, match=r"^MLP.forward: X is a masked array"):
        net.forward(X)


def test_ndarray_subclasses_are_read_as_plain_arrays():
    armed = []

    class Noisy(np.ndarray):
        def __array_finalize__(self, obj):
            if armed:
                raise AssertionError("no subclass code runs inside a call")

    X = np.arange(6).reshape(2, 3).view(Noisy)   # int: cast, as a plain array
    armed.append(True)
    Z, A = rp.dense_forward(X, np.ones((3, 2)))
    assert type(Z) is np.ndarray and np.array_equal(Z, [[3.0, 3.0], [12.0, 12.0]])


# ------------------------------------------------------------ the trainer

def test_zero_width_layers_are_rejected_by_every_constructor():
    with pytest.raises(ValueError, match=r"^MLP.from_arrays: weights\[0\] has shape \(3, 0\): "
                                         r"layer 0 has no outputs"):
        rp.MLP.from_arrays([np.zeros((3, 0)), np.zeros((0, 1))], None)
    with pytest.raises(ValueError, match=r"^MLP: sizes must be at least two positive"):
        rp.MLP([3, 0, 1])
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    net.weights = [np.zeros((3, 0)), np.zeros((0, 1))]
    net.biases = None
    with pytest.raises(ValueError, match=r"^MLP.fit: weights\[0\] has shape \(3, 0\)"):
        net.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1)


def test_ctrl_c_stops_a_tiny_fit_soon_and_keeps_the_finished_epochs():
    # the smallest network there is: the stop check must come from the
    # number of steps, not only from the work they do
    code = textwrap.dedent("""
        import sys, time
        import numpy as np, retroprop as rp
        net = rp.MLP([1, 1], loss="mse", seed=0)
        X, Y = np.ones((1, 1)), np.ones((1, 1))
        print("ready", flush=True)
        start = time.perf_counter()
        try:
            net.fit(X, Y, epochs=10**9)
        except KeyboardInterrupt as e:
            took = time.perf_counter() - start
            h = net.history
            print("interrupted", took, len(e.history), len(h), flush=True)
            assert len(h) == len(e.history) > 0 and np.all(np.isfinite(h))
            assert np.array_equal(np.asarray(h), e.history)
            again = rp.MLP([1, 1], loss="mse", seed=0).fit(X, Y, epochs=len(h))
            assert np.array_equal(np.asarray(again), np.asarray(h)), "the same epochs"
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    stopped_after = time.perf_counter() - sent
    assert proc.returncode == 0, err
    assert out.startswith("interrupted"), out + err
    assert stopped_after < 10, f"Ctrl-C took {stopped_after:.1f} s to stop the fit"


@pytest.mark.parametrize("name, value, message", [
    ("momentum", 5.0, "MLP.fit: momentum must be in [0, 1), got 5.0"),
    ("momentum", 1.0, "MLP.fit: momentum must be in [0, 1), got 1.0"),
    ("lr", -1.0, "MLP.fit: lr must be a finite number >= 0, got -1.0"),
    ("average", "no", "MLP.fit: average must be True or False, got 'no'"),
    ("activation", "softplus", "MLP.fit: unknown activation 'softplus'"),
    ("output_activation", "softmax", "MLP.fit: loss 'mse' does not go with output_activation "
                                     "'softmax'"),
    ("loss_name", "hinge", "MLP.fit: unknown loss 'hinge'"),
    ("layout", "columns", "MLP.fit: unknown layout 'columns'"),
])
def test_attributes_stay_validated_after_construction(name, value, message):
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    before = [W.copy() for W in net.weights]
    setattr(net, name, value)
    with pytest.raises(ValueError) as info:
        net.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=3)
    assert str(info.value).startswith(message)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))


def test_a_list_as_a_weight_gets_a_message_that_says_so():
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    net.weights[0] = net.weights[0].tolist()
    for call, where in ((lambda: net.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1), "fit"),
                        (lambda: net.forward(np.ones((4, 3))), "forward")):
        with pytest.raises(TypeError, match=rf"^MLP.{where}: weights\[0\] must be a NumPy array "
                                            r"\(it is trained in place\), got list"):
            call()


@pytest.mark.parametrize("seed, kind, shown", [
    (1.5, TypeError, "1.5"), ("12", TypeError, "'12'"), (2**64, ValueError, str(2**64)),
    (-1, ValueError, "-1"), (True, TypeError, "True"),
])
def test_seeds_are_integers_in_range(seed, kind, shown):
    net = rp.MLP([3, 4, 1], loss="mse", seed=0)
    with pytest.raises(kind, match=rf"^MLP.fit: seed must be None or an integer in "
                                   rf"\[0, 2\*\*64\), got {shown}$"):
        net.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, shuffle=True, seed=seed)


def test_largest_seed_is_accepted_and_not_reduced():
    X, Y = np.random.default_rng(0).random((6, 3)), np.ones((6, 1))
    runs = []
    for seed in (2**64 - 1, 2**63 - 1):
        net = rp.MLP([3, 4, 1], loss="mse", seed=0)
        runs.append(net.fit(X, Y, epochs=3, batch_size=2, shuffle=True, seed=seed))
    assert not np.array_equal(runs[0], runs[1])


def test_batch_size_beyond_any_sample_count_is_one_batch():
    X, Y = np.ones((4, 3)), np.ones((4, 1))
    a = rp.MLP([3, 4, 1], loss="mse", seed=0).fit(X, Y, epochs=3, batch_size=10**30)
    b = rp.MLP([3, 4, 1], loss="mse", seed=0).fit(X, Y, epochs=3)
    assert np.array_equal(a, b)


def test_shuffle_out_of_memory_names_the_shuffled_order():
    # 2**40 samples seen through zero strides: the permutation alone is 8 TiB
    out = isolated("""
        from numpy.lib.stride_tricks import as_strided
        n = 2**40
        X = as_strided(np.zeros(3), (n, 3), (0, 8))
        Y = as_strided(np.zeros(1), (n, 1), (0, 0))
        net = rp.MLP([3, 1], loss="mse", seed=0)
        try:
            net.fit(X, Y, epochs=1, batch_size=1, shuffle=True, seed=0)
        except MemoryError as e:
            print(e)
    """, env={"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1"})
    assert out.strip() == ("MLP.fit: out of memory for the shuffled order of the 1099511627776 "
                           "samples and the scratch arrays of a batch of 1")


def test_longdouble_is_named():
    with pytest.raises(TypeError, match=r"^matmul: A has dtype float128 \(long double\); "
                                        r"retroprop computes in float32 or float64: pass "
                                        r"A.astype\(np.float64\)$"):
        if np.dtype(np.longdouble) == np.float64:
            pytest.skip("long double is double here")
        rp.matmul(np.ones((2, 2), np.longdouble), np.ones((2, 2)))


# ------------------------------------------------------------ fork

def test_fork_after_large_products_and_during_our_own_loop_does_not_hang():
    # retroprop holds no lock and starts no thread of its own: a fork while
    # another thread runs our loops, or after NumPy's BLAS has run, is safe.
    # (A fork while a thread is inside a BLAS product is not: see README.)
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    isolated("""
        import os, threading, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        A = np.ones((200, 200))
        rp.matmul(A, A)                                  # NumPy's BLAS has run
        net = rp.MLP([2, 2, 1], loss="mse", seed=0)
        X, Y = np.ones((4, 2)), np.ones((4, 1))
        t = threading.Thread(target=net.fit, args=(X, Y), kwargs=dict(epochs=300000))
        t.start()
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                ok = rp.matmul(np.ones((3, 3)), np.ones((3, 3)))[0, 0] == 3.0
                ok = ok and rp.matmul(A, A)[0, 0] == 200.0
                os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
            assert status == 0, status
        t.join()
        print("done")
    """, timeout=120)


# ------------------------------------------------------------ capture's programs

COPY_ROW = """
def copy_row(n):
    # one RP_PROGRAM_COPY of a (1, n) float64 row from slot 0 to slot 1
    row = np.zeros((1, 22), dtype=np.int64)
    row[0, 0], row[0, 1] = 3, 2                 # kind COPY, 2 operands
    row[0, 2:5] = [0, 1, 0]                     # slots
    row[0, 12:15] = [1, n, 0]                   # dims
    row[0, 15:21] = [8 * n, 8, 8 * n, 8, 0, 0]  # strides
    row[0, 21] = 8                              # itemsize
    return row
"""


def test_a_program_keeps_the_arrays_it_checked_not_the_list():
    out = isolated(COPY_ROW + textwrap.dedent("""
        import gc
        from retroprop import _core
        src, dst = np.arange(4.0), np.zeros(4)
        slots = [src, dst]
        prog = _core._program_new(slots, copy_row(4), [None], 1)
        slots.clear()
        del src
        gc.collect()
        _core._program_run(prog, 0, 1, 0, 1)
        print(dst.tolist())
    """))
    assert out.strip() == "[0.0, 1.0, 2.0, 3.0]"


def test_a_table_whose_conversion_replaces_a_slot_is_checked_after_it():
    out = isolated(COPY_ROW + textwrap.dedent("""
        from retroprop import _core
        slots = [np.arange(4.0), np.zeros(4)]
        class Table:
            def __array__(self, dtype=None, copy=None):
                slots[0] = "not an array"
                return copy_row(4)
        try:
            _core._program_new(slots, Table(), [None], 1)
        except TypeError as e:
            print(e)
    """))
    assert out.strip() == "_program_new: slot 0 is not an ndarray"
