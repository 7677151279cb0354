"""retroprop.capture and the %%retroprop magic: cells run captured give what
they give in plain Python.

The seeds' cells are read word for word from ../shared/seeds/ (seed_cells).
Elementwise work and sums are NumPy's own loops and order, so they are held
to the same bits; products are rp_gemm (in order, no FMA) against NumPy's
BLAS, so results that go through them are held to rtol 1e-12 (the seed's
stable run), or, for seed 001's chaotic typo run, to the 1e-3 the seed and
notebook 001 document.
"""
import contextlib
import io
import re

import numpy as np
import pytest

from retroprop import capture

import seed_cells


def run_cells(cell_list, capture_index=None, namespace=None):
    """Run cells in order in a fresh namespace; the one at capture_index with
    retroprop.capture.run. Returns (namespace, stdout, stderr)."""
    ns = {} if namespace is None else namespace
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for k, src in enumerate(cell_list):
            if k == capture_index:
                capture.run(src, ns)
            else:
                exec(compile(src, "<cell %d>" % k, "exec"), ns)
    return ns, out.getvalue(), err.getvalue()


def numbers(text):
    return np.array([float(x) for x in re.findall(r"[-+]?\d+\.\d*(?:e[-+]?\d+)?", text)])


def arrays_of(ns):
    return {k: v for k, v in ns.items()
            if isinstance(v, (np.ndarray, np.generic)) and not k.startswith("_")}


def assert_same_namespace(plain, captured, rtol=0.0, exact=()):
    """Every array of plain in captured: equal bits for the names in exact
    (and everywhere when rtol is 0), else within rtol of the array's scale."""
    a, b = arrays_of(plain), arrays_of(captured)
    assert sorted(a) == sorted(b)
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert type(a[k]) is type(b[k]), k
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if rtol == 0 or k in exact or x.dtype.kind != "f":
            np.testing.assert_array_equal(x, y, err_msg=k)
        else:
            scale = max(np.max(np.abs(x)), np.finfo(x.dtype).tiny)
            np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol * scale, err_msg=k)
    for k, v in plain.items():
        if k.startswith("_") or k in a or callable(v) or type(v).__name__ == "module":
            continue
        assert captured[k] == v, k


# ---------------------------------------------------------------- seed 001

def seed001(correct):
    seed_cells.skip_unless_seeds(1)
    cells = seed_cells.cells(1)
    src = [cells[n] for n in sorted(cells)]
    assert "1 * (1 - x)" in cells[4]
    if correct:
        src[sorted(cells).index(4)] = cells[4].replace("1 * (1 - x)", "x * (1 - x)")
    return src, sorted(cells).index(6)


def test_seed001_cells_are_the_seeds():
    seed_cells.skip_unless_seeds(1)
    cells = seed_cells.cells(1)
    assert cells[6].startswith("#definimos la cantidad de iteraciones")
    assert "for i in range(iteraciones):" in cells[6]
    assert cells[6].rstrip().endswith("print(capa_2)")


def test_seed001_correct_derivative_captured_as_plain():
    src, k = seed001(correct=True)
    plain, out_p, _ = run_cells(src)
    captured, out_c, err = run_cells(src, capture_index=k)
    report = capture.last_report
    assert len(report) == 1 and report[0].captured, (report, err)
    assert err == ""
    # iteration 0 runs in Python; the 9 prints at 1000, 2000... run between C runs
    assert report[0].c_iterations == 9999 and report[0].python_statements == 9
    assert out_c == out_p                      # every printed digit
    assert out_p.count("Error") == 10
    assert_same_namespace(plain, captured, rtol=1e-12)
    np.testing.assert_allclose(captured["capa_2"].ravel(),
                               [0.00510229, 0.99437164, 0.99493875, 0.00421887], rtol=1e-6)


def test_seed001_typo_word_for_word_within_the_documented_tolerance():
    """The seed's own cell (1 * (1 - x)): chaotic, so last-place differences
    in the products grow to about 1e-3 by iteration 1000 (a 1e-15 nudge of
    the initial weights gives 5e-4, SEEDS.md). Held to the three digits
    notebook 001 says any two machines agree on (rtol 5e-3), against the
    plain run and the seed's own printout."""
    src, k = seed001(correct=False)
    plain, out_p, _ = run_cells(src)
    captured, out_c, err = run_cells(src, capture_index=k)
    assert capture.last_report[0].captured and err == ""
    first_p, first_c = out_p.split("Error")[1], out_c.split("Error")[1]
    assert first_p == first_c                  # iteration 0 runs in Python
    assert out_c.count("Error") == 10 and out_c.splitlines()[-5] == out_p.splitlines()[-5]
    np.testing.assert_allclose(numbers(out_c), numbers(out_p), rtol=5e-3)
    assert_same_namespace(plain, captured, rtol=5e-3)
    # and the seed's printout, to the same 1e-3
    seed_text = seed_cells.seed_path(1).read_text(encoding="utf-8")
    printed = seed_text.split("print(capa_2)", 1)[1].split("# Conclusiones")[0]
    np.testing.assert_allclose(numbers(out_c), numbers(printed), rtol=5e-3)


# ------------------------------------------------- bit-equality where exact

ELEMENTWISE_CELL = """
for j in range(200):
    h = np.tanh(x * w + 0.5)
    g = 1 / (1 + np.exp(-h)) - y
    w = w - 0.01 * np.sum(g * h, axis=0)
    v -= 0.5 * np.mean(g ** 2, axis=1, keepdims=True) * v
    s = np.sum(np.abs(g))
    if j % 50 == 7:
        history.append(s)
"""


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_and_sums_give_numpy_bits(dtype):
    def fresh():
        rng = np.random.default_rng(5)
        return {"np": np, "history": [],
                "x": rng.standard_normal((6, 3)).astype(dtype),
                "y": rng.standard_normal((6, 3)).astype(dtype),
                "w": rng.standard_normal(3).astype(dtype),
                "v": rng.standard_normal((6, 1)).astype(dtype)}
    plain = fresh()
    exec(ELEMENTWISE_CELL, plain)
    captured = fresh()
    v_before = captured["v"]
    capture.run(ELEMENTWISE_CELL, captured)
    assert capture.last_report[0].captured
    assert captured["v"] is v_before           # updated in place, as Python does
    assert_same_namespace(plain, captured)     # rtol 0: the same bits
    assert len(captured["history"]) == 4
    assert [type(h) for h in captured["history"]] == [type(h) for h in plain["history"]]
    np.testing.assert_array_equal(captured["history"], plain["history"])


# ------------------------------------------------------------- fallbacks

def fallback(cell, setup, reason, line):
    """The cell runs in plain Python with one notice naming reason and line,
    and ends as plain Python does."""
    plain = setup()
    out_p = io.StringIO()
    with contextlib.redirect_stdout(out_p):
        exec(cell, plain)
    captured = setup()
    out_c, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_c), contextlib.redirect_stderr(err):
        capture.run(cell, captured)
    notice = err.getvalue()
    assert notice.count("\n") == 1, notice
    assert "runs in plain Python" in notice and reason in notice, notice
    assert ("line %d:" % line) in notice, notice
    assert not capture.last_report[0].captured
    assert out_c.getvalue() == out_p.getvalue()
    assert_same_namespace(plain, captured)


def small():
    rng = np.random.default_rng(0)
    return {"np": np, "W": rng.standard_normal((3, 3)), "X": rng.standard_normal((4, 3))}


def test_fallback_random_numbers():
    """Recording draws nothing: the plain run gets the numbers Python would."""
    def setup():
        np.random.seed(3)
        return small()
    fallback("for i in range(5):\n    W = W + 0.1 * np.random.random((3, 3))\n",
             setup, "draws random numbers", 2)


def test_fallback_data_dependent_if():
    fallback("for i in range(5):\n    W = W * 0.5\n    if W.sum() > 0:\n        W = -W\n",
             small, "control flow that depends on the arrays' values", 3)


def test_fallback_values_read_in_python():
    fallback("t = 0.0\nfor i in range(5):\n    W = W * 0.5\n    t = t + float(W.sum())\n",
             small, "reads the values of an array in Python", 4)


def test_fallback_print_inside_a_helper():
    cell = ("def paso(W):\n    print('paso')\n    return W * 0.5\n"
            "for i in range(4):\n    W = paso(W)\n")
    fallback(cell, small, "calls print()", 2)


def test_fallback_unsupported_function():
    fallback("for i in range(4):\n    W = np.clip(W, -1, 1) * 2\n", small, "calls np.clip", 2)


def test_fallback_shape_changes():
    fallback("for i in range(4):\n    X = X.T * 2\n", small, "between iterations", 2)


def test_fallback_break():
    fallback("for i in range(4):\n    W = W * 2\n    if i == 2:\n        break\n",
             small, "a break", 4)


def test_fallback_not_a_range():
    fallback("for i in [0, 1, 2, 3]:\n    W = W * 2\n", small, "not a range()", 1)


def test_fallback_loop_variable_in_array_code():
    fallback("for i in range(4):\n    W = W * i\n", small, "uses the loop variable", 2)


def test_fallback_python_value_changes():
    fallback("lr = 1.0\nfor i in range(4):\n    lr = lr * 0.5\n    W = W * lr\n",
             small, "changes the Python value lr", 3)


def test_fallback_python_statement_assigns_array_input():
    fallback("lr = 1.0\nfor i in range(4):\n    W = W - lr * W\n    if i % 2 == 0:\n"
             "        lr = lr / 2\n", small, "assigns lr, which the array code uses", 4)


def test_fallback_object_arrays():
    def setup():
        ns = small()
        ns["O"] = np.array([1.0, "a"], dtype=object)
        return ns
    fallback("for i in range(4):\n    W = W * 2\n    P = O * 2\n", setup, "object", 3)


def test_fallback_floating_point_warning_replays_in_python():
    """An overflow NumPy would warn about: the run is replayed in Python,
    which warns (here: raises, as the suite turns warnings into errors)."""
    def setup():
        return {"np": np, "W": np.full((2, 2), 1e305)}
    cell = "for i in range(6):\n    W = W * 10.0\n"
    plain = setup()
    with pytest.raises(RuntimeWarning, match="overflow"):
        exec(cell, plain)
    ns = setup()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(RuntimeWarning, match="overflow"):
        capture.run(cell, ns)
    assert "NumPy would report overflow" in err.getvalue()
    assert ns["i"] == plain["i"] == 3         # as Python leaves it: the iteration that warned
    np.testing.assert_array_equal(ns["W"], plain["W"])


# ----------------------------------------------------------------- magic

def test_the_cell_magic():
    IPython = pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "retroprop")
    src, k = seed001(correct=True)
    shell.user_ns.clear()
    plain, out_p, _ = run_cells(src)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for n, cell in enumerate(src):
            if n == k:
                shell.run_cell_magic("retroprop", "", cell)
            else:
                shell.run_cell(cell)
    assert capture.last_report[0].captured
    assert out.getvalue() == out_p
    np.testing.assert_allclose(shell.user_ns["sinapsis0"], plain["sinapsis0"], rtol=1e-12)
    assert IPython is not None


# ------------------------------------------------------ --check and Ctrl-C

def test_check_compares_the_first_iterations():
    src, k = seed001(correct=True)
    plain, out_p, _ = run_cells(src)
    ns = {}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for n, cell in enumerate(src):
            if n == k:
                capture.run(cell, ns, check=True)
            else:
                exec(cell, ns)
    line = capture.last_report[0].check
    assert line is not None and line in err.getvalue()
    # every iteration up to the first print at 1000: checked 1 to 5
    assert "iterations 1 to 5 run both ways" in line
    m = re.search(r"(\d+) of (\d+) variables bit for bit equal", line)
    assert m and int(m.group(2)) == 11         # the arrays of the namespace
    if "largest relative difference" in line:
        assert float(line.split("difference ")[1].split()[0]) < 1e-13
    assert out.getvalue() == out_p
    np.testing.assert_allclose(ns["sinapsis0"], plain["sinapsis0"], rtol=1e-12)


def test_ctrl_c_stops_between_runs_with_python_state():
    """SIGINT during a long captured run: KeyboardInterrupt, and the
    variables are those of a plain run of exactly the iterations done."""
    import os
    import signal
    import threading
    if not hasattr(signal, "SIGINT") or threading.current_thread() is not threading.main_thread():
        pytest.skip("needs SIGINT in the main thread")

    def setup():
        rng = np.random.default_rng(2)
        return {"np": np, "W": rng.standard_normal((8, 8)) * 0.1,
                "X": rng.standard_normal((16, 8))}
    cell = ("for step in range(10**9):\n"
            "    H = np.tanh(X @ W)\n"
            "    W -= 1e-3 * (X.T @ (H * (1 - H * H)))\n"
            "    G = W * 0.5\n")
    ns = setup()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            capture.run(cell, ns)
    finally:
        timer.cancel()
    done = ns["step"] + 1
    assert capture.last_report[0].captured and 1 < done < 10**9
    plain = setup()
    exec(cell.replace("range(10**9)", "range(%d)" % done), plain)
    for name in ("W", "H", "G"):
        np.testing.assert_allclose(ns[name], plain[name], rtol=1e-9, atol=1e-12, err_msg=name)
