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

``identity_prime_from_activation(a)`` is ``np.ones_like(a)``.

Layers: ``matmul``, ``dense_forward``, ``dense_backward``, ``softmax(z,
axis=-1)``. Losses, one per entry of ``retroprop.registry.LOSSES`` (the names
``MLP(loss=...)`` takes): ``bce`` (mean binary cross-entropy),
``cross_entropy`` ("ce", softmax outputs, one-hot or integer labels), ``mse``
(the MEAN squared error), ``sum_squared_error`` (seed 004's cost) and
``half_sum_squared_error`` (the seeds' loss, 001-003), with the output deltas
``sigmoid_bce_delta``, ``sigmoid_squared_error_delta`` and
``softmax_cross_entropy_delta``. The update: ``sgd_update``. Each docstring
shows the NumPy expression it equals.

Whole networks: ``MLP`` (any depth, either layout, its training loop in one C
call) and ``RedNeuronal`` (seed 000's class in its own words).
"""
from . import _core, registry

# Every kernel the registry lists (the activations' ufuncs, the layers, the
# losses and their deltas, the update), each with a NumPy twin of the same
# name in retroprop.reference.
globals().update({name: getattr(_core, name) for name in registry.KERNELS})

from .network import MLP, RedNeuronal  # noqa: E402
from .estimators import MLPClassifier, MLPRegressor  # noqa: E402

__version__ = "0.1.0"

__all__ = ["MLP", "RedNeuronal", *registry.KERNELS]

# Tools built on the kernels above: gradient checking and a named training
# step. Not in __all__, which lists the kernels (each has a reference twin).
from . import gradcheck, trace  # noqa: E402,F401


def load_ipython_extension(ipython):
    """``%load_ext retroprop``: the ``%%retroprop`` cell magic (retroprop.capture)."""
    from .capture import load_ipython_extension as load

    load(ipython)
