"""The names the classroom notebooks use, bound to retroprop's C kernels.

``from retroprop.notebook import *`` replaces a notebook's own definitions:

- ``sigmoid``, ``sigmoide`` (seed 001), ``sigmod`` (seed 003): the sigmoid,
  ``1 / (1 + np.exp(-z))``;
- ``sigmoid_prime`` (seed 002): the derivative from the PRE-activation z,
  ``sigmoid(z) * (1 - sigmoid(z))``;
- ``derivada_sigmoide`` (seeds 000, 001): the derivative from the ACTIVATION
  a = sigmoid(z), ``a * (1 - a)``. Seed 001 writes ``1 * (1 - x)``, a typo;
  this is the correct form.
"""
from ._core import sigmoid, sigmoid_prime, sigmoid_prime_from_activation

sigmoide = sigmoid
sigmod = sigmoid
derivada_sigmoide = sigmoid_prime_from_activation

__all__ = ["sigmoid", "sigmoide", "sigmod", "sigmoid_prime", "derivada_sigmoide"]
