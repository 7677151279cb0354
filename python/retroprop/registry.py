"""The activations and losses retroprop knows, in one table each.

Everything else reads these two tables: ``MLP`` and its NumPy twin
``retroprop.reference.MLP``, ``gradcheck``, ``trace``, the names the package
exports (``retroprop.__all__`` and ``retroprop.reference.__all__``), the
tables of the README, and the tests' parametrisation. The C side has the
same two tables (``src/kernels/rp_registry.c``), which the C kernels and the
binding read; ``tests/test_registry.py`` holds the two mirrors equal.

The rules of a network (which output goes with which loss, when a loss may
be summed or takes an eps) live here only, in ``network_config``.

Adding an activation or a loss is one entry here and one entry in C (with
its kernels and their NumPy twins in ``retroprop.reference``, of the names
the entry gives).

>>> from retroprop import registry
>>> registry.LOSSES["mse"].numpy
'np.mean((A - Y) ** 2)'
>>> [a.name for a in registry.ACTIVATIONS.values() if a.hidden]
['sigmoid', 'tanh', 'relu', 'identity']
"""
import numbers
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["ACTIVATIONS", "LOSSES", "KERNELS", "Activation", "Loss", "network_config",
           "activation_table", "loss_table"]


@dataclass(frozen=True)
class Activation:
    """One activation: its kernels' names and the NumPy it equals.

    function, prime, prime_from_activation : the names of the ufuncs of f(z),
        f'(z) from the pre-activation z, and f'(z) written from the
        activation a = f(z) (None for softmax, which is not elementwise).
    numpy, prime_numpy, prime_from_activation_numpy : the NumPy expressions.
    hidden : usable on any layer (softmax: only on the output, with "ce").
    init : the initial weights MLP draws, "glorot" (uniform) or "he" (normal).
    """

    name: str
    numpy: str
    prime_numpy: Optional[str]
    prime_from_activation_numpy: Optional[str]
    hidden: bool = True
    init: str = "glorot"

    @property
    def elementwise(self):
        return self.prime_numpy is not None

    @property
    def function(self):
        return self.name

    @property
    def prime(self):
        return self.name + "_prime" if self.elementwise else None

    @property
    def prime_from_activation(self):
        return self.name + "_prime_from_activation" if self.elementwise else None


ACTIVATIONS = {a.name: a for a in (
    Activation("sigmoid", "1 / (1 + np.exp(-z))", "sigmoid(z) * (1 - sigmoid(z))",
               "a * (1 - a)"),
    Activation("tanh", "np.tanh(z)", "1 - np.tanh(z)**2", "1 - a**2"),
    Activation("relu", "np.maximum(z, 0)", "(z > 0).astype(float)", "(a > 0).astype(float)",
               init="he"),
    Activation("identity", "z.copy()", "np.ones_like(z)", "np.ones_like(a)"),
    Activation("softmax", "np.exp(z - m) / np.exp(z - m).sum(axis)", None, None, hidden=False),
)}


@dataclass(frozen=True)
class Loss:
    """One loss of a network's output A against the targets Y.

    function : the retroprop function computing it (with its default
        averaging), ``retroprop.<function>(A, Y)``.
    numpy : what that function equals in NumPy.
    outputs : the output activations it goes with (None: any elementwise one).
    delta : dL/dZ of the output layer, before any averaging, as NumPy.
    squared_factor : for the squared errors dL/dA = squared_factor * (A - Y)
        (the delta is that times f'(Z)); 0 for the cross-entropies.
    mean_over_entries : averaging divides by every entry of A (samples x
        outputs), as "mse" and "bce" do in Keras and PyTorch; else by the
        number of samples (the mean over samples of "ce"'s per-sample sums).
    average : whether it averages by default (MLP's ``average=None``).
    summable : whether ``average=False`` is allowed ("mse" is a mean by name).
    eps : its default eps inside the logarithms (None: it has none); any
        eps >= 0 may be given, 0 included.
    predict : what MLP.predict returns: "threshold" (0/1), "argmax" (the
        class), "values" (the outputs).
    """

    name: str
    function: str
    description: str
    numpy: str
    outputs: Optional[tuple]
    delta: str
    squared_factor: float
    mean_over_entries: bool
    average: bool
    summable: bool
    eps: Optional[float]
    predict: str

    @property
    def squared(self):
        return self.squared_factor != 0


LOSSES = {l.name: l for l in (
    Loss("bce", "bce", "binary cross-entropy, averaged over every entry (seed 000)",
         "-np.mean(Y * np.log(A + eps) + (1 - Y) * np.log(1 - A + eps))", ("sigmoid",),
         "A - Y", 0.0, True, True, True, 1e-8, "threshold"),
    Loss("ce", "cross_entropy", "categorical cross-entropy, averaged over the samples; "
         "Y one-hot or integer labels",
         "-np.sum(Y * np.log(A + eps)) / n", ("softmax",), "A - Y", 0.0, False, True, True,
         1e-8, "argmax"),
    Loss("mse", "mse", "mean squared error, as in Keras, PyTorch and scikit-learn",
         "np.mean((A - Y) ** 2)", None, "2 * (A - Y) * f'(Z)", 2.0, True, True, False, None,
         "values"),
    Loss("sum_squared_error", "sum_squared_error", "summed squared error (seed 004's cost)",
         "np.sum((A - Y) ** 2)", None, "2 * (A - Y) * f'(Z)", 2.0, False, False, True, None,
         "values"),
    Loss("half_sum_squared_error", "half_sum_squared_error",
         "half the summed squared error (seeds 001, 002, 003)",
         "0.5 * np.sum((A - Y) ** 2)", None, "(A - Y) * f'(Z)", 1.0, False, False, True, None,
         "values"),
)}

# The public kernels (each with a NumPy twin of the same name in
# retroprop.reference): the activations' ufuncs, the layers, the losses and
# their output deltas, the update. retroprop.__all__ and
# retroprop.reference.__all__ are made from this list.
KERNELS = tuple(
    [name for a in ACTIVATIONS.values() if a.elementwise
     for name in (a.function, a.prime, a.prime_from_activation)]
    + ["softmax", "matmul", "dense_forward", "dense_backward"]
    + [l.function for l in LOSSES.values()]
    + ["sigmoid_bce_delta", "sigmoid_squared_error_delta", "softmax_cross_entropy_delta",
       "sgd_update"])


def _names(table, keep=lambda entry: True):
    names = [repr(name) for name, entry in table.items() if keep(entry)]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _activation(name, what, where, output):
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{where}: unknown {what} {name!r}; expected "
                         f"{_names(ACTIVATIONS, lambda a: output or a.hidden)}")
    entry = ACTIVATIONS[name]
    if not output and not entry.hidden:
        raise ValueError(f"{where}: {what} {name!r} can only be the output's "
                         f"(output_activation={name!r}, with loss='ce')")
    return name


def activation_names(activation, output_activation, n_layers, where="MLP"):
    """The activation of every layer, from MLP's ``activation`` (a name for
    every hidden layer, or a list of one name per layer, the output's last)
    and ``output_activation`` (the output's, when activation is a name)."""
    if isinstance(activation, (list, tuple)):
        if output_activation is not None:
            raise ValueError(f"{where}: activation is a list of one name per layer, the "
                             f"output's last; leave output_activation out (it was "
                             f"{output_activation!r})")
        names = list(activation)
        if len(names) != n_layers:
            raise ValueError(f"{where}: activation has {len(names)} name"
                             f"{'' if len(names) == 1 else 's'} for {n_layers} layers; give "
                             f"one per layer, the output's last")
        return [_activation(n, f"activation[{i}]", where, i == n_layers - 1)
                for i, n in enumerate(names)]
    hidden = _activation(activation, "activation", where, False)
    output = _activation("sigmoid" if output_activation is None else output_activation,
                         "output_activation", where, True)
    return [hidden] * (n_layers - 1) + [output]


def network_config(activations, loss, average=None, eps=None, where="MLP"):
    """The rules of a network, in one place: (Loss, average, eps) resolved.

    activations : one name per layer (see activation_names). loss : a name
    of LOSSES. average : None for the loss's own convention, else a bool.
    eps : None for the loss's default; a number >= 0 for "bce" and "ce".
    Raises ValueError (TypeError for a non-number eps) saying what to pass.
    """
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"{where}: unknown loss {loss!r}; expected {_names(LOSSES)} (the "
                         f"seeds' loss, half the summed squared error, is "
                         f"'half_sum_squared_error'; 'mse' is the mean squared error)")
    entry = LOSSES[loss]
    output = activations[-1]
    if entry.outputs is not None and output not in entry.outputs:
        raise ValueError(f"{where}: loss {loss!r} does not go with output_activation "
                         f"{output!r}: {loss!r} needs "
                         f"{' or '.join(map(repr, entry.outputs))}")
    if entry.outputs is None and not ACTIVATIONS[output].elementwise:
        raise ValueError(f"{where}: loss {loss!r} does not go with output_activation "
                         f"{output!r}: a {output!r} output takes loss 'ce'")
    if average is None:
        average = entry.average
    elif not (isinstance(average, (bool, np.bool_))
              or (isinstance(average, numbers.Integral) and average in (0, 1))):
        raise ValueError(f"{where}: average must be True or False, got {average!r}")
    average = bool(average)
    if not average and not entry.summable:
        raise ValueError(f"{where}: loss {loss!r} is the {entry.description}, {entry.numpy}: "
                         f"a mean, never summed (average=False); the summed squared error is "
                         f"loss='sum_squared_error' (seed 004), half of it "
                         f"loss='half_sum_squared_error' (seeds 001-003)")
    if eps is None:
        eps = entry.eps
    elif entry.eps is None:
        raise ValueError(f"{where}: loss {loss!r} has no logarithm, so no eps; eps is for "
                         f"'bce' and 'ce'")
    else:
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) and not hasattr(
                eps, "__float__"):
            raise TypeError(f"{where}: eps must be a number >= 0, got {eps!r}")
        eps = float(eps)
        if not (eps >= 0 and eps < float("inf")):
            raise ValueError(f"{where}: eps must be a finite number >= 0, got {eps!r}")
    return entry, average, eps


def activation_table():
    """The README's table of the activations' functions, as Markdown rows."""
    rows = []
    for a in ACTIVATIONS.values():
        if a.elementwise:
            rows.append(f"| `{a.function}(z)`, `{a.prime}(z)`, `{a.prime_from_activation}(a)` "
                        f"| `{a.numpy}`, `{a.prime_numpy}`, `{a.prime_from_activation_numpy}` |")
    return "\n".join(rows)


def loss_table():
    """The README's table of the losses, as Markdown rows."""
    rows = ["| `loss=` | function | NumPy | output | output delta | averaged by default |",
            "|---|---|---|---|---|---|"]
    for l in LOSSES.values():
        outputs = ("any but softmax" if l.outputs is None
                   else ", ".join(f"`{o}`" for o in l.outputs))
        eps = ", eps=1e-8" if l.eps is not None else ""
        average = ("always (a mean)" if not l.summable else
                   ("yes" if l.average else "no (summed)"))
        rows.append(f"| `\"{l.name}\"` | `{l.function}(A, Y{eps})` | `{l.numpy}` | {outputs} | "
                    f"`{l.delta}` | {average} |")
    return "\n".join(rows)
