"""Every Python example in README.md runs as written (in order, one namespace)."""
import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    assert abs(namespace["perdida"] - 0.6931472697889913) < 1e-14
    # The gradient check of "Use it in your notebook" names seed 003's two
    # mistakes, and the table shown below it is the one it prints.
    report = namespace["report"]
    assert [row.diagnosis for row in report] == ["transposed and sign flipped", "sign flipped",
                                                 "transposed and sign flipped", "sign flipped"]
    assert str(report) in README.read_text(encoding="utf-8")
    # "Optimisers, weight decay, ...": CS231n's, nnfs's and the AdamW net learn
    X2, labels = namespace["X2"], namespace["labels"]
    for name in ("cs231n", "nnfs", "adamw"):
        net = namespace[name]
        assert net.updates == 60 * 7 and (net.predict(X2) == labels).mean() > 0.95, name
