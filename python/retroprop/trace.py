"""One training step, every intermediate array named, to compare yours with.

``step`` runs one step of gradient descent of any network ``retroprop.MLP``
trains, on its NumPy twin ``retroprop.reference.MLP`` (the same model as
``gradcheck``'s), on copies of your parameters, and returns a ``Trace``: a
dict of the arrays a notebook prints along the way, in the order they are
computed::

    z1, a1, z2, a2, ...          forward pass, layer by layer (1-based)
    error                        a_L - y
    deltaL, ..., delta1          dL/dz of each layer, from the output down
    dW1, db1, dW2, db2, ...      the gradients
    W1_new, b1_new, ...          the parameters after W -= lr * dW
    loss, loss_after             the loss before and after the step

``compare(trace, z1=..., delta1=...)`` names the first of your arrays that
differs from the trace's, so you know where your computation goes wrong::

    >>> import numpy as np
    >>> from retroprop import trace
    >>> W = np.array([[0.5, -0.5], [0.25, 1.0]]); X = np.array([[1.0, 2.0]])
    >>> t = trace.step([W], None, X, np.array([[0.0, 1.0]]), lr=0.1)
    >>> print(trace.compare(t, z1=X @ W, a1=1 / (1 + np.exp(-X @ W)), error=t["a1"]))
    error differs: max abs error 1.0e+00; everything before it matches (z1, a1)
"""
import html
import math

import numpy as np

from . import diagnosis, gradcheck

__all__ = ["Comparison", "Trace", "compare", "step"]

# Seed 003's names for a network with one hidden layer (rows layout).
SEED_003_NAMES = {
    "z_h": "z1", "a_h": "a1", "z_out": "z2", "a_out": "a2",
    "delta": "delta2", "delta_h": "delta1",
    "grad_w_h": "dW1", "grad_b_h": "db1", "grad_w_out": "dW2", "grad_b_out": "db2",
    "wh": "W1_new", "bh": "b1_new", "w_out": "W2_new", "b_out": "b2_new",
}

# float64 kernels and NumPy agree to a few ulps; float32 to its rounding.
_RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}


def _first_values(value, count=4):
    flat = np.asarray(value).ravel()
    text = ", ".join("%.8g" % v for v in flat[:count])
    return text + (", ..." if flat.size > count else "")


class Trace(dict):
    """The named arrays of one training step, in the order they are computed.

    A dict: ``t["a2"]``, ``list(t)``. Printed (or shown in Jupyter) as a table
    of name, shape and first values. For a network with one hidden layer,
    seed 003's names work too: ``t["a_out"]`` is ``t["a2"]``, ``t["grad_w_h"]``
    is ``t["dW1"]``, ``t["wh"]`` is ``t["W1_new"]`` (see ``t.aliases``).
    Attributes: lr, layout, loss_name, n_layers.
    """

    def __init__(self, items, *, lr, layout, loss_name, n_layers, aliases=None):
        super().__init__(items)
        self.lr, self.layout, self.loss_name, self.n_layers = lr, layout, loss_name, n_layers
        self.aliases = dict(aliases or {})

    def __missing__(self, key):
        if key in self.aliases:
            return self[self.aliases[key]]
        raise KeyError("%r is not in the trace; its names are %s"
                       % (key, ", ".join(self)))

    def resolve(self, name):
        """The trace's own name for name (itself, or the name an alias stands for)."""
        if name in self:
            return name
        if name in self.aliases:
            return self.aliases[name]
        raise KeyError("%r is not in the trace; its names are %s%s"
                       % (name, ", ".join(self),
                          " (or seed 003's: %s)" % ", ".join(self.aliases)
                          if self.aliases else ""))

    def _rows(self):
        return [(name, "scalar" if np.ndim(v) == 0 else str(np.shape(v)), _first_values(v))
                for name, v in self.items()]

    def _title(self):
        return ("one training step: %d layers, layout %r, loss %s, lr %g"
                % (self.n_layers, self.layout, self.loss_name, self.lr))

    def __str__(self):
        rows = self._rows()
        w0 = max(len("name"), *(len(r[0]) for r in rows))
        w1 = max(len("shape"), *(len(r[1]) for r in rows))
        lines = [self._title(), "%s  %s  first values" % ("name".ljust(w0), "shape".ljust(w1))]
        lines += ["%s  %s  %s" % (a.ljust(w0), b.ljust(w1), c) for a, b, c in rows]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        cells = "".join("<tr><td><code>%s</code></td><td>%s</td><td style='text-align:left'>"
                        "%s</td></tr>" % tuple(html.escape(c) for c in r) for r in self._rows())
        return ("<div><p>%s</p><table><thead><tr><th>name</th><th>shape</th>"
                "<th>first values</th></tr></thead><tbody>%s</tbody></table></div>"
                % (html.escape(self._title()), cells))


def step(weights, biases, X, Y, *, lr, layout="rows", activation="sigmoid",
         output_activation=None, loss="half_sum_squared_error", average=None, eps=None):
    """One step of gradient descent of an MLP, every array kept, as a Trace.

    The network, the loss and the arguments are those of
    ``retroprop.gradcheck.network_gradients`` (any network ``retroprop.MLP``
    trains; the loss "half_sum_squared_error" ``0.5 * np.sum((A - Y)**2)`` by
    default, or "sum_squared_error", "mse", "bce", "ce" with their eps). The
    step is ``W_new = W - lr * dW`` with the true gradient, on copies: your
    arrays are not modified.

    Returns a Trace: z1, a1, ..., error (a_L - y), deltaL ... delta1 (dL/dz,
    not averaged), dW1, db1, ... (averaged if average), W1_new, b1_new, ...,
    loss, loss_after (the loss as MLP.loss computes it). Bias entries are
    left out for layers without a bias.

    Seed 003 (sigmoid, half the summed squared error, lr 0.5):

    >>> import numpy as np
    >>> wh = np.array([[0.15, 0.25], [0.20, 0.30]]); bh = np.array([0.35, 0.35])
    >>> w_out = np.array([[0.40, 0.50], [0.45, 0.55]]); b_out = np.array([0.60, 0.60])
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]]); y = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])
    >>> t = step([wh, w_out], [bh, b_out], X, y, lr=0.5)
    >>> t["a2"][0].round(8), round(t["loss"], 10), round(t["loss_after"], 10)
    (array([0.75000237, 0.77134977]), 1.2915201744, 1.2243474114)
    """
    lr = float(lr)
    if not math.isfinite(lr):
        raise ValueError("lr must be a finite number, not %r" % lr)
    net = gradcheck.network(weights, biases, X, Y, layout=layout, activation=activation,
                            output_activation=output_activation, loss=loss, average=average,
                            eps=eps, where="trace.step")
    L = len(net.weights)
    passes = net.passes(X, Y)
    items = []
    for layer in range(1, L + 1):
        items += [("z%d" % layer, passes["z%d" % layer]), ("a%d" % layer, passes["a%d" % layer])]
    items.append(("error", passes["error"]))
    items += [("delta%d" % layer, passes["delta%d" % layer]) for layer in range(L, 0, -1)]
    for layer in range(1, L + 1):
        items.append(("dW%d" % layer, passes["dW%d" % layer]))
        if passes["db%d" % layer] is not None:
            items.append(("db%d" % layer, passes["db%d" % layer]))
    loss_before = float(passes["loss"])
    for layer in range(L):  # the network's own copies: the caller's arrays stay as they are
        net.weights[layer] -= lr * passes["dW%d" % (layer + 1)]
        items.append(("W%d_new" % (layer + 1), net.weights[layer]))
        if net.biases is not None and net.biases[layer] is not None:
            net.biases[layer] -= lr * passes["db%d" % (layer + 1)]
            items.append(("b%d_new" % (layer + 1), net.biases[layer]))
    items += [("loss", loss_before), ("loss_after", float(net.passes(X, Y)["loss"]))]
    aliases = {}
    if L == 2:
        aliases = {alias: name for alias, name in SEED_003_NAMES.items()
                   if name in dict(items)}
        aliases["delta_out"] = "error"
    return Trace(items, lr=lr, layout=layout, loss_name=net.loss_name, n_layers=L,
                 aliases=aliases)


class Comparison:
    """The outcome of ``compare``: prints as its message.

    ok : every given array matches. first : the trace's name of the first
    array (in trace order) that differs, or None. results : a list of
    (trace name, your name, matches, detail) in trace order. message : the
    text.
    """

    def __init__(self, results, message):
        self.results = results
        self.message = message
        wrong = [r for r in results if not r[2]]
        self.ok = not wrong
        self.first = wrong[0][0] if wrong else None

    def __str__(self):
        return self.message

    __repr__ = __str__

    def _repr_html_(self):
        color = "#1a7f37" if self.ok else "#cf222e"
        return "<p style='color:%s'>%s</p>" % (color, html.escape(self.message))


def _compare_one(yours, want, rtol, atol):
    """(matches, detail) for your array against the trace's."""
    try:
        yours = np.asarray(yours, dtype=np.float64)
    except (TypeError, ValueError):
        return False, "is not an array of numbers"
    want = np.asarray(want, dtype=np.float64)

    def close(a, b):
        with np.errstate(invalid="ignore", over="ignore"):
            scale = max(float(np.max(np.abs(b), initial=0.0)), np.finfo(np.float64).tiny)
            return bool(np.all(np.abs(a - b) <= atol + rtol * scale))

    # the layouts and signs diagnosis names (the same as gradcheck's)
    found = diagnosis.first_match(yours, want, close)
    label, flipped = found if found is not None else (None, None)
    if yours.shape != want.shape:
        text = "has shape %s where the trace's is %s" % (yours.shape, want.shape)
        if label == "transposed":
            text += ("; minus its transpose matches (transposed and sign flipped)" if flipped
                     else "; its transpose matches (transposed)")
        elif label == "reshape" and not flipped:
            text += "; the values match once reshaped"
        return False, text
    if close(yours, want):
        return True, "matches"
    with np.errstate(invalid="ignore", over="ignore"):
        err = float(np.max(np.abs(yours - want), initial=0.0))
    text = "max abs error %.1e" % err if math.isfinite(err) else "contains nan or inf"
    if label is None and flipped:
        text += "; minus it matches (sign flipped)"
    elif label == "transposed":
        text += ("; minus its transpose matches (transposed and sign flipped)" if flipped
                 else "; its transpose matches (transposed)")
    return False, text


def compare(trace, arrays=None, /, *, rtol=None, atol=0.0, **named):
    """Name the first of your arrays that differs from the trace's; a Comparison.

    Give your intermediates by the trace's names (z1, a1, ..., error,
    delta2, delta1, dW1, db1, ..., W1_new, ..., loss, loss_after; for one
    hidden layer also seed 003's: z_h, a_h, z_out, a_out, delta, delta_h,
    grad_w_h, ...), as keywords or as one dict, in any order. They are
    examined in the trace's order; an array matches when
    ``max|yours - trace| <= atol + rtol * max|trace|`` (rtol 1e-9 for float64,
    1e-4 when the trace is float32). Shape mismatches are named, and a
    transposed or sign-flipped array is recognised as such.

    The result prints as, e.g.::

        delta1 differs: max abs error 3.1e-02; everything before it matches (z1, a1, ...)
        all 6 given arrays match (z1, a1, z2, a2, error, delta2)

    >>> import numpy as np
    >>> W = np.array([[0.5, -0.5], [0.25, 1.0]]); X = np.array([[1.0, 2.0], [0.0, 1.0]])
    >>> t = step([W], None, X, np.array([[0.0, 1.0], [1.0, 0.0]]), lr=0.1)
    >>> compare(t, {"z1": X @ W, "dW1": t["dW1"].T})
    dW1 differs: max abs error 2.1e-01; its transpose matches (transposed); everything before it matches (z1)
    """
    given = dict(arrays or {})
    overlap = set(given) & set(named)
    if overlap:
        raise ValueError("given twice: %s" % ", ".join(sorted(overlap)))
    given.update(named)
    if not given:
        raise ValueError("give at least one array to compare, e.g. compare(trace, a1=a1)")
    by_name = {}
    for yours_name in given:
        name = trace.resolve(yours_name)
        if name in by_name:
            raise ValueError("%s and %s are the same array of the trace (%s)"
                             % (by_name[name], yours_name, name))
        by_name[name] = yours_name
    if rtol is None:
        dtypes = {np.asarray(v).dtype for v in trace.values()}
        rtol = _RTOL[np.dtype(np.float32)] if np.dtype(np.float32) in dtypes \
            else _RTOL[np.dtype(np.float64)]

    results = []
    for name in trace:  # trace order
        if name in by_name:
            ok, detail = _compare_one(given[by_name[name]], trace[name], rtol, atol)
            results.append((name, by_name[name], ok, detail))

    def label(name, yours_name):
        return name if name == yours_name else "%s (%s)" % (yours_name, name)

    wrong = [i for i, r in enumerate(results) if not r[2]]
    if not wrong:
        message = "all %d given arrays match (%s)" % (
            len(results), ", ".join(label(r[0], r[1]) for r in results))
        return Comparison(results, message)
    i = wrong[0]
    name, yours_name, _, detail = results[i]
    message = "%s differs: %s%s" % (label(name, yours_name),
                                    "it " if detail.startswith(("has", "is")) else "", detail)
    before = [label(r[0], r[1]) for r in results[:i]]
    message += ("; everything before it matches (%s)" % ", ".join(before) if before
                else "; it is the first array you gave")
    later_wrong = [label(results[j][0], results[j][1]) for j in wrong[1:]]
    if later_wrong:
        message += "; later ones that differ too: %s" % ", ".join(later_wrong)
    return Comparison(results, message)
