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


from . import registry

__all__ = ["MLP", *registry.KERNELS]


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


def identity_prime_from_activation(a, out=None):
    (a,) = _ufunc_floats(a)
    return _give(np.ones_like(a), out)


def sigmoid_bce_delta(a, y, out=None):
    """dL/dz of a sigmoid output under binary cross-entropy: a - y."""
    a, y = _ufunc_floats(a, y)
    return _give(a - y, out)


def sigmoid_squared_error_delta(a, y, out=None):
    """dL/dz of a sigmoid output under half the squared error."""
    a, y = _ufunc_floats(a, y)
    return _give((a - y) * a * (1 - a), out)


def softmax(z, axis=-1, *, out=None):
    """exp(z - max) / sum(exp(z - max)) along axis (the classes): stable for
    large logits, since every exponent is <= 0."""
    (z,) = _floats(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True)) if z.size else z.copy()
    return _give(e / e.sum(axis=axis, keepdims=True) if z.size else e, out)


def _labels(A, Y, axis):
    """Y as one-hot targets shaped like A: integer labels (one per sample,
    A.ndim - 1 dimensions) are one-hot encoded along axis."""
    Y = np.asarray(Y)
    if Y.shape == A.shape:
        return Y.astype(A.dtype, copy=False)
    onehot = np.zeros(A.shape, dtype=A.dtype)
    np.put_along_axis(onehot, np.expand_dims(Y.astype(np.intp), axis), 1, axis)
    return onehot


def softmax_cross_entropy_delta(A, Y, *, axis=-1, out=None):
    """dL/dZ of a softmax output under the cross-entropy: A - Y, with Y
    one-hot or integer labels (one per sample)."""
    (A,) = _floats(A)
    Y = _labels(A, Y, axis)
    return _give(A - Y, out)


# The elementwise twins, by their number of inputs (the kernels' ufuncs: the
# registry's three per elementwise activation, and the two deltas).
_ELEMENTWISE = {name: 1 for a in registry.ACTIVATIONS.values() if a.elementwise
                for name in (a.function, a.prime, a.prime_from_activation)}
_ELEMENTWISE.update(sigmoid_bce_delta=2, sigmoid_squared_error_delta=2)
if _NUMPY1:
    for _name, _nin in _ELEMENTWISE.items():
        globals()[_name] = _in_input_dtype_on_numpy1(globals()[_name], _nin)


# ----------------------------------------------------------------- products

def matmul(A, B, *, out=None):
    """A @ B."""
    A, B = _floats(A, B)
    return _give(A @ B, out)




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
    if activation == "softmax":  # along the classes: the layout's outputs
        A = softmax(Z, axis=-1 if layout == "rows" or Z.ndim == 1 else 0)
    else:
        A = globals()[registry.ACTIVATIONS[activation].function](Z)
    if out is None:
        return Z, A
    return _give(Z, out[0]), _give(A, out[1])


def dense_backward(delta, X, W, *, layout="rows", average=False, need_dX=True, out=None):
    """dW, db, dX of a dense layer from delta = dL/dZ.

    rows: dW = X.T @ delta, db = delta.sum(axis=0), dX = delta @ W.T
    cols: dW = delta @ X.T, db = delta.sum(axis=1, keepdims=True), dX = W.T @ delta
    need_dX=False: dX is not computed, and is None.
    """
    if not need_dX and out is not None and out[2] is not None:
        raise ValueError("dense_backward: out[2] (dX) is given but need_dX=False computes no dX: "
                         "pass None there, or need_dX=True")
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
        dX = delta2 @ W.T if need_dX else None
        n = X.shape[0]
    else:
        dW = delta2 @ X.T
        db = delta2.sum(axis=1, keepdims=True)
        dX = W.T @ delta2 if need_dX else None
        n = X.shape[1]
    if one and need_dX:
        dX = dX.reshape(-1)
    if average:
        dW = dW / n
        db = db / n
    if out is None:
        return dW, db, dX
    return tuple(value if o is None else _give(value.reshape(o.shape), o)
                 for value, o in zip((dW, db, dX), out))


# ------------------------------------------------------------------- losses

def _xlogy(y, x):
    """y * np.log(x), 0 where y == 0 (0 log 0 is 0, as the kernels take it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y != 0, y * np.log(x), 0.0)


def _loss_terms(loss, A, Y, eps=None):
    """Every entry's term of a loss before averaging (the twin of C's
    rp_loss_term): a loss is the sum of its terms, divided by the entries or
    the samples when it averages."""
    if loss == "bce":
        return -(_xlogy(Y, A + eps) + _xlogy(1 - Y, 1 - A + eps))
    if loss == "ce":
        return -_xlogy(Y, A + eps)
    if loss == "half_sum_squared_error":
        return 0.5 * (A - Y) ** 2
    return (A - Y) ** 2  # "mse", "sum_squared_error"


def _samples(A, axis):
    """The number of samples of A whose classes lie along axis."""
    return A.shape[axis - 1 if axis == -1 else 1 - axis] if A.ndim == 2 else 1


def bce(A, Y, eps=1e-8):
    """Mean binary cross-entropy (seed 000), over every entry."""
    A, Y = _floats(A, Y)
    return float(np.sum(_loss_terms("bce", A, Y, eps)) / A.size) if A.size else float("nan")


def cross_entropy(A, Y, eps=1e-8, *, axis=-1):
    """Categorical cross-entropy, averaged over the samples: Y one-hot or
    integer labels."""
    (A,) = _floats(A)
    Y = _labels(A, Y, axis)
    n = _samples(A, axis)
    return float(np.sum(_loss_terms("ce", A, Y, eps)) / n) if n and A.size else float("nan")


def mse(A, Y):
    """Mean squared error, as Keras, PyTorch and scikit-learn define it."""
    A, Y = _floats(A, Y)
    return float(np.sum(_loss_terms("mse", A, Y)) / A.size) if A.size else float("nan")


def sum_squared_error(A, Y):
    """Summed squared error, seed 004's (y_pred - y_act)**2."""
    A, Y = _floats(A, Y)
    return float(np.sum(_loss_terms("sum_squared_error", A, Y)))


def half_sum_squared_error(A, Y):
    """Half the summed squared error (seeds 001, 002, 003)."""
    A, Y = _floats(A, Y)
    return float(np.sum(_loss_terms("half_sum_squared_error", A, Y)))


# ------------------------------------------------------------------- update

def sgd_update(param, grad, lr):
    """param -= lr * grad, in place; returns param (NumPy's dtype rules throughout)."""
    param -= lr * np.asarray(grad)
    return param


# ------------------------------------------------------------ whole networks
# The twins of the C calls behind retroprop.MLP (retroprop._core.net_*), with
# the same signatures: the training loop of the seed notebooks, written with
# the functions above. retroprop.reference.MLP runs on them, and through it
# retroprop.gradcheck and retroprop.trace: network_pass is the one model of
# a network in Python.


def _prime_from_activation(name, a):
    """f'(z) from the activation a, by the registry's twin (1 for softmax,
    whose delta under the cross-entropy needs none)."""
    entry = registry.ACTIVATIONS[name]
    if not entry.elementwise:
        return np.ones_like(a)
    return globals()[entry.prime_from_activation](a)


def _from_logits(loss, Z, Y, axis):
    """The summed cross-entropy of a sigmoid or softmax output computed from
    its pre-activation Z, without eps: exact where A rounds to 0 or 1 (the
    loss whose gradient is A - Y exactly)."""
    Z = Z.astype(np.float64)
    if loss == "bce":  # -(y log a + (1-y) log(1-a)) with a = sigmoid(z)
        return float(np.sum(np.logaddexp(0.0, Z) - Y * Z))
    top = Z.max(axis=axis, keepdims=True)  # -sum(y (z - logsumexp(z)))
    lse = top + np.log(np.exp(Z - top).sum(axis=axis, keepdims=True))
    return float(-np.sum(Y * (Z - lse)))


def network_pass(weights, biases, X, Y=None, *, layout, activations, loss=None, average=None,
                 eps=None, derivative=None, exact=False):
    """Forward, and with Y backward, of a network: every array, by name.

    Returns a dict, in the order of computation: z1, a1, ..., zL, aL, and
    with Y: error (aL - Y), deltaL, ..., delta1 (dL/dZ of each layer before
    any averaging), dW1, db1, ..., dWL, dbL (averaged if average; db is None
    for a layer without bias), loss (its value, averaged if average).

    X, Y are in the network's dtype and layout, Y one-hot (what the C calls
    get). biases : None, or one array or None per layer. loss, average, eps:
    as registry.network_config resolves them.
    derivative(layer, Z, A) : f'(Z) of a layer (0-based) as the backward pass
        uses it; by default the activation's derivative from A. gradcheck
        passes a mistaken one to see what a mistake gives.
    exact : the cross-entropies computed from Z, without eps (gradcheck).
    """
    L = len(weights)
    axis = -1 if layout == "rows" else 0
    out, A = {}, X
    for l, W in enumerate(weights):
        b = None if biases is None else biases[l]
        Z, A = dense_forward(A, W, b, activations[l], layout=layout)
        out["z%d" % (l + 1)], out["a%d" % (l + 1)] = Z, A
    if Y is None:
        return out
    entry = registry.LOSSES[loss]
    n = X.shape[0] if layout == "rows" else X.shape[1]
    divisor = (n * A.shape[axis] if entry.mean_over_entries else n) if average else 1
    if exact and not entry.squared:
        value = _from_logits(loss, out["z%d" % L], Y, axis)
    else:
        value = float(np.sum(_loss_terms(loss, A, Y, eps)))
    if derivative is None:
        def derivative(layer, Z, A):
            return _prime_from_activation(activations[layer], A)
    out["error"] = error = A - Y
    delta = A - Y  # the cross-entropies' delta: its own array, not error's
    if entry.squared:
        delta = entry.squared_factor * error * derivative(L - 1, out["z%d" % L], A)
    deltas, grads = {}, {}
    for l in range(L - 1, -1, -1):
        deltas["delta%d" % (l + 1)] = delta
        below = X if l == 0 else out["a%d" % l]
        dW, db, dX = dense_backward(delta, below, weights[l], layout=layout)
        b = None if biases is None else biases[l]
        grads[l] = (dW / divisor, None if b is None else (db / divisor).reshape(b.shape))
        if l > 0:
            delta = dX * derivative(l - 1, out["z%d" % l], below)
    out.update(deltas)
    for l in range(L):
        out["dW%d" % (l + 1)], out["db%d" % (l + 1)] = grads[l]
    out["loss"] = value / divisor
    return out


def _pass(weights, biases, X, Y, config, **kw):
    """network_pass with a configuration dict's settings (the C calls' dict)."""
    return network_pass(weights, biases, X, Y, layout=config["layout"],
                        activations=config["activations"], loss=config.get("loss"),
                        average=config.get("average"), eps=config.get("eps", 0.0), **kw)


def net_forward(weights, biases, X, config):
    """The activations [A1, ..., AL] of a network (what MLP.forward keeps)."""
    (X,) = _floats(X)
    X = X.astype(weights[0].dtype, copy=False)
    passes = _pass(weights, biases, X, None, config)
    return [passes["a%d" % (l + 1)] for l in range(len(weights))]


def _divisor(config, A):
    """What an averaged loss of the batch A is divided by: its samples, or its
    every entry for a loss averaged over them (1 when summed)."""
    if not config["average"]:
        return 1
    n = A.shape[0] if config["layout"] == "rows" else A.shape[1]
    return A.size if registry.LOSSES[config["loss"]].mean_over_entries else n


def _gradients(weights, biases, X, Y, config):
    """The batch's loss (averaged if config["average"]) plus the L2 penalty,
    and the gradients dWs, dbs with the penalty's c * W in them (db None for
    a layer without bias)."""
    passes = _pass(weights, biases, X, Y, config)
    L = len(weights)
    value = float(passes["loss"])
    dWs = [passes["dW%d" % (l + 1)] for l in range(L)]
    dbs = [passes["db%d" % (l + 1)] for l in range(L)]
    n = X.shape[0] if config["layout"] == "rows" else X.shape[1]
    # L2: loss += c/2 * sum(W*W), dW += c * W, c = l2 + l2_per_batch / n
    c = config.get("l2", 0.0) + config.get("l2_per_batch", 0.0) / n
    if c:
        for l, W in enumerate(weights):
            value += 0.5 * c * float(np.sum(W.astype(np.float64) ** 2))
            dWs[l] = dWs[l] + c * W
            b = None if biases is None else biases[l]
            if config.get("decay_biases") and b is not None:
                value += 0.5 * c * float(np.sum(b.astype(np.float64) ** 2))
                dbs[l] = dbs[l] + c * b.reshape(dbs[l].shape)
    return value, dWs, dbs, _divisor(config, passes["a%d" % L])


def net_gradients(weights, biases, X, Y, dweights, dbiases, config):
    """The loss on (X, Y), and its gradients written into dweights, dbiases."""
    dt = weights[0].dtype
    X, Y = (np.asarray(a).astype(dt, copy=False) for a in (X, Y))
    value, dWs, dbs, _ = _gradients(weights, biases, X, Y, config)
    if dweights is not None:
        for l in range(len(weights)):
            dweights[l][...] = dWs[l]
            if biases is not None and biases[l] is not None:
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
    before their updates, divided by the number of samples (or, for "mse"
    and "bce", entries) they hold when average is true. state holds the
    optimiser's arrays and the counters [updates, epochs] (and
    "shuffle_state": [generator state, order]), updated.
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
    L = len(weights)
    bs = list(biases) if biases is not None else [None] * L
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
            value, dWs, dbs, divisor = _gradients(weights, biases, Xb, Yb, config)
            total += value * divisor if config["average"] else value
            seen += divisor
            t += 1
            lr = learning_rate(config, epoch0 + e, t)
            # a layer without bias has no bias to update
            for p, g, v, s, decay in zip([*weights, *bs], [*dWs, *dbs], vs, ss, decays):
                if p is not None:
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
    arguments, the same numbers (the tests hold the two together).

    ``passes(X, Y)`` gives every array of one forward and backward pass by
    name (network_pass), which retroprop.trace and retroprop.gradcheck read.
    """

    _backend = sys.modules[__name__]

    def passes(self, X, Y=None, *, derivative=None, exact=False):
        """network_pass on (X, Y) with this network's arrays and settings."""
        X2 = self._inputs(X)[0]
        X2 = np.asarray(X2).astype(self.dtype, copy=False) if X2.dtype.kind in "biuf" \
            else X2
        Y2 = None if Y is None else np.asarray(self._targets(Y)).astype(self.dtype,
                                                                        copy=False)
        return _pass(self.weights, self.biases, X2, Y2, self._config("MLP.passes"),
                     derivative=derivative, exact=exact)
