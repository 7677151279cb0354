"""The code cells of the seed notebooks, read from ../shared/seeds/ (the
plain-text seeds beside the clone, as in CI; RETROPROP_SEEDS overrides the
folder), word for word.

A seed's text has "In [N]:" before each code cell, then the code, then the
cell's printed output and the next markdown. The code is the longest part
after the marker that ends at a blank line (or at the next marker), compiles
without a warning, and has no expression statement other than a call (the
seeds' cells print with print(...)): prose does not parse, and printed
arrays, which may ("[[0.5 -0.1]\n [0.2 0.3]]" is a subscripted list), are
bare expressions.
"""
import ast
import os
import re
import warnings
from pathlib import Path

# <repo>/../shared/seeds; RETROPROP_SEEDS names another folder (a worktree
# that does not sit beside shared/).
SEEDS = Path(os.environ.get("RETROPROP_SEEDS") or
             Path(__file__).resolve().parent.parent.parent / "shared" / "seeds")

_MARK = re.compile(r"^In \[(\d+)\]:\s*$")


class SeedsMissing(Exception):
    """The seeds are not where they should be (the message says where)."""


def seed_path(number):
    """The seed's text file; SeedsMissing when it is absent (in the tests, a
    skip: see `skip_unless_seeds`)."""
    if not SEEDS.is_dir():
        raise SeedsMissing("the seeds are not beside the clone (%s): the suite runs from "
                           "an installed copy, or shared/ is missing" % SEEDS)
    found = sorted(SEEDS.glob("%03d_*.txt" % number))
    if not found:
        raise SeedsMissing("seed %03d is not in %s" % (number, SEEDS))
    return found[0]


def skip_unless_seeds(number):
    """seed_path(number), or a pytest skip naming the folder looked in."""
    import pytest
    try:
        return seed_path(number)
    except SeedsMissing as e:
        pytest.skip(str(e))


def cells(number):
    """{cell number: source} of seed `number`'s code cells."""
    lines = seed_path(number).read_text(encoding="utf-8").splitlines()
    marks = [(i, int(m.group(1))) for i, line in enumerate(lines)
             for m in [_MARK.match(line)] if m]
    out = {}
    for k, (start, n) in enumerate(marks):
        stop = marks[k + 1][0] if k + 1 < len(marks) else len(lines)
        body = lines[start + 1:stop]
        cuts = [j for j in range(len(body)) if not body[j].strip()] + [len(body)]
        best = None
        for j in cuts:
            text = "\n".join(body[:j])
            if not text.strip():
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    tree = ast.parse(text)
                    compile(tree, "<seed>", "exec")
            except (SyntaxError, SyntaxWarning):
                continue
            if any(isinstance(stmt, ast.Expr) and not isinstance(stmt.value, ast.Call)
                   for stmt in tree.body):
                continue
            best = text + "\n"
        if best is not None:
            out[n] = best
    return out
