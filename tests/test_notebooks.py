"""The five notebooks in notebooks/ run top to bottom on a Jupyter kernel and show the seeds' numbers.

Each notebook is executed by nbclient on a fresh ``python3`` kernel
(ipykernel), in notebooks/, with the settings of notebooks/execute.py (the
script that saved the outputs); an error in any cell fails the test, and so
does anything written to stderr (a warning). After the notebook's own cells
the test runs one more cell in the same kernel that prints the variables it
checks as JSON (floats round-trip exactly), so the numbers checked are those
of the run nbclient made. They are the numbers of /work/shared/SEEDS.md.

The outputs saved in the .ipynb files must come from such a run: the same
text as a fresh execution, numbers to rtol 1e-9. Cells tagged
"output-varies" (timings, seed 001's chaotic typo run, the rounding noise of
central differences) are compared without their numbers.
"""
import base64
import copy
import importlib.util
import json
import math
import pathlib
import re
import sys
import time

import nbformat  # nbclient, ipykernel and matplotlib too: the "test" extra installs them
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = [
    "000_xor_columns_bce.ipynb",
    "001_xor_rows_10000_iterations.ipynb",
    "002_single_sample_step.ipynb",
    "003_batch_step_by_step.ipynb",
    "004_regression_by_hand.ipynb",
    "005_digits_training_loop.ipynb",
]
FIRST_CELL = "import numpy as np\nimport retroprop as rp\nfrom retroprop.notebook import *"

# NumPy's default printing, which the seeds show: 8 decimals, in fixed
# notation or in the mantissa of scientific notation.
FIXED = dict(rtol=0, atol=5.1e-9)
SCI = dict(rtol=6e-9, atol=0)


def _load_execute_script():
    spec = importlib.util.spec_from_file_location("notebooks_execute", NOTEBOOKS_DIR / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute_script = _load_execute_script()


# ------------------------------------------------------------ execution

# What each test reads from the kernel after the notebook ran: a name, and
# the expression evaluated in the notebook's namespace (the name itself if
# not given).
PROBES = {
    "000_xor_columns_bce.ipynb": [
        "X", "Y", "Z1", "A1", "Z2", "A2", "perdida", "dS2", "dPesos2", "dSesgo2", "dAct1", "dS1",
        "dPesos1", "dSesgo1", "perdida_nueva", "iteraciones", "perdidas_seed", "perdidas",
        "perdidas_fit", "pesos1_iniciales", "pesos2_iniciales", "pesos1", "sesgo1", "pesos2",
        "sesgo2", "tiempo_celdas", "tiempo_fit",
        ("derivada_sigmoide_A1", "derivada_sigmoide(A1)"),
        ("red_pesos1", "red.pesos1"), ("red_sesgo1", "red.sesgo1"),
        ("entrenada_pesos1", "red_entrenada.pesos1"), ("entrenada_sesgo1", "red_entrenada.sesgo1"),
        ("entrenada_pesos2", "red_entrenada.pesos2"), ("entrenada_sesgo2", "red_entrenada.sesgo2"),
        ("Y_pred_seed", "predecir(red_seed, X)"), ("Y_pred_entrenada", "predecir(red_entrenada, X)"),
    ],
    "001_xor_rows_10000_iterations.ipynb": [
        "errores_con_errata", "capa_2_con_errata", "perdidas_con_errata", "capa_2", "errores",
        "perdidas", "perdidas_fit", "sinapsis0", "sinapsis1", "tiempo_celdas", "tiempo_fit",
        ("sinapsis_celdas0", "sinapsis[0]"), ("sinapsis_celdas1", "sinapsis[1]"),
        ("iniciales0", "iniciar_sinapsis()[0]"), ("iniciales1", "iniciar_sinapsis()[1]"),
        ("capturado", "informe.captured"), ("c_iteraciones", "informe.c_iterations"),
        ("sentencias_python", "informe.python_statements"), "tiempo_retroprop", "tiempo_python",
    ],
    "002_single_sample_step.ipynb": [
        "delta_w_h_o", "delta_w_i_h",
        ("outer_product_of_view", "learnrate * hidden_error_term * x[:, None]"),
    ],
    "003_batch_step_by_step.ipynb": [
        "a_out", "delta_h", "grad_w_h", "grad_b_h", "grad_w_out", "grad_b_out", "wh", "bh",
        "w_out", "b_out", "grad_w_h_correcto", "grad_b_h_correcto", "grad_w_out_correcto",
        "grad_b_out_correcto", "error_inicial", "error_paso_seed", "error_paso_correcto",
        ("numerico_wh", "gradiente_numerico(wh0)"), ("numerico_w_out", "gradiente_numerico(w_out0)"),
        ("informe_nombres", "[row.name for row in informe]"),
        ("informe_diagnosticos", "[row.diagnosis for row in informe]"),
        ("informe_ok", "informe.ok"),
        ("paso_loss_after", "paso['loss_after']"), ("paso_dW1", "paso['dW1']"),
    ],
    "004_regression_by_hand.ipynb": [
        "z1", "g1", "y_pred", "costo", "dC_dw7", "dC_db3", "dC_dw1", "w1_upt", "w7_upt",
        "w7_upt_0001", "eta", "dC_dw7_seed", "dC_db3_seed", "w7_upt_seed", "dC_dw1_seed",
        "w1_upt_seed",
    ],
}

PROBES["005_digits_training_loop.ipynb"] = [
    "X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "test_accuracy",
    ("history", "np.asarray(history)"), ("val_loss", "history.history['val_loss']"),
    ("val_accuracy", "history.history['val_accuracy']"), ("best_epoch", "history.best_epoch"),
    ("stopped_epoch", "history.stopped_epoch"), ("val_loss_now", "net.loss(X_val, y_val)"),
    ("quick_stopped", "quick_history.stopped_epoch"),
    ("quick_val_accuracy", "quick_history.history['val_accuracy']"),
    ("weights0", "net.weights[0]"), ("torch_ok", "torch is not None"),
]

PROBE_MARK = "retroprop-test-probe:"
PROBE_CELL = """\
import json as _json, sys as _sys, numpy as _np, retroprop as _retroprop
_probe = {"sys.executable": _sys.executable, "retroprop.__file__": _retroprop.__file__}
for _name, _expression in %r:
    _probe[_name] = _np.asarray(eval(_expression)).tolist()
print(%r + _json.dumps(_probe))
"""


class Run:
    """One execution of a notebook: the saved file, the executed copy, the probed values."""

    def __init__(self, name):
        self.name = name
        self.saved = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
        self.fresh = copy.deepcopy(self.saved)
        for cell in self.fresh.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        probes = [(p, p) if isinstance(p, str) else p for p in PROBES[name]]
        self.fresh.cells.append(nbformat.v4.new_code_cell(PROBE_CELL % (probes, PROBE_MARK)))
        start = time.perf_counter()
        execute_script.execute(self.fresh)  # nbclient: raises CellExecutionError on any error
        self.seconds = time.perf_counter() - start
        probe = self.fresh.cells.pop()
        text = "".join(o.get("text", "") for o in probe.outputs if o.output_type == "stream")
        line = [t for t in text.splitlines() if t.startswith(PROBE_MARK)]
        assert line, "the probe cell printed nothing: %r" % probe.outputs
        self.values = json.loads(line[0][len(PROBE_MARK):])

    def __getitem__(self, name):
        return np.asarray(self.values[name])

    @property
    def stdout(self):
        """Everything the notebook's own cells printed, in order."""
        return "".join(o.text for cell in self.fresh.cells if cell.cell_type == "code"
                       for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """executed(name) -> the Run of notebooks/NAME, executed once per test session."""
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        # JUPYTER_PLATFORM_DIRS=1 keeps jupyter_core 5.x from warning
        # (DeprecationWarning, an error here) about its move to platformdirs;
        # MPLBACKEND=Agg: nothing needs a display; a fresh IPYTHONDIR.
        for key, value in execute_script.kernel_environment(
                tmp_path_factory.mktemp("ipython")).items():
            mp.setenv(key, value)

        def run(name):
            if name not in runs:
                runs[name] = Run(name)
            return runs[name]

        yield run


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(executed, name):
    import retroprop

    run = executed(name)
    # The kernel ran this interpreter and this retroprop (not another install).
    assert run.values["sys.executable"] == sys.executable
    assert pathlib.Path(run.values["retroprop.__file__"]) == pathlib.Path(retroprop.__file__)
    for index, cell in enumerate(run.fresh.cells):
        if cell.cell_type == "code":
            assert cell.execution_count is not None, "cell %d of %s did not run" % (index, name)
            stderr = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert not stderr, "cell %d of %s wrote to stderr:\n%s" % (index, name, "".join(stderr))


# --------------------------------------------------- the saved notebooks

def load(name):
    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def images(cell):
    return [o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_saved_notebook_format(name):
    notebook = load(name)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["language_info"]["name"] == "python"
    cells = notebook.cells
    assert all(cell.cell_type in ("code", "markdown") for cell in cells)
    assert any(cell.cell_type == "markdown" for cell in cells)
    assert len({cell.id for cell in cells}) == len(cells)
    code = code_cells(notebook)
    assert code[0].source.strip() == FIRST_CELL
    # Saved from one run, top to bottom, without errors or warnings.
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", cell.source
            assert not (output.output_type == "stream" and output.name == "stderr"), cell.source
    assert any(cell.outputs for cell in code)


@pytest.mark.parametrize("name", NOTEBOOKS[:2])
def test_training_notebooks_plot_and_time(name):
    notebook = load(name)
    plots = [cell for cell in code_cells(notebook) if images(cell)]
    assert len(plots) >= 2  # the loss curve and the decision boundary
    fast_path = code_cells(notebook)[-1]
    assert "rp.MLP.from_arrays(" in fast_path.source and ".fit(" in fast_path.source
    assert "time.perf_counter()" in fast_path.source
    text = "".join(o.get("text", "") for o in fast_path.outputs)
    assert "celda por celda:" in text and "fit:" in text


def test_readme_figure_is_the_notebooks():
    """docs/xor_decision_boundary.png is the figure saved in notebook 000."""
    (cell,) = [c for c in load(NOTEBOOKS[0]).cells
               if "xor-decision-boundary" in c.metadata.get("tags", [])]
    (png,) = images(cell)
    assert (ROOT / "docs" / "xor_decision_boundary.png").read_bytes() == base64.b64decode(png)


NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _text_outputs(cell):
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_saved_outputs_match_a_fresh_run(executed, name):
    run = executed(name)
    saved, fresh = code_cells(run.saved), code_cells(run.fresh)
    assert [c.source for c in saved] == [c.source for c in fresh]
    for index, (old, new) in enumerate(zip(saved, fresh)):
        where = "%s, code cell %d:\n%s" % (name, index + 1, new.source)
        if "needs-torch" in new.metadata.get("tags", []) and \
                importlib.util.find_spec("torch") is None:
            continue  # saved with PyTorch installed; this run says it is missing
        old_text, new_text = _text_outputs(old), _text_outputs(new)
        assert " ".join(NUMBER.sub("#", old_text).split()) == \
            " ".join(NUMBER.sub("#", new_text).split()), where
        assert bool(images(old)) == bool(images(new)), where
        if "output-varies" not in new.metadata.get("tags", []):
            old_numbers = [float(x) for x in NUMBER.findall(old_text)]
            new_numbers = [float(x) for x in NUMBER.findall(new_text)]
            # 1e-9: a last-bit difference in a number printed in full (another
            # libm), never a different printed digit.
            np.testing.assert_allclose(old_numbers, new_numbers, rtol=1e-9, atol=0, err_msg=where)


# ------------------------------------------------------ the seeds' numbers

def seed_000_numpy(pesos1, pesos2, tasa, iteraciones):
    """Seed 000's step in plain NumPy, repeated: the loss of every iteration."""
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]])
    Y = np.array([[0, 1, 1, 0]])
    pesos1, pesos2 = pesos1.copy(), pesos2.copy()
    sesgo1, sesgo2 = np.zeros((2, 1)), np.zeros((1, 1))
    m, eps = Y.shape[1], 1e-8
    perdidas = []
    for _ in range(iteraciones):
        act1 = 1 / (1 + np.exp(-(pesos1 @ X + sesgo1)))
        act2 = 1 / (1 + np.exp(-(pesos2 @ act1 + sesgo2)))
        perdidas.append(-(1 / m) * np.sum(Y * np.log(act2 + eps) + (1 - Y) * np.log(1 - act2 + eps)))
        dS2 = act2 - Y
        dPesos2 = (1 / m) * dS2 @ act1.T
        dSesgo2 = (1 / m) * np.sum(dS2, axis=1, keepdims=True)
        dS1 = (pesos2.T @ dS2) * act1 * (1 - act1)
        dPesos1 = (1 / m) * dS1 @ X.T
        dSesgo1 = (1 / m) * np.sum(dS1, axis=1, keepdims=True)
        pesos2 -= tasa * dPesos2
        sesgo2 -= tasa * dSesgo2
        pesos1 -= tasa * dPesos1
        sesgo1 -= tasa * dSesgo1
    return np.array(perdidas), (pesos1, sesgo1, pesos2, sesgo2)


def test_000_xor_columns_bce(executed):
    ns = executed("000_xor_columns_bce.ipynb")
    np.testing.assert_allclose(ns["Z1"], [[0, 0.0105376, -0.00572711, 0.00481049],
                                          [0, 0.0011553, 0.00162986, 0.00278516]], **FIXED)
    np.testing.assert_allclose(ns["A1"], [[0.5, 0.50263438, 0.49856823, 0.50120262],
                                          [0.5, 0.50028882, 0.50040746, 0.50069629]], **FIXED)
    np.testing.assert_allclose(ns["Z2"], [[0.00093454, 0.00093148, 0.00093812, 0.00093507]],
                               **FIXED)
    np.testing.assert_allclose(ns["A2"], [[0.50023363, 0.50023287, 0.50023453, 0.50023377]],
                               **FIXED)
    np.testing.assert_allclose(ns["perdida"], 0.6931472697889913, rtol=1e-13)
    np.testing.assert_allclose(ns["dS2"], ns["A2"] - ns["Y"], rtol=1e-15)
    np.testing.assert_allclose(ns["dPesos2"], [[0.00011699, 0.00011693]], **FIXED)
    np.testing.assert_allclose(ns["dSesgo2"], [[0.0002337]], **FIXED)
    np.testing.assert_allclose(ns["dAct1"], [[-0.00076697, 0.00076625, 0.00076625, -0.00076697],
                                             [0.00170194, -0.00170036, -0.00170035, 0.00170195]],
                               **FIXED)
    # The quirk: derivada_sigmoide(A1) is A1 * (1 - A1), about 0.25, not A1.
    A1 = ns["A1"]
    np.testing.assert_allclose(ns["derivada_sigmoide_A1"], A1 * (1 - A1), rtol=1e-15)
    np.testing.assert_allclose(ns["dS1"], [[-0.00019174, 0.00019156, 0.00019156, -0.00019174],
                                           [0.00042549, -0.00042509, -0.00042509, 0.00042549]],
                               **FIXED)
    np.testing.assert_allclose(ns["dPesos1"], [[-4.49904926e-08, -4.57682080e-08],
                                               [9.94446434e-08, 9.90566484e-08]], **SCI)
    np.testing.assert_allclose(ns["dSesgo1"], [[-9.10234366e-08], [1.98679661e-07]], **SCI)
    assert ns["dPesos1"].shape == ns["red_pesos1"].shape
    assert ns["dSesgo1"].shape == ns["red_sesgo1"].shape == (2, 1)
    assert ns["perdida_nueva"] < ns["perdida"]
    assert "perdida = 0.6931472697889913" in executed("000_xor_columns_bce.ipynb").stdout

    # Training: from the seed's tiny weights the loss stays at log 2 (a saddle)...
    n = int(ns["iteraciones"])
    assert n == 10000 and len(ns["perdidas_seed"]) == len(ns["perdidas"]) == n
    np.testing.assert_allclose(ns["perdidas_seed"][[0, -1]], math.log(2), atol=1e-6)
    np.testing.assert_allclose(ns["Y_pred_seed"], 0.5, atol=1e-5)
    # ...from weights of order 1 it learns XOR, exactly as the same loop in NumPy.
    expected, expected_params = seed_000_numpy(ns["pesos1_iniciales"], ns["pesos2_iniciales"],
                                               0.1, n)
    np.testing.assert_allclose(ns["perdidas"], expected, rtol=1e-10)
    for got, want in zip(["entrenada_pesos1", "entrenada_sesgo1", "entrenada_pesos2",
                          "entrenada_sesgo2"], expected_params):
        np.testing.assert_allclose(ns[got], want, rtol=1e-9, atol=1e-12)
    assert ns["perdidas"][-1] < 0.05
    np.testing.assert_array_equal(np.round(ns["Y_pred_entrenada"]), ns["Y"])

    # The fast path: the same losses and weights from one fit call.
    np.testing.assert_allclose(ns["perdidas_fit"], ns["perdidas"], rtol=1e-12)
    for fit_name, loop_name in [("pesos1", "entrenada_pesos1"), ("sesgo1", "entrenada_sesgo1"),
                                ("pesos2", "entrenada_pesos2"), ("sesgo2", "entrenada_sesgo2")]:
        np.testing.assert_allclose(ns[fit_name], ns[loop_name], rtol=1e-12, atol=1e-15)
    assert ns["tiempo_celdas"] > 0 and ns["tiempo_fit"] > 0


def seed_001_numpy(derivative):
    """Seed 001's loop in plain NumPy: the final predictions and the 10 printed errors."""
    rng_state = np.random.get_state()
    np.random.seed(1)
    s0 = 2 * np.random.random((3, 4)) - 1
    s1 = 2 * np.random.random((4, 1)) - 1
    np.random.set_state(rng_state)
    x = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    y = np.array([[0], [1], [1], [0]])
    errors = []
    for i in range(10000):
        a1 = 1 / (1 + np.exp(-(x @ s0)))
        a2 = 1 / (1 + np.exp(-(a1 @ s1)))
        e2 = y - a2
        d2 = e2 * derivative(a2)
        d1 = (d2 @ s1.T) * derivative(a1)
        s1 += a1.T @ d2
        s0 += x.T @ d1
        if i % 1000 == 0:
            errors.append(np.abs(e2))
    return a2, errors, (s0, s1)


def test_001_xor_rows_10000_iterations(executed):
    ns = executed("001_xor_rows_10000_iterations.ipynb")
    out = ns.stdout
    # the seed's own cell twice (under %%retroprop, then plain) besides entrenar's run
    assert out.count("Predicciones después de entrenamiento") == 4
    assert out.count("Error \n") == 40
    # %%retroprop captured it: iteration 0 in Python, 1-9999 in C, 9 prints between
    assert bool(ns["capturado"]) is True
    assert ns["c_iteraciones"] == 9999 and ns["sentencias_python"] == 9
    assert ns["tiempo_retroprop"] > 0 and ns["tiempo_python"] > 0

    # With the seed's typo 1 * (1 - x) the loop amplifies rounding (see SEEDS.md):
    # the seed's printout is matched at rtol 1e-3, the first error exactly.
    errors = ns["errores_con_errata"]
    assert len(errors) == 10
    np.testing.assert_allclose(errors[0].ravel(), [0.47372957, 0.45529163, 0.45615914, 0.48895696],
                               **FIXED)
    np.testing.assert_allclose(errors[1].ravel(),
                               [9.03104406e-07, 1.13411539e-01, 6.34943668e-05, 1.54256257e-02],
                               rtol=1e-3)
    np.testing.assert_allclose(errors[9].ravel(),
                               [4.48664197e-10, 3.64567697e-02, 1.96592671e-07, 1.57337881e-03],
                               rtol=1e-3)
    np.testing.assert_allclose(ns["capa_2_con_errata"].ravel(),
                               [3.14846268e-10, 9.65453079e-01, 9.99999849e-01, 1.41270748e-03],
                               rtol=1e-3)

    # With the correct derivative the loop is stable: the kernels agree with
    # NumPy tightly, and with the 8 digits of SEEDS.md.
    predictions = ns["capa_2"]
    assert predictions.shape == (4, 1)
    np.testing.assert_allclose(predictions.ravel(), [0.00510229, 0.99437164, 0.99493875, 0.00421887],
                               **FIXED)
    expected, expected_errors, (s0, s1) = seed_001_numpy(lambda a: a * (1 - a))
    np.testing.assert_allclose(predictions, expected, rtol=1e-11)
    for got, want in zip(ns["errores"], expected_errors):
        np.testing.assert_allclose(got, want, rtol=1e-11)
    np.testing.assert_allclose(ns["sinapsis_celdas0"], s0, rtol=1e-11)
    np.testing.assert_allclose(ns["sinapsis_celdas1"], s1, rtol=1e-11)
    # The loss the loop records for the plot: half the squared error.
    assert len(ns["perdidas"]) == len(ns["perdidas_con_errata"]) == 10000
    np.testing.assert_allclose(ns["perdidas"][-1], 0.5 * np.sum((expected - [[0], [1], [1], [0]]) ** 2),
                               rtol=1e-10)

    # The fast path from the same initial weights: the same losses and weights.
    np.testing.assert_allclose(ns["perdidas_fit"], ns["perdidas"], rtol=1e-12)
    np.testing.assert_allclose(ns["sinapsis0"], ns["sinapsis_celdas0"], rtol=1e-12)
    np.testing.assert_allclose(ns["sinapsis1"], ns["sinapsis_celdas1"], rtol=1e-12)
    assert not np.allclose(ns["sinapsis0"], ns["iniciales0"])  # trained in place
    assert ns["tiempo_celdas"] > 0 and ns["tiempo_fit"] > 0


def test_002_single_sample_step(executed):
    ns = executed("002_single_sample_step.ipynb")
    np.testing.assert_allclose(ns["delta_w_h_o"], [0.00804047, 0.00555918], **FIXED)
    np.testing.assert_allclose(ns["delta_w_i_h"], [[1.77005547e-04, -5.11178506e-04],
                                                   [3.54011093e-05, -1.02235701e-04],
                                                   [-7.08022187e-05, 2.04471402e-04]], **SCI)
    # The seed's own outer product through the view x[:, None].
    np.testing.assert_allclose(ns["delta_w_i_h"], ns["outer_product_of_view"], rtol=1e-14)
    assert ns.stdout.count("True") == 2


def test_003_batch_step_by_step(executed):
    ns = executed("003_batch_step_by_step.ipynb")
    np.testing.assert_allclose(ns["a_out"], [[0.75000237, 0.77134977], [0.75759317, 0.78011568],
                                             [0.75938467, 0.78218131], [0.76624034, 0.79003164]],
                               **FIXED)
    np.testing.assert_allclose(ns["delta_h"], [[-0.00875085, -0.00996695], [-0.01153912, -0.01225526],
                                               [-0.01137893, -0.01205845], [-0.00831056, -0.00875518]],
                               **FIXED)
    # The seed's (transposed, sign-flipped) gradients and its updates.
    np.testing.assert_allclose(ns["grad_w_h"], [[-0.01984968, -0.01968949], [-0.02101044, -0.02081363]],
                               **FIXED)
    np.testing.assert_allclose(ns["grad_b_h"], [-0.03997947, -0.04303584], **FIXED)
    np.testing.assert_allclose(ns["grad_w_out"], [[-0.11860904, -0.12243956], [-0.12087335, -0.1255365]],
                               **FIXED)
    np.testing.assert_allclose(ns["grad_b_out"], [-0.1893884, -0.19192365], **FIXED)
    np.testing.assert_allclose(ns["wh"], [[0.15992484, 0.25984475], [0.21050522, 0.31040682]], **FIXED)
    np.testing.assert_allclose(ns["bh"], [0.36998973, 0.37151792], **FIXED)
    np.testing.assert_allclose(ns["w_out"], [[0.45930452, 0.56121978], [0.51043668, 0.61276825]],
                               **FIXED)
    np.testing.assert_allclose(ns["b_out"], [0.6946942, 0.69596183], **FIXED)

    # The correct gradient is X.T @ delta_h with the sign of dE/dW: minus the
    # seed's, transposed; the central differences agree with it.
    for correct, seed in [("grad_w_h_correcto", "grad_w_h"), ("grad_w_out_correcto", "grad_w_out"),
                          ("grad_b_h_correcto", "grad_b_h"), ("grad_b_out_correcto", "grad_b_out")]:
        np.testing.assert_allclose(ns[correct], -ns[seed].T, rtol=1e-13)
    np.testing.assert_allclose(ns["numerico_wh"], ns["grad_w_h_correcto"], atol=1e-8)
    np.testing.assert_allclose(ns["numerico_w_out"], ns["grad_w_out_correcto"], atol=1e-8)
    assert np.abs(ns["grad_w_h_correcto"]).min() > 1e-3  # not trivially zero
    assert not np.allclose(ns["grad_w_h_correcto"], ns["grad_w_h_correcto"].T)  # transposing shows

    # retroprop.gradcheck names both mistakes; retroprop.trace agrees with the correct step.
    assert ns["informe_nombres"].tolist() == ["grad_w_h", "grad_b_h", "grad_w_out", "grad_b_out"]
    assert ns["informe_diagnosticos"].tolist() == ["transposed and sign flipped", "sign flipped",
                                                   "transposed and sign flipped", "sign flipped"]
    assert not ns["informe_ok"]
    out = ns.stdout
    assert "all 4 gradients match the central differences" in out
    assert "delta_out (error) differs" in out and "minus it matches (sign flipped)" in out
    assert "grad_w_h (dW1) differs" in out and "its transpose matches (transposed)" in out
    assert "all 6 given arrays match" in out
    np.testing.assert_allclose(ns["paso_dW1"], ns["grad_w_h_correcto"], rtol=1e-13)

    # The seed's step climbs the error, the correct one descends it.
    np.testing.assert_allclose(ns["error_inicial"], 1.291520174425623, rtol=1e-12)
    assert ns["error_paso_seed"] > ns["error_inicial"] > ns["error_paso_correcto"]
    np.testing.assert_allclose(ns["paso_loss_after"], ns["error_paso_correcto"], rtol=1e-13)


def test_004_regression_by_hand(executed):
    ns = executed("004_regression_by_hand.ipynb")
    exact = dict(rtol=1e-10)
    np.testing.assert_allclose(ns["z1"], -0.5, **exact)
    np.testing.assert_allclose(ns["g1"], 0.3775406688, **exact)
    np.testing.assert_allclose(ns["y_pred"], 24.9534880256, **exact)
    np.testing.assert_allclose(ns["costo"], (24.9534880256 - 82) ** 2, **exact)
    np.testing.assert_allclose(ns["dC_dw7"], -43.0747565668, **exact)
    np.testing.assert_allclose(ns["dC_db3"], -114.0930239488, **exact)
    np.testing.assert_allclose(ns["dC_dw1"], -19304.8445983, **exact)
    np.testing.assert_allclose(ns["w1_upt"], 193.148445983, **exact)
    np.testing.assert_allclose(ns["w7_upt"], 12 + 0.01 * 43.0747565668, **exact)
    np.testing.assert_allclose(ns["w7_upt_0001"], 12 + 0.001 * 43.0747565668, **exact)
    assert ns["eta"] == 0.01
    # The seed's page, from its rounded numbers (g1 = 0.37, y_pred = 24.95, eta 0.001 for w7).
    assert round(float(ns["dC_dw7_seed"]), 1) == -42.2
    assert round(float(ns["dC_db3_seed"]), 1) == -114.1
    assert round(float(ns["w7_upt_seed"]), 2) == 12.04
    assert round(float(ns["w1_upt_seed"])) == 193
    # Its -19,303 does not follow from its own rounded numbers either.
    np.testing.assert_allclose(ns["dC_dw1_seed"], 2 * (24.95 - 82) * 12 * 0.2350037122 * 60,
                               rtol=1e-9)


def test_005_digits_training_loop(executed):
    """Validation every epoch, early stopping with the best weights kept, a
    callback that stops the fit, and the PyTorch export (when torch is there)."""
    ns = executed("005_digits_training_loop.ipynb")
    assert ns["X_train"].shape == (1200, 64) and ns["X_val"].shape == (300, 64)
    n = len(ns["history"])
    val_loss = ns["val_loss"]
    assert len(val_loss) == len(ns["val_accuracy"]) == n < 200      # it stopped early
    best = int(ns["best_epoch"])
    assert best == int(np.argmin(val_loss)) and int(ns["stopped_epoch"]) == n - 1 == best + 15
    assert ns["val_loss_now"] == val_loss[best]                        # best weights restored
    assert ns["val_accuracy"][best] > 0.95 and ns["test_accuracy"] > 0.95
    # The same run again outside the notebook: the same numbers.
    import retroprop as rp
    net = rp.MLP([64, 32, 10], activation="relu", output_activation="softmax", loss="ce",
                 optimizer="adam", lr=0.002, seed=0)
    history = net.fit(ns["X_train"], ns["y_train"], epochs=200, batch_size=32, shuffle=True,
                      seed=1, validation_data=(ns["X_val"], ns["y_val"]), patience=15,
                      progress=False)
    np.testing.assert_allclose(history, ns["history"], rtol=1e-12)
    np.testing.assert_allclose(net.weights[0], ns["weights0"], rtol=1e-12, atol=1e-15)
    # The callback stopped the second fit at the first report at 97%.
    quick = ns["quick_val_accuracy"]
    stop = int(ns["quick_stopped"])
    assert (stop + 1) % 10 == 0 and quick[stop] >= 0.97
    assert all(quick[e] < 0.97 for e in range(9, stop, 10))
    out = executed("005_digits_training_loop.ipynb").stdout
    assert "same predictions: True" in out
    if ns["torch_ok"]:
        assert "same outputs as net.forward (to 1e-12): True" in out
        assert "['0.weight', '0.bias', '2.weight', '2.bias']" in out
    # The progress bar is an HTML display, and the curves a figure.
    notebook = load("005_digits_training_loop.ipynb")
    fit_cell = [c for c in code_cells(notebook) if "progress=True" in c.source][0]
    html = [o for o in fit_cell.outputs if "text/html" in o.get("data", {})]
    assert len(html) == 1 and html[0]["data"]["text/html"].startswith("<progress value=")
    assert any(images(c) for c in code_cells(notebook))
