"""Gradient checking: hold your gradients to central differences.

The derivative of the loss with respect to one number p is, without any
formula::

    (loss(p + h) - loss(p - h)) / (2 * h)

``numeric_gradient`` does this for every entry of your parameter arrays,
``check`` compares the result with the gradients you derived and prints a
table; when a gradient is wrong it says which common mistake explains it
(transposed, sign flipped, a missing or extra 1/m, a derivative taken of z
instead of a, a wrong shape...). ``check_network`` does all of this for any
network ``retroprop.MLP`` trains (every activation and loss of
``retroprop.registry``, softmax outputs, both layouts, missing biases,
averaged or summed), on its NumPy twin ``retroprop.reference.MLP``, and
``network_gradients`` gives that network's correct gradients::

    >>> import numpy as np
    >>> from retroprop import gradcheck
    >>> W = np.array([[0.15, 0.25], [0.20, 0.30]])
    >>> X = np.array([[0., 1.], [1., 0.]])
    >>> Y = np.array([[0., 1.], [1., 0.]])
    >>> report = gradcheck.check_network([W], None, X, Y, [-W])
    >>> report.ok
    False
"""
import html
import math
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import diagnosis
from . import reference as _reference
from . import registry as _registry
from .network import MLP as _MLP

__all__ = [
    "GradcheckReport",
    "GradcheckRow",
    "check",
    "check_network",
    "network",
    "network_gradients",
    "numeric_gradient",
]

# Central-difference step, relative to max(1, |p|). 1e-6 balances the h**2
# truncation error against the loss's rounding (eps / h) in float64; float32
# rounds 2**29 times coarser, so its step is larger (near eps32 ** (1/3)).
_STEP = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 2.0 ** -9,
         np.dtype(np.float16): 2.0 ** -5}

# Relative tolerance of the comparison; the absolute one comes from the
# loss's own rounding (see check).
_RTOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 2e-2}

# How many times the loss's rounding error the absolute tolerance allows.
_NOISE_SAFETY = {np.dtype(np.float64): 100.0, np.dtype(np.float32): 30.0}

# With float32 gradients, each row's absolute tolerance also allows this
# fraction of the row's largest entry.
_FLOAT32_FLOOR = 1e-3


# --------------------------------------------------------------- structure

def _flatten(params, what):
    """(list of items, their names, a function giving back the same structure)."""
    if isinstance(params, np.ndarray):
        return [params], [what], lambda items: items[0]
    if isinstance(params, dict):
        keys = list(params)
        return [params[k] for k in keys], [str(k) for k in keys], \
            lambda items: dict(zip(keys, items))
    if isinstance(params, (list, tuple)):
        return list(params), ["%s[%d]" % (what, i) for i in range(len(params))], \
            lambda items: tuple(items) if isinstance(params, tuple) else list(items)
    raise TypeError("%s must be a NumPy array, a list or a dict of arrays, not %s"
                    % (what, type(params).__name__))


def _aligned(grads, params, what):
    """grads as a list in the order of params (dicts are matched by key)."""
    if isinstance(grads, dict) and isinstance(params, dict):
        missing = [k for k in params if k not in grads]
        if missing:
            raise ValueError("%s has no entry for %s" % (what, ", ".join(map(str, missing))))
        return [grads[k] for k in params]
    if isinstance(grads, dict):
        return list(grads.values())
    return _flatten(grads, what)[0]


def _check_param(p, name):
    if not isinstance(p, np.ndarray):
        raise TypeError("%s is a %s: pass the NumPy arrays that loss_fn reads, so they can "
                        "be moved in place" % (name, type(p).__name__))
    if p.dtype not in _STEP:
        raise TypeError("%s has dtype %s: parameters must be float64 or float32 arrays "
                        "(an int array cannot be moved by a small step)" % (name, p.dtype))
    if not p.flags.writeable:
        raise ValueError("%s is read-only: numeric_gradient moves each entry in place "
                         "and puts it back" % name)


def _loss(loss_fn):
    value = loss_fn()
    try:
        number = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        number = None
    if number is None or number.size != 1:
        raise TypeError("loss_fn() must return one number, it returned %r" % (value,))
    return float(number.reshape(()))  # also a (1,) or (1, 1) array, without NumPy's warning


# ------------------------------------------------------- numeric gradient

def numeric_gradient(loss_fn, params, h=None):
    """Central differences of ``loss_fn()`` with respect to every entry of params.

    For each entry p of each array: ``(loss(p + h) - loss(p - h)) / (2 h)``.
    The arrays in ``params`` are moved in place (loss_fn must read those very
    arrays, not copies) and every entry is put back bit for bit, even if
    loss_fn raises.

    params : a float array, or a list / tuple / dict of them.
    h : the step. None (default) takes ``1e-6 * max(1, |p|)`` for float64
        entries and ``2**-9 * max(1, |p|)`` for float32 ones; a number is used
        as is for every entry. The division uses the step actually stored
        (``float(p + h) - float(p - h)``, in float64), so rounding of a
        float32 entry does not bias the result.

    Returns float64 arrays of the parameters' shapes, in the same structure.

    >>> import numpy as np
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]]); x = np.array([1.0, -2.0])
    >>> numeric_gradient(lambda: 0.5 * x @ A @ x, [x])[0].round(6)  # A @ x
    array([ 0., -5.])
    """
    items, names, rebuild = _flatten(params, "params")
    for p, name in zip(items, names):
        _check_param(p, name)
    if h is not None:
        h = float(h)
        if not (h > 0 and math.isfinite(h)):
            raise ValueError("h must be a positive finite number, not %r" % h)
    grads = []
    for p, name in zip(items, names):
        g = np.zeros(p.shape, dtype=np.float64)
        base = _STEP[p.dtype]
        for index in np.ndindex(p.shape):
            original = p[index].copy()  # a NumPy scalar: restored bit for bit
            x = float(original)
            if not math.isfinite(x):
                g[index] = math.nan
                continue
            step = h if h is not None else base * max(1.0, abs(x))
            try:
                p[index] = x + step
                x_plus = float(p[index])
                loss_plus = _loss(loss_fn)
                p[index] = x - step
                x_minus = float(p[index])
                loss_minus = _loss(loss_fn)
            finally:
                p[index] = original
            if x_plus == x_minus:
                raise ValueError("h = %g does not move %s%s = %r in %s; use a larger h"
                                 % (step, name, list(map(int, index)), x, p.dtype))
            with np.errstate(invalid="ignore", over="ignore"):
                g[index] = (loss_plus - loss_minus) / (x_plus - x_minus)
        grads.append(g)
    return rebuild(grads)


# ---------------------------------------------------------------- report

@dataclass
class GradcheckRow:
    """One parameter's line of a gradient check.

    passed is True (matches), False (wrong) or None (not tested: both
    gradients are zero, so the check proves nothing). ``numeric`` and
    ``given`` hold the two gradients compared.
    """

    name: str
    shape: tuple
    grad_shape: Optional[tuple]
    max_abs_error: float
    max_rel_error: float
    passed: Optional[bool]
    diagnosis: str
    numeric: np.ndarray = field(repr=False, default=None)
    given: Optional[np.ndarray] = field(repr=False, default=None)

    @property
    def result(self):
        """'ok', 'WRONG' or 'not tested'."""
        return {True: "ok", False: "WRONG", None: "not tested"}[self.passed]


def _fmt_err(x):
    return "-" if x is None or not math.isfinite(x) else "%.1e" % x


def _fmt_shape(shape):
    return "-" if shape is None else str(tuple(shape))


class GradcheckReport(list):
    """The rows of a gradient check (a list of GradcheckRow), printed as a table.

    ``report.ok`` is True when no gradient is wrong; ``report.assert_ok()``
    raises AssertionError with the table otherwise. ``report["W1"]`` finds a
    row by name. Rows whose gradients are both zero are "not tested": they do
    not make the report fail, and the table says so.
    """

    def __init__(self, rows, *, dtype, rtol, atol, loss, floor=0.0):
        super().__init__(rows)
        self.dtype = np.dtype(dtype)
        self.rtol = rtol
        self.atol = atol
        self.floor = floor
        self.loss = loss

    def __getitem__(self, key):
        if isinstance(key, str):
            for row in self:
                if row.name == key:
                    return row
            raise KeyError("no row named %r; rows: %s" % (key, ", ".join(r.name for r in self)))
        return super().__getitem__(key)

    @property
    def ok(self):
        """True when no gradient is wrong (rows "not tested" do not count)."""
        return all(row.passed is not False for row in self)

    @property
    def failed(self):
        """The rows whose gradient is wrong."""
        return [row for row in self if row.passed is False]

    @property
    def untested(self):
        """The rows where both gradients are zero."""
        return [row for row in self if row.passed is None]

    def assert_ok(self):
        """Raise AssertionError, with the table, if any gradient is wrong.

        >>> import numpy as np
        >>> x = np.array([1.0, 2.0])
        >>> check(lambda: float(x @ x), [x], [2 * x]).assert_ok().ok  # returns the report
        True
        >>> check(lambda: float(x @ x), [x], [x]).assert_ok()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        AssertionError: 1 of 1 gradients wrong ...
        """
        if not self.ok:
            raise AssertionError("%d of %d gradients wrong (%s)\n%s"
                                 % (len(self.failed), len(self),
                                    ", ".join(r.name for r in self.failed), self))
        return self

    def _summary(self):
        wrong, untested = self.failed, self.untested
        if wrong:
            text = "%d of %d gradients wrong: %s" % (len(wrong), len(self),
                                                    ", ".join(r.name for r in wrong))
        else:
            text = "all %d gradients match the central differences" % (len(self) - len(untested))
        if untested:
            text += "; not tested (both gradients zero): %s" % ", ".join(r.name for r in untested)
        return text

    def _header(self):
        floor = (" + %g x the row's largest entry" % self.floor) if self.floor else ""
        return ("gradient check against central differences (%s tolerances): rtol %.0e, "
                "atol %.1e%s; loss %.10g"
                % (self.dtype.name, self.rtol, self.atol, floor, self.loss))

    def __str__(self):
        head = ("name", "shape", "max abs err", "max rel err", "result", "diagnosis")
        lines = [(r.name, _fmt_shape(r.shape), _fmt_err(r.max_abs_error),
                  _fmt_err(r.max_rel_error), r.result, r.diagnosis) for r in self]
        widths = [max(len(head[i]), *(len(line[i]) for line in lines)) if lines else len(head[i])
                  for i in range(len(head))]
        out = [self._header(), "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
               "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
        out.append(self._summary())
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        color = {True: "#1a7f37", False: "#cf222e", None: "#9a6700"}
        cells = "".join(
            "<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td>"
            "<td style='color:%s'><b>%s</b></td><td style='text-align:left'>%s</td></tr>"
            % (html.escape(r.name), html.escape(_fmt_shape(r.shape)), _fmt_err(r.max_abs_error),
               _fmt_err(r.max_rel_error), color[r.passed], r.result, html.escape(r.diagnosis))
            for r in self)
        return ("<div><p>%s</p><table><thead><tr><th>name</th><th>shape</th>"
                "<th>max abs err</th><th>max rel err</th><th>result</th><th>diagnosis</th>"
                "</tr></thead><tbody>%s</tbody></table><p>%s</p></div>"
                % (html.escape(self._header()), cells, html.escape(self._summary())))


# ------------------------------------------------------------- diagnosis

def _join(parts):
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _near_integer(x):
    k = round(x)
    return k if k >= 2 and abs(x - k) <= 1e-6 * k else None


class _Comparer:
    """Matches a user's gradient against transformations of reference gradients."""

    def __init__(self, rtol, atol, n_samples):
        self.rtol, self.atol, self.m = rtol, atol, n_samples

    def close(self, g, t):
        with np.errstate(invalid="ignore", over="ignore"):
            return bool(np.all(np.abs(g - t) <= self.atol + self.rtol * np.abs(t)))

    def factors(self):
        """(factor, words) pairs, simplest first: the signs, then 1/m's."""
        out = list(diagnosis.SIGNS)
        m = self.m
        if m is not None and m > 1:
            missing = "missing 1/m factor (yours is m = %d times too large)" % m
            extra = "extra 1/m factor (yours is m = %d times too small)" % m
            out += [(float(m), [missing]), (-float(m), ["sign flipped", missing]),
                    (1.0 / m, [extra]), (-1.0 / m, ["sign flipped", extra])]
        return out

    def constant(self, g, t):
        """Words for g == c * t with a fitted constant c, or None."""
        if np.count_nonzero(np.abs(t) > self.atol) < 2:
            return None  # one number is always some multiple of another
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            c = float(np.sum(g * t) / np.sum(t * t))
        if not math.isfinite(c) or c == 0 or not self.close(g, c * t):
            return None
        words = ["sign flipped"] if c < 0 else []
        size = abs(c)
        hints = []
        k = _near_integer(size)
        if k is not None and self.m is None:
            hints.append("a missing 1/m factor with m = %d?" % k)
        k_inv = _near_integer(1 / size)
        if k_inv is not None and self.m is None:
            hints.append("an extra 1/m factor with m = %d?" % k_inv)
        if abs(size - 2) <= 1e-6 * 2:
            hints.append("the 1/2 of a half squared error?")
        text = "off by a constant factor: yours = %.6g x the true gradient" % size
        if hints:
            text += " (%s)" % "; ".join(hints)
        return words + [text]

    def diagnose(self, g, n, candidates):
        """(words naming the mistake that turns a reference into g, or None; options).

        candidates: (label, reference array, is_known_mistake) triples, the
        first being the numeric gradient itself (label None). options lists
        every known mistake that matches, as (label, words): one row alone
        may not tell them apart (check picks the one most rows agree on).
        """
        same = g.shape == n.shape
        # as it is, transposed (not a symmetric one), reshaped: diagnosis's layouts
        orientations = diagnosis.orientations(g.shape, n, self.close)
        shape_note = ("wrong shape: yours is %s, the parameter is %s"
                      % (_fmt_shape(g.shape), _fmt_shape(n.shape)))

        def words(orientation, factor_words, label):
            parts = []
            if orientation == "transposed":
                parts.append("transposed")
            parts += factor_words
            text = _join(parts)
            if orientation == "reshape":
                text = shape_note + "; the values match once reshaped" + \
                    (" if " + text if text else "")
            elif orientation == "transposed" and not same:
                text += " (%s)" % shape_note
            if label:
                text = label + ("; also " + text if text else "")
            return text

        options = []
        for i, (label, ref, known) in enumerate(candidates):
            if ref is None or ref.shape != n.shape:
                continue
            found = None
            for orientation, turn in orientations:
                t = turn(ref)
                for factor, factor_words in self.factors():
                    if i == 0 and orientation is None and factor == 1.0:
                        continue  # that is the "passed" test, already failed
                    if self.close(g, factor * t):
                        found = words(orientation, factor_words, label)
                        break
                if found:
                    break
            if found and not known:
                return found, []
            if found:
                options.append((label, found))
        if options:
            return options[0][1], options
        for orientation, turn in orientations:
            found = self.constant(g, turn(n))
            if found:
                return words(orientation, found, None), []
        return (shape_note if not same else None), []


def _describe_difference(g, n, bad):
    count = int(np.count_nonzero(bad))
    with np.errstate(invalid="ignore"):
        where = np.unravel_index(int(np.nanargmax(np.where(bad, np.abs(g - n), -1.0))), g.shape)
    return ("wrong values: %d of %d entries differ; the largest at %s: yours %.6g, numeric %.6g"
            % (count, g.size, list(map(int, where)), g[where], n[where]))


def _compare_row(name, g_raw, n, comparer, candidates, noise):
    """(the row, the known mistakes that would explain it)."""
    shape = n.shape
    if g_raw is None:
        return GradcheckRow(name, shape, None, math.nan, math.nan, False,
                            "no gradient given (None)", n, None), []
    g = np.asarray(g_raw, dtype=np.float64)
    row = lambda err_abs, err_rel, passed, text, options=(): (GradcheckRow(  # noqa: E731
        name, shape, g.shape, err_abs, err_rel, passed, text, n, g), list(options))
    if not np.all(np.isfinite(n)):
        return row(math.nan, math.nan, False,
                   "the numeric gradient is not finite: the loss is nan or inf near these "
                   "parameters")
    if g.shape != shape:
        return row(math.nan, math.nan, False, *comparer.diagnose(g, n, candidates))
    if not np.all(np.isfinite(g)):
        return row(math.nan, math.nan, False, "your gradient contains nan or inf")
    diff = np.abs(g - n)
    top = np.maximum(np.abs(g), np.abs(n))
    max_abs = float(diff.max()) if diff.size else 0.0
    measurable = top > noise
    max_rel = float((diff[measurable] / top[measurable]).max()) if measurable.any() else 0.0
    if not measurable.any():
        return row(max_abs, max_rel, None,
                   "not tested: both gradients are zero (the loss does not change when "
                   "%s moves; does loss_fn read this very array?)" % name)
    if not np.any(g):
        return row(max_abs, max_rel, False,
                   "your gradient is all zeros, but the loss does change with %s" % name)
    bad = diff > comparer.atol + comparer.rtol * np.abs(n)
    if not bad.any():
        return row(max_abs, max_rel, True, "")
    text, options = comparer.diagnose(g, n, candidates)
    return row(max_abs, max_rel, False, text or _describe_difference(g, n, bad), options)


def check(loss_fn, params, grads, names=None, rtol=None, atol=None, *,
          n_samples=None, known_mistakes=None, h=None):
    """Compare your gradients with central differences; returns a GradcheckReport.

    loss_fn() -> float reads the arrays in ``params`` (a list or dict of
    float arrays, moved in place and put back exactly); ``grads`` are your
    gradients, in the same order (or with the same keys). Nothing is raised
    by default: print the report, look at ``report.ok``, or call
    ``report.assert_ok()``.

    A gradient passes when ``|yours - numeric| <= atol + rtol * |numeric|``
    entry by entry. rtol defaults to 1e-5 (2e-2 when any parameter or
    gradient is float32); atol defaults to 100 times the rounding error of
    the loss divided by the step (30 times for a float32 loss), the smallest
    difference central differences can resolve, plus, for float32
    gradients, 1e-3 times the row's largest entry.

    A wrong gradient gets a diagnosis when a transformation of the numeric
    one matches it: "transposed", "sign flipped", "transposed and sign
    flipped", "missing 1/m factor" / "extra 1/m factor" (give ``n_samples``,
    the m of your batch; without it any constant ratio is reported), "wrong
    shape", "matches the gradient of <other parameter>", or one of
    ``known_mistakes``: a dict {description: gradients computed with that
    mistake, in params' structure} (check_network fills it with "derivative
    taken of Z instead of A" and the reverse). An all-zero gradient never
    passes when the loss does change; when both are zero the row is "not
    tested".

    names : row names (default: the dict's keys, else params[0], params[1]...).
    h : the step of numeric_gradient.

    >>> import numpy as np
    >>> W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> report = check(lambda: float(np.sum(W ** 2)), {"W": W}, {"W": 2 * W.T})
    >>> report["W"].diagnosis
    'transposed (wrong shape: yours is (3, 2), the parameter is (2, 3))'
    """
    items, default_names, _ = _flatten(params, "params")
    grad_items = _aligned(grads, params, "grads")
    if len(grad_items) != len(items):
        raise ValueError("%d parameters but %d gradients" % (len(items), len(grad_items)))
    if names is None:
        names = default_names
    names = [str(n) for n in names]
    if len(names) != len(items):
        raise ValueError("%d names for %d parameters" % (len(names), len(items)))
    for p, name in zip(items, names):
        _check_param(p, name)

    # float32 parameters: the loss is computed, and rounds, in float32.
    # float32 gradients: yours carry float32 rounding, and float32 sums that
    # cancel lose digits, hence a floor relative to the row's largest entry.
    params32 = any(p.dtype != np.float64 for p in items)
    grads32 = any(isinstance(g, np.ndarray) and g.dtype in (np.float32, np.float16)
                  for g in grad_items)
    mode = np.dtype(np.float32 if params32 or grads32 else np.float64)
    loss_dtype = np.dtype(np.float32 if params32 else np.float64)
    loss0 = _loss(loss_fn)
    numeric = numeric_gradient(loss_fn, list(items), h=h)
    if rtol is None:
        rtol = _RTOL[mode]
    floor = 0.0
    if atol is None:
        step = h if h is not None else min(_STEP[p.dtype] for p in items) if items else 1.0
        scale = abs(loss0) if math.isfinite(loss0) else 1.0
        atol = _NOISE_SAFETY[loss_dtype] * np.finfo(loss_dtype).eps * scale / step
        floor = _FLOAT32_FLOOR if mode == np.float32 else 0.0

    mistakes = []
    for label, variant in (known_mistakes or {}).items():
        variant = _aligned(variant, params, "known_mistakes[%r]" % (label,))
        if len(variant) != len(items):
            raise ValueError("known_mistakes[%r] has %d gradients for %d parameters"
                             % (label, len(variant), len(items)))
        mistakes.append((label, [None if v is None else np.asarray(v, dtype=np.float64)
                                 for v in variant]))

    rows = []
    for i, (name, g, n) in enumerate(zip(names, grad_items, numeric)):
        top = float(np.max(np.abs(n), initial=0.0)) if np.all(np.isfinite(n)) else 0.0
        comparer = _Comparer(float(rtol), float(atol) + floor * top, n_samples)
        candidates = [(None, n, False)]
        candidates += [("matches the gradient of %s, not of %s (swapped?)" % (other, name),
                        numeric[j], False) for j, other in enumerate(names)
                       if j != i and numeric[j].shape == n.shape]
        candidates += [(label, variant[i], True) for label, variant in mistakes]
        rows.append(_compare_row(name, g, n, comparer, candidates, float(atol)))
    # A mistake in the output layer alone gives the output's gradients the
    # same values as that mistake made in every layer: name, for each row,
    # the mistake that explains the most rows.
    votes = {}
    for _, options in rows:
        for label, _ in options:
            votes[label] = votes.get(label, 0) + 1
    for row, options in rows:
        if len(options) > 1:
            row.diagnosis = max(options, key=lambda option: votes[option[0]])[1]
    rows = [row for row, _ in rows]
    return GradcheckReport(rows, dtype=mode, rtol=float(rtol), atol=float(atol), loss=loss0,
                           floor=floor)


# -------------------------------------------------------------- networks


def _float_copy(a, name, dtype=None):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError("%s has dtype %s; expected numbers" % (name, a.dtype))
    if dtype is None:
        dtype = np.float32 if a.dtype in (np.float16, np.float32) else np.float64
    return np.array(a, dtype=dtype, copy=True)


def network(weights, biases, X, Y, *, layout="rows", activation="sigmoid",
            output_activation=None, loss="half_sum_squared_error", average=None, eps=None,
            dtype=None, where="gradcheck"):
    """The network gradcheck and trace run: ``retroprop.reference.MLP`` (the
    NumPy twin of MLP) on float copies of your parameters (of ``dtype``, or
    float32 / float64 as yours are), checked by MLP's own rules and the C
    binding's (the shapes of the parameters, X and Y).

    The arguments are MLP's: any activation per layer (a list, one name per
    layer), any loss of ``retroprop.registry.LOSSES`` with its averaging and
    eps, either layout, biases None or one array or None per layer.

    >>> import numpy as np
    >>> net = network([np.eye(2)], None, np.ones((3, 2)), np.zeros((3, 2)))
    >>> net.loss_name, net.activation_names, net.average
    ('half_sum_squared_error', ['sigmoid'], False)
    """
    for what, params in (("weights", weights), ("biases", biases)):
        if isinstance(params, dict):
            raise TypeError("%s: %s is a dict; pass a list of arrays, one per layer from the "
                            "input to the output (weights=[W1, W2, ...], biases=[b1, b2, ...], "
                            "None for a layer without bias)" % (where, what))
    if isinstance(weights, np.ndarray) or not len(weights):
        raise TypeError("%s: weights must be a list of arrays, one per layer" % where)
    L = len(weights)
    if biases is not None and (isinstance(biases, np.ndarray) or len(biases) != L):
        raise ValueError("%s: biases must be None or a list of %d arrays (or Nones), one per "
                         "layer" % (where, L))
    Ws = [_float_copy(W, "weights[%d]" % i, dtype) for i, W in enumerate(weights)]
    dtype = Ws[0].dtype
    bs = None if biases is None else [None if b is None else _float_copy(b, "biases[%d]" % i,
                                                                        dtype)
                                      for i, b in enumerate(biases)]
    config = dict(activation=activation, output_activation=output_activation, loss=loss,
                  layout=layout, average=average, eps=eps)
    try:
        net = _reference.MLP.from_arrays(Ws, bs, **config)
        _MLP.from_arrays(Ws, bs, **config).loss(X, Y)  # the binding checks X and Y
    except (ValueError, TypeError) as e:
        message = str(e)
        for prefix in ("MLP.from_arrays: ", "MLP.loss: ", "MLP: "):
            if message.startswith(prefix):
                message = message[len(prefix):]
                break
        raise type(e)("%s: %s" % (where, message)) from None
    return net


def _samples(net, X):
    X = np.asarray(X)
    if X.ndim == 1:
        return 1
    return X.shape[0] if net.layout == "rows" else X.shape[1]


def _mistakes(net):
    """{description: (kind, layers)} of the derivative mix-ups this net allows:
    kind "z" applies the from-activation formula to z, "a" the from-z
    function to a, in the layers named."""
    acts = net.activation_names
    L = len(acts)
    output_has_prime = _registry.LOSSES[net.loss_name].squared
    layers = [i for i in range(L) if acts[i] in ("sigmoid", "tanh")
              and (i < L - 1 or output_has_prime)]
    found = {}
    for kind in ("z", "a"):
        groups = ([(layers, None)] if len(layers) > 1 else []) + [([i], i) for i in layers]
        for group, single in groups:
            if len({acts[i] for i in group}) > 1:  # e.g. tanh hidden, sigmoid out
                text = ("derivative taken of Z instead of A, in every layer: f'(a) formulas "
                        "such as a*(1-a) applied to z" if kind == "z" else
                        "derivative taken of A instead of Z, in every layer: f'(z) functions "
                        "such as sigmoid_prime(z) applied to a")
                found[text] = (kind, set(group))
                continue
            entry = _registry.ACTIVATIONS[acts[group[0]]]
            n = "" if single is None else str(single + 1)
            formula = entry.prime_from_activation_numpy.replace(" ", "")
            def on(v):
                return re.sub(r"\ba\b", v + n, formula)
            if kind == "z":
                text = ("derivative taken of Z instead of A: %s where %s belongs"
                        % (on("z"), on("a")))
            else:
                text = ("derivative taken of A instead of Z: %s(a%s) where %s(z%s) = %s "
                        "belongs" % (entry.prime, n, entry.prime, n, on("a")))
            if single is None:
                text += ", in every layer"
            found[text] = (kind, set(group))
    return found


def _mistaken_derivative(net, kind, layers):
    """derivative(layer, Z, A) for reference.network_pass, with the mistake."""
    def derivative(layer, Z, A):
        entry = _registry.ACTIVATIONS[net.activation_names[layer]]
        from_z = getattr(_reference, entry.prime)
        from_a = getattr(_reference, entry.prime_from_activation)
        if layer in layers:
            return from_a(Z) if kind == "z" else from_z(A)
        return from_a(A)
    return derivative


def _gradients(passes, L):
    return ([passes["dW%d" % (l + 1)] for l in range(L)],
            [passes["db%d" % (l + 1)] for l in range(L)])


def network_gradients(weights, biases, X, Y, *, layout="rows", activation="sigmoid",
                      output_activation=None, loss="half_sum_squared_error", average=None,
                      eps=None):
    """The correct gradients of an MLP, by backpropagation on the reference MLP.

    The network is ``retroprop.MLP``'s (see ``network``): per layer ``Z, A =
    dense_forward(A_prev, W, b, act, layout=layout)``, ``activation`` for the
    hidden layers (or a list of one name per layer) and ``output_activation``
    for the last (None: sigmoid), then a loss of ``retroprop.registry.LOSSES``
    against Y:

    - "half_sum_squared_error" (the default): ``0.5 * np.sum((A - Y) ** 2)``
      (seeds 001-003),
    - "sum_squared_error": ``np.sum((A - Y) ** 2)`` (seed 004),
    - "mse": ``np.mean((A - Y) ** 2)``,
    - "bce": with a sigmoid output (seed 000 is loss="bce", layout="cols"),
    - "ce": with a softmax output, Y one-hot or integer labels;

    averaged (``average=None``: as the loss says; True divides by the
    samples, or every entry for "mse" and "bce") or summed.

    rows: W (in, out), b (out,); cols: W (out, in), b (out, 1). biases may be
    None, or a list with None for the layers without one.

    Returns (grads_w, grads_b), lists in the weights' and biases' shapes
    (grads_b is None when biases is None, and holds None for a layer without
    a bias). The caller's arrays are not touched.

    >>> import numpy as np
    >>> wh = np.array([[0.15, 0.25], [0.20, 0.30]]); bh = np.array([0.35, 0.35])
    >>> w_out = np.array([[0.40, 0.50], [0.45, 0.55]]); b_out = np.array([0.60, 0.60])
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]]); y = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])
    >>> gw, gb = network_gradients([wh, w_out], [bh, b_out], X, y)
    >>> gw[0].round(8)  # X.T @ delta_h: seed 003's grad_w_h, transposed, sign flipped
    array([[0.01984968, 0.02101044],
           [0.01968949, 0.02081363]])
    """
    net = network(weights, biases, X, Y, layout=layout, activation=activation,
                  output_activation=output_activation, loss=loss, average=average, eps=eps,
                  where="network_gradients")
    dWs, dbs = _gradients(net.passes(X, Y), len(net.weights))
    return dWs, (None if biases is None else dbs)


def check_network(weights, biases, X, Y, grads_w, grads_b=None, *, layout="rows",
                  activation="sigmoid", output_activation=None,
                  loss="half_sum_squared_error", average=None, eps=None, names=None,
                  rtol=None, atol=None):
    """Check your gradients of an MLP against central differences.

    The network and the loss are those of ``network_gradients`` (same
    arguments): every network ``retroprop.MLP`` trains. ``grads_w`` and
    ``grads_b`` are your gradients, one per layer (grads_b may be None, or
    hold None for a bias you do not check or a layer without one). The check
    runs on float64 copies: your arrays are never moved, and float32 networks
    are differenced in float64 (your float32 gradients are held to float32
    tolerances). The cross-entropies are differenced from the logits without
    eps (exact where A rounds to 0 or 1: the loss whose gradient A - Y is).

    Besides the diagnoses of ``check`` (transposed, sign flipped, 1/m with
    m = the number of samples, or of entries for "mse" and "bce", wrong
    shape...), a wrong gradient is matched against backpropagation done with
    the activation's derivative taken of Z instead of A (``z*(1-z)`` for
    ``a*(1-a)``) and the reverse (``sigmoid_prime(a)``), in every layer or
    in one.

    names : row names in the order W1, b1, W2, b2... (only the gradients
    given); default "W1", "b1", "W2"...

    Seed 003, with its own gradients:

    >>> import numpy as np
    >>> wh = np.array([[0.15, 0.25], [0.20, 0.30]]); bh = np.array([0.35, 0.35])
    >>> w_out = np.array([[0.40, 0.50], [0.45, 0.55]]); b_out = np.array([0.60, 0.60])
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]]); y = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])
    >>> a_h = 1 / (1 + np.exp(-(X @ wh + bh))); a_out = 1 / (1 + np.exp(-(a_h @ w_out + b_out)))
    >>> delta = (y - a_out) * a_out * (1 - a_out)
    >>> delta_h = (delta @ w_out.T) * a_h * (1 - a_h)
    >>> report = check_network([wh, w_out], [bh, b_out], X, y,
    ...                        [delta_h.T @ X, delta.T @ a_h], [delta_h.sum(0), delta.sum(0)])
    >>> [row.diagnosis for row in report]  # doctest: +NORMALIZE_WHITESPACE
    ['transposed and sign flipped', 'sign flipped',
     'transposed and sign flipped', 'sign flipped']
    """
    # float64 copies, even of float32 parameters: a float32 loss rounds too
    # coarsely for small steps, and the large steps it needs cross relu's
    # kink. float32 gradients are still held to float32 tolerances.
    net = network(weights, biases, X, Y, layout=layout, activation=activation,
                  output_activation=output_activation, loss=loss, average=average, eps=eps,
                  dtype=np.float64, where="check_network")
    L = len(net.weights)
    if isinstance(grads_w, np.ndarray) or len(grads_w) != L:
        raise ValueError("grads_w must be a list of %d gradients, one per layer" % L)
    if grads_b is not None and (isinstance(grads_b, np.ndarray) or len(grads_b) != L):
        raise ValueError("grads_b must be None or a list of %d gradients (or Nones)" % L)

    params, given, default_names, slots = [], [], [], []
    for layer in range(L):
        params.append(net.weights[layer])
        given.append(grads_w[layer])
        default_names.append("W%d" % (layer + 1))
        slots.append(("w", layer))
        b = None if net.biases is None else net.biases[layer]
        if b is not None and grads_b is not None and grads_b[layer] is not None:
            params.append(b)
            given.append(grads_b[layer])
            default_names.append("b%d" % (layer + 1))
            slots.append(("b", layer))
    if names is None:
        names = default_names

    known = {}
    for text, (kind, layers) in _mistakes(net).items():
        passes = net.passes(X, Y, derivative=_mistaken_derivative(net, kind, layers))
        dWs, dbs = _gradients(passes, L)
        known[text] = [dWs[layer] if which == "w" else dbs[layer] for which, layer in slots]

    entry = _registry.LOSSES[net.loss_name]
    m = _samples(net, X)
    if net.average and entry.mean_over_entries:
        m *= net.sizes[-1]
    return check(lambda: net.passes(X, Y, exact=True)["loss"], params, given, names=names,
                 rtol=rtol, atol=atol, n_samples=m, known_mistakes=known)
