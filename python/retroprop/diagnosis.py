"""How an array differs from the one it should be, in the ways a hand-written
backward pass gets it wrong: transposed, sign flipped, both, or reshaped.

The one place that detects these; ``retroprop.gradcheck`` (your gradient
against central differences) and ``retroprop.trace`` (your intermediate
arrays against one training step's) both name mistakes with it.

>>> import numpy as np
>>> from retroprop import diagnosis
>>> want = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> close = lambda a, b: bool(np.allclose(a, b))
>>> diagnosis.first_match(-want.T, want, close)
('transposed', ['sign flipped'])
"""
import numpy as np

__all__ = ["SIGNS", "first_match", "orientations"]

# (factor, words) pairs of the sign: as it is, or flipped
SIGNS = ((1.0, []), (-1.0, ["sign flipped"]))


def orientations(shape, want, close):
    """The ways of laying ``want`` out to compare it with an array of ``shape``:
    (label, turn) pairs, label None (as it is), "transposed" or "reshape",
    turn a function of an array of want's shape. A square ``want`` that
    equals its own transpose (``close(want.T, want)``) is never "transposed":
    transposing it is no mistake.

    >>> import numpy as np
    >>> [label for label, _ in orientations((3, 2), np.ones((2, 3)), np.allclose)]
    ['transposed']
    """
    shape = tuple(shape)
    out = []
    if shape == want.shape:
        out.append((None, lambda a: a))
        if want.ndim == 2 and want.shape[0] == want.shape[1] and not close(want.T, want):
            out.append(("transposed", lambda a: a.T))
    elif len(shape) == 2 and want.ndim == 2 and shape == want.shape[::-1]:
        out.append(("transposed", lambda a: a.T))
    elif int(np.prod(shape)) == want.size:
        out.append(("reshape", lambda a: a.reshape(shape)))
    return out


def first_match(yours, want, close, factors=SIGNS):
    """(orientation label, factor words) of the first layout of
    ``orientations`` and factor under which ``close(yours, factor *
    turn(want))``, leaving out the plain match (as it is, factor 1); None
    when none matches.

    >>> import numpy as np
    >>> first_match(np.array([-1.0, -2.0]), np.array([1.0, 2.0]), np.allclose)
    (None, ['sign flipped'])
    """
    for label, turn in orientations(np.shape(yours), want, close):
        t = turn(want)
        for factor, words in factors:
            if label is None and factor == 1.0:
                continue
            if close(yours, factor * t):
                return label, list(words)
    return None
