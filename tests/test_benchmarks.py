"""benchmarks/run.py --quick: every workload runs, and retroprop's rows (and
the plain C floor) end with NumPy's numbers. Speeds are never asserted: they
depend on the machine and on what else runs on it."""
import importlib.util
import json
import math
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
HAVE = {name: importlib.util.find_spec(name) is not None
        for name in ("torch", "numba", "sklearn", "matplotlib")}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
               "--json", str(out / "results.json"), "--markdown", str(out / "results.md")]
    if HAVE["matplotlib"]:
        command += ["--plot", str(out / "ratios.png")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "results.json").read_text())
    result["stdout"], result["out"] = done.stdout, out
    return result


def rows(report, workload, impl=None):
    return [r for r in report["rows"] if r["workload"] == workload
            and (impl is None or r["impl"].startswith(impl))]


def test_every_workload_ran(report):
    ran = {w["id"]: w["skipped"] for w in report["workloads"]}
    assert set(ran) >= {"W1", "W2", "W3", "W4", "W5a", "W5b", "W8"}
    # only W3 may be skipped (its data set comes from scikit-learn), and W8
    # (seed 001's cell comes from ../shared/seeds, beside the clone)
    skipped = {w for w, skipped in ran.items() if skipped}
    assert skipped - {"W8"} == (set() if HAVE["sklearn"] else {"W3"})
    assert "W8" not in skipped or "seeds" in ran["W8"]
    for w, skipped in ran.items():
        if skipped:
            continue
        kinds = {r["kind"] for r in rows(report, w)}
        assert {"numpy", "retroprop"} <= kinds, w
        for r in rows(report, w):
            assert r["times"] and all(t > 0 and math.isfinite(t) for t in r["times"]), r
            assert math.isfinite(r["ratio"]) and r["ratio"] > 0, r


def test_retroprop_equals_numpy(report):
    assert report["problems"] == []
    # W8's MLP.fit runs the correct derivative, not the cell's typo: timed only
    checked = [r for r in report["rows"] if r["kind"] in ("retroprop", "floor")
               and not (r["workload"] == "W8" and "MLP.fit" in r["impl"])]
    assert checked and all(r["equal"] is True for r in checked)
    for w in ("W1", "W2") + (("W3",) if HAVE["sklearn"] else ()):
        assert [r["equal"] for r in rows(report, w, "retroprop kernels")] == [True]
        assert [r["equal"] for r in rows(report, w, "retroprop MLP.fit")] == [True]
    assert sorted(r["dtype"] for r in rows(report, "W4", "retroprop")) == ["float32", "float64"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc for the plain C floor")
def test_plain_c_floor_ran_and_agrees(report):
    for w in ("W1", "W2"):
        assert [r["equal"] for r in rows(report, w, "plain C")] == [True]


def test_installed_peers_ran(report):
    if HAVE["torch"]:
        for w in ("W1", "W2", "W3", "W4"):
            assert sorted(r["dtype"] for r in rows(report, w, "PyTorch")) == ["float32",
                                                                              "float64"]
    if HAVE["numba"]:
        for w in ("W1", "W2", "W3"):
            (row,) = rows(report, w, "numba")
            assert row["compile_seconds"] is not None
    if HAVE["sklearn"]:
        (row,) = rows(report, "W3", "scikit-learn")
        assert 0 <= row["accuracy"] <= 1
    # test accuracy beside every W3 time, GFLOP/s beside every W4 time
    assert all(r["accuracy"] is not None for r in rows(report, "W3"))
    assert all(r["gflops"] > 0 for r in rows(report, "W4"))


def test_outputs(report):
    assert report["targets"] and "Targets" in report["stdout"]
    markdown = (report["out"] / "results.md").read_text()
    assert markdown.count("\n## W") == len(report["workloads"])
    if HAVE["matplotlib"]:
        assert (report["out"] / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
