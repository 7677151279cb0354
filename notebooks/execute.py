"""Run the notebooks top to bottom on a fresh python3 kernel and save their outputs.

    python notebooks/execute.py                  # every notebook
    python notebooks/execute.py 001_xor_rows_10000_iterations.ipynb

The outputs saved in notebooks/*.ipynb come from this script; the test
(tests/test_notebooks.py) executes the notebooks again with the same
settings. The kernel imports the retroprop that this Python imports (an
editable install, or PYTHONPATH=python after ``setup.py build_ext
--inplace``). The figure of notebook 000's cell tagged
"xor-decision-boundary" is also written to docs/xor_decision_boundary.png
for the README.
"""
import base64
import os
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"
FIGURES = {  # (notebook, cell tag) -> file under docs/
    ("000_xor_columns_bce.ipynb", "xor-decision-boundary"): "xor_decision_boundary.png",
}


def kernel_environment(ipython_dir):
    """os.environ for a kernel that runs the notebooks as the tests do."""
    import retroprop

    package_root = str(pathlib.Path(retroprop.__file__).resolve().parent.parent)
    path = [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {
        "PYTHONPATH": os.pathsep.join(path),  # the kernel imports this retroprop
        # jupyter_core 5.x warns (DeprecationWarning) that it is moving to
        # platformdirs unless this says which paths to use.
        "JUPYTER_PLATFORM_DIRS": "1",
        # No display is needed: the notebooks draw with %matplotlib inline.
        "MPLBACKEND": "Agg",
        # A fresh IPython profile: no user startup files, no history kept.
        "IPYTHONDIR": str(ipython_dir),
    }


def execute(notebook, timeout=600):
    """Execute an nbformat notebook in place, in notebooks/, on kernel python3."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=timeout, startup_timeout=120, kernel_name="python3",
                            record_timing=False, resources={"metadata": {"path": str(HERE)}})
    client.execute()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    return notebook


def coalesce_streams(outputs):
    """Join consecutive stdout (or stderr) chunks into one output, as Jupyter shows them."""
    joined = []
    for output in outputs:
        if (output.output_type == "stream" and joined and joined[-1].output_type == "stream"
                and joined[-1].name == output.name):
            joined[-1].text += output.text
        else:
            joined.append(output)
    return joined


def main(names):
    names = names or sorted(p.name for p in HERE.glob("*.ipynb"))
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        # Cells tagged "needs-torch" are saved with PyTorch's outputs; the test
        # compares a fresh run with them whenever torch is installed.
        raise SystemExit("notebooks/execute.py needs PyTorch installed (the cells tagged "
                         "needs-torch are saved with its outputs): "
                         "python -m pip install torch, its CPU build")
    with tempfile.TemporaryDirectory() as ipython_dir:
        os.environ.update(kernel_environment(ipython_dir))
        import nbformat

        for name in names:
            path = HERE / name
            notebook = nbformat.read(path, as_version=4)
            execute(notebook)
            notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                               "name": "python3"}
            nbformat.validate(notebook)
            nbformat.write(notebook, path)
            print("executed", name)
            for (figure_notebook, tag), filename in FIGURES.items():
                if figure_notebook == name:
                    write_figure(notebook, tag, DOCS / filename)


def write_figure(notebook, tag, target):
    """Save the PNG displayed by the cell tagged ``tag``."""
    for cell in notebook.cells:
        if tag in cell.metadata.get("tags", []):
            pngs = [o["data"]["image/png"] for o in cell.get("outputs", [])
                    if "image/png" in o.get("data", {})]
            if len(pngs) != 1:
                raise RuntimeError("cell %r displayed %d figures, expected 1" % (tag, len(pngs)))
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(base64.b64decode(pngs[0]))
            print("wrote", target.relative_to(HERE.parent))
            return
    raise RuntimeError("no cell tagged %r" % tag)


if __name__ == "__main__":
    main(sys.argv[1:])
