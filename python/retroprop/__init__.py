"""retroprop: the forward and backward passes of small neural networks, in C,
on your own NumPy arrays, without copying them.

Every function here is a C kernel; ``retroprop.reference`` holds the plain
NumPy twin of each, with the same name and signature, and the tests prove
that the two agree. ``from retroprop.notebook import *`` gives the names the
classroom notebooks use (``sigmoide``, ``sigmod``, ``derivada_sigmoide``...).

Elementwise functions are NumPy ufuncs (broadcasting, ``out=``, scalars and
lists behave as with ``np.exp``):

=================================  ======================================
``sigmoid(z)``                     ``1 / (1 + np.exp(-z))``, no overflow
``sigmoid_prime(z)``               ``sigmoid(z) * (1 - sigmoid(z))``
``sigmoid_prime_from_activation``  ``a * (1 - a)``
``tanh(z)``                        ``np.tanh(z)``
``tanh_prime(z)``                  ``1 - np.tanh(z)**2``
``tanh_prime_from_activation(a)``  ``1 - a**2``
``relu(z)``                        ``np.maximum(z, 0)``
``relu_prime(z)``                  ``(z > 0).astype(float)``
``relu_prime_from_activation(a)``  ``(a > 0).astype(float)``
``identity(z)``                    ``z.copy()``
``identity_prime(z)``              ``np.ones_like(z)``
``sigmoid_bce_delta(a, y)``        ``a - y``
``sigmoid_squared_error_delta``    ``(a - y) * a * (1 - a)``
=================================  ======================================

Layers, losses and updates: ``matmul``, ``dense_forward``, ``dense_backward``,
``bce``, ``squared_error``, ``half_squared_error``, ``sgd_update``; each
docstring shows the NumPy expression it equals.

Whole networks: ``MLP`` (any depth, either layout, its training loop in one C
call) and ``RedNeuronal`` (seed 000's class in its own words).
"""
from ._core import (
    bce,
    dense_backward,
    dense_forward,
    half_squared_error,
    identity,
    identity_prime,
    matmul,
    relu,
    relu_prime,
    relu_prime_from_activation,
    sgd_update,
    sigmoid,
    sigmoid_bce_delta,
    sigmoid_prime,
    sigmoid_prime_from_activation,
    sigmoid_squared_error_delta,
    squared_error,
    tanh,
    tanh_prime,
    tanh_prime_from_activation,
)

from .network import MLP, RedNeuronal
from .estimators import MLPClassifier, MLPRegressor

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "RedNeuronal",
    "bce",
    "dense_backward",
    "dense_forward",
    "half_squared_error",
    "identity",
    "identity_prime",
    "matmul",
    "relu",
    "relu_prime",
    "relu_prime_from_activation",
    "sgd_update",
    "sigmoid",
    "sigmoid_bce_delta",
    "sigmoid_prime",
    "sigmoid_prime_from_activation",
    "sigmoid_squared_error_delta",
    "squared_error",
    "tanh",
    "tanh_prime",
    "tanh_prime_from_activation",
]

# Tools built on the kernels above: gradient checking and a named training
# step. Not in __all__, which lists the kernels (each has a reference twin).
from . import gradcheck, trace  # noqa: E402


def load_ipython_extension(ipython):
    """``%load_ext retroprop``: the ``%%retroprop`` cell magic (retroprop.capture)."""
    from .capture import load_ipython_extension as load

    load(ipython)
