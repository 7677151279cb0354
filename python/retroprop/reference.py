"""The plain-NumPy twin of every retroprop kernel: same name, same signature.

Each function is the textbook formula, written the way a course notebook
would write it. The tests hold every C kernel to its twin here, and a student
can read these to see what a kernel computes::

    import retroprop as rp
    import retroprop.reference as ref
    Z, A = rp.dense_forward(X, W, b)        # C, in place, no copies
    Z2, A2 = ref.dense_forward(X, W, b)     # NumPy, the same numbers

Conventions shared with the kernels:

* The layer, loss and update functions compute in float32 when NumPy's result
  type of the inputs is float16 or float32, otherwise in float64 (int inputs
  compute in float64). The elementwise functions are ufuncs with a float32 and
  a float64 loop, and NumPy picks between them: float32 when every input casts
  to it safely (float16, bool, int8, int16, uint8, uint16 arrays; Python
  numbers beside a float32 array), else float64.
* ``out=`` arrays receive the result and are returned.
* Errors: these twins do not validate their arguments beyond what NumPy
  itself does; the kernels do, with messages naming the argument and shapes.
"""
import functools
import sys

import numpy as np

__all__ = [
    "MLP",
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


def _dtype(*arrays):
    """float32 if the inputs' result type is float16/float32, else float64."""
    rt = np.result_type(*arrays)
    return np.float32 if rt in (np.float16, np.float32) else np.float64


def _floats(*arrays):
    """The inputs as arrays of the dtype the kernels compute in."""
    arrays = [np.asarray(a) for a in arrays]
    dt = _dtype(*arrays)
    return [a.astype(dt, copy=False) for a in arrays]


# NumPy 1.x picks a ufunc's loop with value-based casting (a 0-d array or a
# scalar counts by its value beside n-d arrays) and computes arithmetic of 0-d
# operands in their full types (np.float32(1) + 1 is float64); NumPy 2 follows
# NEP 50 (Python numbers are "weak", NumPy scalars are not). The twins follow
# whichever NumPy runs, as the kernels' ufuncs do.
_NUMPY1 = int(np.__version__.split(".")[0]) < 2


def _ufunc_floats(*inputs):
    """The inputs of an elementwise function as arrays of the dtype NumPy's
    ufunc machinery picks for retroprop's float32 and float64 loops: the first
    loop every input casts to safely. A Python number is "weak" (NEP 50): it
    takes the dtype NumPy's promotion gives it beside the other inputs. On
    NumPy 1.x, 0-d inputs beside n-d arrays of the same or a higher kind count
    by their value instead (value-based casting), as there."""
    if _NUMPY1:
        arrays = [np.asarray(x) for x in inputs]
        kind = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
        scalar_kinds = [kind.get(a.dtype.kind, 4) for a in arrays if a.ndim == 0]
        array_kinds = [kind.get(a.dtype.kind, 4) for a in arrays if a.ndim > 0]
        by_value = bool(array_kinds) and max(array_kinds) >= max(scalar_kinds, default=-1)
        castable = [a if by_value and a.ndim == 0 else a.dtype for a in arrays]
        dt = np.float32 if all(np.can_cast(c, np.float32, "safe") for c in castable) else np.float64
        return [a.astype(dt, copy=False) for a in arrays]
    strong = [np.asarray(x).dtype for x in inputs if not isinstance(x, (int, float))]
    dtypes = [np.result_type(*strong, x) if isinstance(x, (int, float)) else np.asarray(x).dtype
              for x in inputs]
    dt = np.float32 if all(np.can_cast(d, np.float32, "safe") for d in dtypes) else np.float64
    return [np.asarray(x).astype(dt, copy=False) for x in inputs]


def _in_input_dtype_on_numpy1(twin, nin):
    """On NumPy 1.x, twin computed on 1-element arrays when every input is 0-d
    (its arithmetic with Python numbers then stays in the inputs' dtype, as in
    the kernel's loop) and returned as the ufunc returns it: a NumPy scalar,
    or out."""
    @functools.wraps(twin)
    def wrapper(*args, **kwargs):
        inputs, rest = args[:nin], args[nin:]
        out = rest[0] if rest else kwargs.pop("out", None)
        converted = _ufunc_floats(*inputs)
        if any(a.ndim for a in converted):
            return twin(*converted, out=out, **kwargs)
        value = np.asarray(twin(*(a.reshape(1) for a in converted), **kwargs)).reshape(())
        return _give(value[()], out)
    return wrapper


def _give(value, out):
    """Write value into out (if given) and return what the kernel returns."""
    if out is None:
        return value
    out[...] = value
    return out


# ---------------------------------------------------------------- elementwise

def sigmoid(z, out=None):
    """1 / (1 + exp(-z)); exp(-z) overflowing to inf gives the right 0."""
    (z,) = _ufunc_floats(z)
    with np.errstate(over="ignore"):
        return _give(1 / (1 + np.exp(-z)), out)


def sigmoid_prime(z, out=None):
    """Derivative of the sigmoid from the pre-activation z (seed 002)."""
    s = sigmoid(z)
    return _give(s * (1 - s), out)


def sigmoid_prime_from_activation(a, out=None):
    """Derivative of the sigmoid from its activation a = sigmoid(z)."""
    (a,) = _ufunc_floats(a)
    return _give(a * (1 - a), out)


def tanh(z, out=None):
    (z,) = _ufunc_floats(z)
    return _give(np.tanh(z), out)


def tanh_prime(z, out=None):
    (z,) = _ufunc_floats(z)
    return _give(1 - np.tanh(z) ** 2, out)


def tanh_prime_from_activation(a, out=None):
    (a,) = _ufunc_floats(a)
    return _give(1 - a ** 2, out)


def relu(z, out=None):
    """max(z, 0); NaN stays NaN, as with np.maximum."""
    (z,) = _ufunc_floats(z)
    return _give(np.maximum(z, 0), out)


def relu_prime(z, out=None):
    """1 where z > 0, else 0 (0 at z = 0 and for NaN)."""
    (z,) = _ufunc_floats(z)
    return _give((z > 0).astype(z.dtype), out)


def relu_prime_from_activation(a, out=None):
    (a,) = _ufunc_floats(a)
    return _give((a > 0).astype(a.dtype), out)


def identity(z, out=None):
    """The linear activation of seed 004's output unit."""
    (z,) = _ufunc_floats(z)
    return _give(z.copy(), out)


def identity_prime(z, out=None):
    (z,) = _ufunc_floats(z)
    return _give(np.ones_like(z), out)


def sigmoid_bce_delta(a, y, out=None):
    """dL/dz of a sigmoid output under binary cross-entropy: a - y."""
    a, y = _ufunc_floats(a, y)
    return _give(a - y, out)


def sigmoid_squared_error_delta(a, y, out=None):
    """dL/dz of a sigmoid output under half the squared error."""
    a, y = _ufunc_floats(a, y)
    return _give((a - y) * a * (1 - a), out)


# The elementwise twins, by their number of inputs (the kernels' ufuncs).
_ELEMENTWISE = {name: 1 for name in (
    "sigmoid", "sigmoid_prime", "sigmoid_prime_from_activation", "tanh", "tanh_prime",
    "tanh_prime_from_activation", "relu", "relu_prime", "relu_prime_from_activation",
    "identity", "identity_prime")}
_ELEMENTWISE.update(sigmoid_bce_delta=2, sigmoid_squared_error_delta=2)
if _NUMPY1:
    for _name, _nin in _ELEMENTWISE.items():
        globals()[_name] = _in_input_dtype_on_numpy1(globals()[_name], _nin)


# ----------------------------------------------------------------- products

def matmul(A, B, *, out=None):
    """A @ B."""
    A, B = _floats(A, B)
    return _give(A @ B, out)


_ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "identity": identity,
}


def dense_forward(X, W, b=None, activation="sigmoid", *, layout="rows", out=None):
    """Z = X @ W + b (rows) or Z = W @ X + b (cols); A = activation(Z)."""
    if b is None:
        X, W = _floats(X, W)
    else:
        X, W, b = _floats(X, W, b)
    if layout == "rows":
        Z = X @ W
        if b is not None:
            Z = Z + b.reshape(-1)
    else:
        Z = W @ X
        if b is not None:
            Z = Z + (b.reshape(-1) if X.ndim == 1 else b.reshape(-1, 1))
    A = _ACTIVATIONS[activation](Z)
    if out is None:
        return Z, A
    return _give(Z, out[0]), _give(A, out[1])


def dense_backward(delta, X, W, *, layout="rows", average=False, out=None):
    """dW, db, dX of a dense layer from delta = dL/dZ.

    rows: dW = X.T @ delta, db = delta.sum(axis=0), dX = delta @ W.T
    cols: dW = delta @ X.T, db = delta.sum(axis=1, keepdims=True), dX = W.T @ delta
    """
    delta, X, W = _floats(delta, X, W)
    if X.ndim == 1:  # one sample
        X = X.reshape((1, -1) if layout == "rows" else (-1, 1))
        delta2 = delta.reshape((1, -1) if layout == "rows" else (-1, 1))
        one = True
    else:
        delta2, one = delta, False
    if layout == "rows":
        dW = X.T @ delta2
        db = delta2.sum(axis=0)
        dX = delta2 @ W.T
        n = X.shape[0]
    else:
        dW = delta2 @ X.T
        db = delta2.sum(axis=1, keepdims=True)
        dX = W.T @ delta2
        n = X.shape[1]
    if one:
        dX = dX.reshape(-1)
    if average:
        dW = dW / n
        db = db / n
    if out is None:
        return dW, db, dX
    return tuple(value if o is None else _give(value.reshape(o.shape), o)
                 for value, o in zip((dW, db, dX), out))


# ------------------------------------------------------------------- losses

def bce(A, Y, eps=1e-8):
    """Mean binary cross-entropy (seed 000)."""
    A, Y = _floats(A, Y)
    with np.errstate(invalid="ignore"):
        return float(-np.mean(Y * np.log(A + eps) + (1 - Y) * np.log(1 - A + eps))) \
            if A.size else float("nan")


def squared_error(A, Y):
    """Summed squared error, seed 004's (y_pred - y_act)**2."""
    A, Y = _floats(A, Y)
    return float(np.sum((A - Y) ** 2))


def half_squared_error(A, Y):
    """Half the summed squared error (seeds 001, 002, 003)."""
    A, Y = _floats(A, Y)
    return float(0.5 * np.sum((A - Y) ** 2))


# ------------------------------------------------------------------- update

def sgd_update(param, grad, lr):
    """param -= lr * grad, in place; returns param (NumPy's dtype rules throughout)."""
    param -= lr * np.asarray(grad)
    return param


# ------------------------------------------------------------ whole networks
# The twins of the C calls behind retroprop.MLP (retroprop._core.net_*), with
# the same signatures: the training loop of the seed notebooks, written with
# the functions above. retroprop.reference.MLP runs on them.

LOSS_EPS = 1e-8  # inside the logarithms of both cross-entropies, as seed 000


def softmax(Z, axis):
    """exp(Z - max) / sum(exp(Z - max)) along axis (the classes)."""
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


_PRIME_FROM_ACTIVATION = {
    "sigmoid": sigmoid_prime_from_activation,
    "tanh": tanh_prime_from_activation,
    "relu": relu_prime_from_activation,
    "identity": lambda a: np.ones_like(a),
}


def _layers(weights, biases, X, layout, activation, output_activation):
    """Activations of every layer, in the layout's orientation."""
    A, out = X, []
    for l, W in enumerate(weights):
        b = None if biases is None else biases[l]
        last = l == len(weights) - 1
        act = output_activation if last else activation
        Z, A = dense_forward(A, W, b, "identity" if act == "softmax" else act, layout=layout)
        if act == "softmax":
            A = softmax(Z, axis=1 if layout == "rows" else 0)
        out.append(A)
    return out


def net_forward(weights, biases, X, config):
    """The activations [A1, ..., AL] of a network (what MLP.forward keeps)."""
    (X,) = _floats(X)
    X = X.astype(weights[0].dtype, copy=False)
    return _layers(weights, biases, X, config["layout"], config["activation"],
                   config["output_activation"])


def _loss_and_delta(A, Y, loss, output_activation):
    """The batch's summed loss and dL/dZ of the output layer."""
    if loss == "bce":
        value = -np.sum(Y * np.log(A + LOSS_EPS) + (1 - Y) * np.log(1 - A + LOSS_EPS))
        return value, A - Y
    if loss == "ce":
        return -np.sum(Y * np.log(A + LOSS_EPS)), A - Y
    # "mse": half the summed squared error, delta (A - Y) * f'(Z)
    return 0.5 * np.sum((A - Y) ** 2), (A - Y) * _PRIME_FROM_ACTIVATION[output_activation](A)


def _gradients(weights, biases, X, Y, config):
    """The batch's loss (averaged if config["average"]) plus the L2 penalty,
    and the gradients dWs, dbs with the penalty's c * W in them."""
    layout = config["layout"]
    activations = _layers(weights, biases, X, layout, config["activation"],
                          config["output_activation"])
    n = X.shape[0] if layout == "rows" else X.shape[1]
    average = config["average"]
    value, delta = _loss_and_delta(activations[-1], Y, config["loss"],
                                   config["output_activation"])
    dWs, dbs = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        below = X if l == 0 else activations[l - 1]
        dWs[l], dbs[l], dX = dense_backward(delta, below, weights[l], layout=layout,
                                            average=average)
        if l > 0:
            delta = dX * _PRIME_FROM_ACTIVATION[config["activation"]](below)
    value = value / n if average else value
    # L2: loss += c/2 * sum(W*W), dW += c * W, c = l2 + l2_per_batch / n
    c = config.get("l2", 0.0) + config.get("l2_per_batch", 0.0) / n
    if c:
        for l, W in enumerate(weights):
            value += 0.5 * c * float(np.sum(W.astype(np.float64) ** 2))
            dWs[l] = dWs[l] + c * W
            if config.get("decay_biases") and biases is not None:
                b = biases[l]
                value += 0.5 * c * float(np.sum(b.astype(np.float64) ** 2))
                dbs[l] = dbs[l] + c * b.reshape(dbs[l].shape)
    return value, dWs, dbs


def net_gradients(weights, biases, X, Y, dweights, dbiases, config):
    """The loss on (X, Y), and its gradients written into dweights, dbiases."""
    dt = weights[0].dtype
    X, Y = (np.asarray(a).astype(dt, copy=False) for a in (X, Y))
    value, dWs, dbs = _gradients(weights, biases, X, Y, config)
    if dweights is not None:
        for l in range(len(weights)):
            dweights[l][...] = dWs[l]
            if biases is not None:
                dbiases[l][...] = dbs[l].reshape(dbiases[l].shape)
    return float(value)


def _splitmix64(state):
    """One step of splitmix64: (new state, output), with Python's big ints."""
    mask = (1 << 64) - 1
    state = (state + 0x9E3779B97F4A7C15) & mask
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return state, z ^ (z >> 31)


def shuffle_order(perm, state):
    """Fisher-Yates over perm in place, as the C trainer does; returns state."""
    for i in range(len(perm) - 1, 0, -1):
        state, r = _splitmix64(state)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return state


def learning_rate(config, epoch, t):
    """The learning rate of update number t (from 1) in epoch `epoch` (from 0)."""
    lr, schedule = config["lr"], config.get("schedule", "constant")
    if schedule == "step":
        return lr * config["gamma"] ** (epoch // config["step_size"])
    if schedule == "exponential":
        return lr * config["gamma"] ** epoch
    if schedule == "inverse_time":
        return lr * (1.0 / (1.0 + config["lr_decay"] * (t - 1)))
    return lr


def optimizer_update(p, g, v, s, config, lr, t, decay):
    """One update of the parameter p in place from its gradient g, with v the
    velocity (Adam: first moment) and s Adam's second moment, also in place;
    decay is p's decoupled weight decay (retroprop.optim has the formulas)."""
    if decay:
        p *= 1 - lr * decay
    optimizer, m = config.get("optimizer", "sgd"), config.get("momentum", 0.0)
    nesterov = config.get("nesterov", False)
    if optimizer == "adam":
        b1, b2 = config["beta1"], config["beta2"]
        v[...] = b1 * v + (1 - b1) * g
        s[...] = b2 * s + (1 - b2) * (g * g)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        p -= lr * (v / c1) / (np.sqrt(s / c2) + config["adam_eps"])
    elif optimizer == "sgd_keras" and m:
        v[...] = m * v - lr * g
        p += m * v - lr * g if nesterov else v
    elif m:
        v[...] = m * v + g
        p -= lr * (g + m * v if nesterov else v)
    else:
        p -= lr * g


def _batches(config, n, perm, state):
    """The epoch's batches of sample indices (or slices), and the new state."""
    batching = config.get("batching", "in_order")
    b = config.get("batch_size", 0)
    b = n if b < 1 or b > n else b
    if batching == "given":
        bounds, idx = config["batch_bounds"], config["batch_indices"]
        return [idx[bounds[k]:bounds[k + 1]] for k in range(len(bounds) - 1)], state
    if batching == "replacement":
        out = []
        for _ in range(-(-n // b)):
            rows = []
            for _ in range(b):
                state, r = _splitmix64(state)
                rows.append(r % n)
            out.append(rows)
        return out, state
    if batching == "shuffled":
        state = shuffle_order(perm, state)
        return [perm[start:start + b] for start in range(0, n, b)], state
    return [slice(start, start + b) for start in range(0, n, b)], state


def net_fit(weights, biases, X, Y, config, state):
    """Minibatch training in place, as the C trainer; the per-epoch loss history.

    For each epoch, for each batch (``_batches``): forward, loss, backward
    (with the L2 penalty), then ``optimizer_update`` of every parameter with
    the scheduled learning rate. history[e] is the sum of the batches' losses
    before their updates, divided by the number of samples they hold when
    average is true. state holds the optimiser's arrays and the counters
    [updates, epochs] (and "shuffle_state": [generator state, order]), updated.
    """
    dt = weights[0].dtype
    X, Y = (np.asarray(a).astype(dt, copy=False) for a in (X, Y))
    layout = config["layout"]
    n = X.shape[0] if layout == "rows" else X.shape[1]
    resume = state.get("shuffle_state")
    rng = int(resume[0]) if resume is not None else config.get("seed", 0)
    perm = [int(i) for i in resume[1:]] if resume is not None else list(range(n))
    counters = state.get("counters")
    t, epoch0 = (int(counters[0]), int(counters[1])) if counters is not None else (0, 0)
    epochs = config["epochs"]
    history = np.zeros(epochs)
    params = [*weights, *(biases or [])]
    L = len(weights)
    vs = [*(state.get("vweights") or [None] * L), *(state.get("vbiases") or [None] * L)]
    ss = [*(state.get("sweights") or [None] * L), *(state.get("sbiases") or [None] * L)]
    wd = config.get("weight_decay", 0.0)
    decays = [wd] * L + [wd if config.get("decay_biases") else 0.0] * L
    for e in range(epochs):
        batches, rng = _batches(config, n, perm, rng)
        total = seen = 0.0
        for rows in batches:
            if layout == "rows":
                Xb, Yb = X[rows], Y[rows]
            else:
                Xb, Yb = X[:, rows], Y[:, rows]
            value, dWs, dbs = _gradients(weights, biases, Xb, Yb, config)
            nb = Xb.shape[0] if layout == "rows" else Xb.shape[1]
            total += value * nb if config["average"] else value
            seen += nb
            t += 1
            lr = learning_rate(config, epoch0 + e, t)
            grads = [*dWs, *(dbs if biases is not None else [])]
            for p, g, v, s, decay in zip(params, grads, vs, ss, decays):
                optimizer_update(p, g.reshape(p.shape), v, s, config, lr, t, decay)
        history[e] = total / seen if config["average"] else total
    if counters is not None:
        counters[0], counters[1] = t, epoch0 + epochs
    if resume is not None and config.get("batching") in ("shuffled", "replacement"):
        resume[0] = rng
        if config.get("batching") == "shuffled":
            resume[1:] = perm
    return history


from .network import MLP as _MLP  # noqa: E402  (network does not import this module)


class MLP(_MLP):
    """retroprop.MLP on the NumPy twins above instead of C: the same
    arguments, the same numbers (the tests hold the two together)."""

    _backend = sys.modules[__name__]
