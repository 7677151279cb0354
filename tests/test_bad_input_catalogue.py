"""docs/bad_input.md, row by row: the catalogue of bad inputs is its own test.

Each table row of the document has an input, the code of a call, the
exception it raises (or "nothing") and the message (or an expression the
result satisfies). Every row runs on fresh copies of the arrays the
document's python block defines; a raising row must raise that exception
with that message (word for word; "…" matches the rest of a message written
by NumPy), and leave every array of the block unchanged, the network's
weights and biases included.
"""
import ast
import builtins
import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "bad_input.md"
TEXT = DOC.read_text(encoding="utf-8")
SETUP = re.search(r"The arrays the rows use:\n\n```python\n(.*?)```", TEXT, re.S).group(1)
# Only the zero-stride stand-ins for enormous arrays are bigger than this
SNAPSHOT_LIMIT = 10**6


def parse_rows():
    """(id, input, code, raises, expected) for every table row, in order."""
    rows, section = [], None
    for line in TEXT.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("| ") or line.startswith("| Input ") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 4, f"a row of four cells: {line}"
        what, code, raises, expected = cells
        assert code.startswith("`") and code.endswith("`"), line
        assert expected.startswith("`") and expected.endswith("`"), line
        rows.append((f"{section}: {what}", what, code[1:-1], raises.strip("`"),
                     expected[1:-1].replace("\\|", "|")))
    return rows


ROWS = parse_rows()


def run(code, ns):
    """Execute code's statements in ns; return the value of the last one."""
    tree = ast.parse(code)
    *body, last = tree.body
    if body:
        exec(compile(ast.Module(body, []), "<row>", "exec"), ns)
    return eval(compile(ast.Expression(last.value), "<row>", "eval"), ns)


def arrays_of(ns):
    """Every array the setup made, with the network's parameters."""
    found = {}
    for name, value in ns.items():
        if isinstance(value, np.ndarray):
            found[name] = value
        for attr in ("weights", "biases"):
            for i, a in enumerate(getattr(value, attr, None) or []):
                if isinstance(a, np.ndarray):
                    found[f"{name}.{attr}[{i}]"] = a
    return found


def snapshot(a):
    if a.size > SNAPSHOT_LIMIT:  # a zero-stride view of one element
        assert 0 in a.strides
        return a[(0,) * a.ndim].copy()
    return a.copy()


def message_pattern(expected):
    """The documented message as a regex: literal text, "…" for NumPy's rest."""
    parts = expected.split("…")
    return "".join(re.escape(p) + (".*" if i < len(parts) - 1 else "")
                   for i, p in enumerate(parts)) + r"\Z"


def test_the_catalogue_has_every_kind_of_bad_input():
    sections = {row[0].split(":")[0] for row in ROWS}
    assert sections >= {"Wrong number of dimensions", "Shapes that do not match",
                        "Wrong dtypes", "Not arrays", "Read-only outputs",
                        "Outputs of the wrong shape or dtype",
                        "out= that shares memory with an input", "Enormous sizes",
                        "NaN and infinity (propagate as in NumPy)", "Learning rates",
                        "The trainer"}
    assert len(ROWS) >= 90
    assert len({row[0] for row in ROWS}) == len(ROWS), "two rows with the same input"


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_catalogue_row(row):
    _, what, code, raises, expected = row
    ns = {}
    exec(SETUP, ns)
    watched = arrays_of(ns)
    before = {name: snapshot(a) for name, a in watched.items()}
    if raises == "nothing":
        with np.errstate(all="raise", under="ignore"):  # no warning either (as np.exp,
            # sigmoid(-1000.) underflows, which NumPy ignores by default)
            ns["result"] = run(code, ns)
        assert np.all(eval(expected, ns)), f"{what}: {expected} is False for {ns['result']!r}"
        return
    exc_type = getattr(builtins, raises)
    with pytest.raises(exc_type) as info:
        run(code, ns)
    message = str(info.value).strip()
    assert re.match(message_pattern(expected), message, re.S), \
        f"{what}: the message is\n  {message}\nthe catalogue says\n  {expected}"
    for name, a in watched.items():
        np.testing.assert_array_equal(snapshot(a), before[name],
                                      err_msg=f"{what}: {name} changed")
