"""Whole networks: a multilayer perceptron whose training loop runs in one C call.

The parameters stay plain NumPy arrays the student can print, plot and
change; ``fit`` runs every epoch and minibatch in C with the GIL released.
``RedNeuronal`` is seed 000's class in its own words, on top of ``MLP``.
"""
import contextlib
import math
import numbers

import numpy as np

from . import _core, optim, parameters, registry, training


def _check_config(layout, dtype):
    """The settings' rules that are neither the registry's (the activations,
    the loss, how they pair, average and eps: registry.network_config) nor
    the optimiser's (retroprop.optim.check): the constructors check them, and
    so does every call that uses them (MLP._check_settings), since attributes
    can be reassigned. dtype None: not checked (it is then the weights')."""
    if layout not in ("rows", "cols"):
        raise ValueError(f"MLP: unknown layout {layout!r}; expected 'rows' (samples are rows, "
                         f"Z = X @ W + b) or 'cols' (samples are columns, Z = W @ X + b)")
    if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"MLP: dtype must be float32 or float64, got {np.dtype(dtype)}")


def _refuse_masked(name, value):
    """np.asarray would drop a mask silently: refuse it, as the C calls do."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"MLP: {name} is a masked array (numpy.ma.MaskedArray); the network "
                        f"would ignore its mask, so it refuses it: pass {name}.filled(value), or "
                        f"drop the masked samples first")


def _parameter_list(params, what, where):
    """weights or biases as a list; a dict (or a lone array) gets a message
    saying what to pass instead."""
    if isinstance(params, dict):
        keys = list(params)
        raise TypeError(f"{where}: {what} is a dict (keys {', '.join(map(repr, keys[:4]))}"
                        f"{', ...' if len(keys) > 4 else ''}); pass a list of arrays, one per "
                        f"layer from the input to the output: weights=[W1, W2, ...], "
                        f"biases=[b1, b2, ...] (None for a layer without bias)")
    if isinstance(params, np.ndarray):
        raise TypeError(f"{where}: {what} is one array of shape {params.shape}; pass a list "
                        f"of arrays, one per layer from the input to the output: "
                        f"{what}=[{'W' if what == 'weights' else 'b'}1, ...]")
    params = list(params)
    if not params and what == "weights":
        raise ValueError(f"{where}: weights must be a non-empty list of arrays")
    return params


@contextlib.contextmanager
def _named(where):
    """A ValueError or TypeError of the C calls (or of NumPy converting X and
    Y) names the method it came from: "MLP.fit: X has shape (4, 2); ..."."""
    try:
        yield
    except (ValueError, TypeError) as e:
        message = str(e)
        if type(e) not in (ValueError, TypeError) or message.startswith(where):
            raise
        if message.startswith("MLP: "):
            message = message[len("MLP: "):]
        raise type(e)(f"{where}: {message}") from None


# The optimiser's settings: MLP's keyword arguments and attributes of these names.
_SETTINGS = ("lr", "optimizer", "momentum", "nesterov", "beta1", "beta2", "adam_eps", "l2",
             "alpha", "weight_decay", "decay_biases", "schedule", "gamma", "step_size",
             "lr_decay")


class MLP:
    """A multilayer perceptron trained by backpropagation, in C.

    ``MLP(sizes, activation="sigmoid", output_activation=None, loss="bce",
    *, layout="rows", bias=True, lr=0.5, average=None, eps=None, optimizer="sgd",
    momentum=0.0, nesterov=False, beta1=0.9, beta2=0.999, adam_eps=1e-8,
    l2=0.0, alpha=0.0, weight_decay=0.0, decay_biases=False,
    schedule="constant", gamma=None, step_size=None, lr_decay=None,
    dtype=np.float64, seed=None, init=None, bias_init="zeros")``

    sizes : the widths, inputs first: ``[3, 4, 1]`` is seed 001's 3-4-1 net.
    activation : of every hidden layer, "sigmoid", "tanh", "relu" or
        "identity"; or a list of one name per layer, the output's last
        (``["relu", "tanh", "softmax"]``), output_activation then left out.
    output_activation : the output layer's, the same or "softmax" (with
        loss "ce"); None is "sigmoid".
    loss : the names of ``retroprop.registry.LOSSES``, which mean what they
        mean in Keras, PyTorch and scikit-learn:
           "bce"  binary cross-entropy, sigmoid output, the mean over every
                  entry of -(y log(a+eps) + (1-y) log(1-a+eps)) (seed 000);
                  output delta A - Y.
           "ce"   categorical cross-entropy, softmax output, the mean over the
                  samples of -sum(y log(a+eps)); Y one-hot or integer labels;
                  output delta A - Y.
           "mse"  the mean squared error np.mean((A - Y)**2); always a mean;
                  output delta 2 * (A - Y) * f'(Z), over the entries.
           "sum_squared_error"  np.sum((A - Y)**2), seed 004's cost.
           "half_sum_squared_error"  0.5 * np.sum((A - Y)**2), THE SEEDS'
                  LOSS (001, 002, 003); output delta (A - Y) * f'(Z).
    layout : "rows" (X is (n, in), W (in, out), b (out,)) or "cols" (X is
        (in, n), W (out, in), b (out, 1)), as dense_forward. A square X
        (say 4 samples of 4 inputs in columns) fits both: nothing can tell,
        so say layout="cols" when your samples are columns.
    bias : False for nets without biases (seeds 001, 002).
    average : None (the loss's own: "bce", "ce", "mse" average; the summed
        squared errors sum), True to divide the loss and the gradients by the
        batch (by its samples, or its every entry for "mse" and "bce": seed
        000's 1/m), False to sum them (seeds 001, 003; not for "mse").
    eps : inside the logarithms of "bce" and "ce"; None is 1e-8 (seed 000's),
        0 is allowed (deeplearning.ai's compute_cost).
    dtype : np.float64 or np.float32 for every parameter.
    seed : seeds the initial weights (and shuffling when fit gets no seed).
    init : how the weights are drawn, by name: "glorot_uniform" (Xavier),
        "glorot_normal", "he_uniform", "he_normal" (Kaiming), "lecun_uniform",
        "lecun_normal", "uniform_minus_one_to_one" (the seeds'
        ``2 * np.random.random((n_in, n_out)) - 1`` from np.random.RandomState(seed))
        or "zeros"; None: He normal for relu, Glorot uniform otherwise (with
        a list of activations, each layer by its own).
        ``retroprop.parameters.INIT_DOC`` gives each formula.
    bias_init : "zeros" (the default) or one of the names above.

    The update (g a parameter's gradient, lr the update's learning rate, t
    the update's number from 1; ``retroprop.optim`` has the table):

    optimizer : "sgd"  PyTorch's SGD: ``p -= lr*g``; with momentum
                       ``v = momentum*v + g; p -= lr*v`` (nesterov:
                       ``p -= lr*(g + momentum*v)``): v sums gradients.
                "sgd_keras"  Keras's SGD, as nnfs, scikit-learn and CS231n
                       write it: ``v = momentum*v - lr*g; p += v`` (nesterov:
                       ``p += momentum*v - lr*g``): v sums steps, lr inside.
                       The two forms agree while lr is constant and part
                       when a schedule changes it.
                "adam" Adam with bias correction, as torch.optim.Adam:
                       ``m1 = beta1*m1 + (1-beta1)*g; m2 = beta2*m2 +
                       (1-beta2)*g*g; p -= lr * (m1/(1-beta1**t)) /
                       (sqrt(m2/(1-beta2**t)) + adam_eps)``. adam_eps is
                       PyTorch's ``eps`` (Keras's ``epsilon``).
    momentum, nesterov : of both SGD forms (momentum 0: plain ``p -= lr*g``).
    l2 : CS231n's ``reg`` and nnfs's ``weight_regularizer_l2``: the loss
        gets ``l2 * sum(W**2)`` and the gradient ``2 * l2 * W`` (PyTorch's
        coupled ``weight_decay=wd`` of SGD and Adam is ``l2=wd/2``).
    alpha : scikit-learn's MLP ``alpha``: ``alpha / (2*n_b) * sum(W**2)`` on
        the loss and ``alpha / n_b * W`` on the gradient, n_b the samples
        in the batch (with average=True, sklearn's objective exactly).
    weight_decay : decoupled, as torch.optim.AdamW (Loshchilov & Hutter):
        ``p *= 1 - lr*weight_decay`` before each update, not in the loss nor
        the gradient. ``optimizer="adam"`` with it is AdamW.
    decay_biases : l2, alpha and weight_decay apply to the biases too (nnfs
        regularises both); by default the weights only.
    schedule : the learning rate of each update from the base rate lr:
        "constant"     lr
        "step"         ``lr * gamma ** (epoch // step_size)`` (torch's StepLR)
        "exponential"  ``lr * gamma ** epoch`` (torch's ExponentialLR,
                       CS231n's ``learning_rate *= learning_rate_decay``)
        "inverse_time" ``lr * (1 / (1 + lr_decay * (t - 1)))`` per update
                       (nnfs's ``decay``)
        a function ``schedule(epoch) -> lr``, called before each epoch (fit
        then runs one C call per epoch).
        epoch counts from 0 over every fit of the network, like t; the
        counters, momentum's velocities and Adam's moments carry over from
        one fit to the next (``reset_optimizer()`` starts them afresh).

    The penalties of l2 and alpha are part of the loss that ``loss``,
    ``backward`` and fit's history report; weight_decay's is not.

    ``net.weights`` and ``net.biases`` are lists of plain NumPy arrays in the
    layout's shapes (``net.biases`` is None without bias, and may hold None
    for a layer without one). Change them in place, or assign new arrays of
    the same shapes: every call reads them (the settings above are
    attributes of the same names, read by each fit).

    The seeds' training, exactly (``from_arrays`` adopts their arrays)::

        # seed 000: columns, BCE, averaged, lr = tasa
        MLP.from_arrays([pesos1, pesos2], [sesgo1, sesgo2], layout="cols",
                        loss="bce", lr=tasa)
        # seed 001: rows, no bias, half the summed squared error, lr 1
        MLP.from_arrays([sinapsis0, sinapsis1], None, loss="half_sum_squared_error",
                        lr=1.0)
        # seed 003: rows, biases, half the summed squared error, lr 0.5
        MLP.from_arrays([wh, w_out], [bh, b_out], loss="half_sum_squared_error", lr=0.5)

    A fresh network::

        net = MLP([64, 32, 10], output_activation="softmax", loss="ce", lr=0.5, seed=0)
        history = net.fit(X_train, y_train, epochs=30, batch_size=32, shuffle=True)
        accuracy = (net.predict(X_test) == y_test).mean()
        adam = MLP([64, 32, 10], output_activation="softmax", loss="ce", lr=1e-3,
                   optimizer="adam", weight_decay=1e-2, seed=0)     # AdamW
    """

    _backend = _core  # the C calls; retroprop.reference.MLP runs on NumPy twins

    def __init__(self, sizes, activation="sigmoid", output_activation=None, loss="bce",
                 *, layout="rows", bias=True, lr=0.5, average=None, eps=None, optimizer="sgd",
                 momentum=0.0, nesterov=False, beta1=0.9, beta2=0.999, adam_eps=1e-8, l2=0.0,
                 alpha=0.0, weight_decay=0.0, decay_biases=False, schedule="constant",
                 gamma=None, step_size=None, lr_decay=None, dtype=np.float64, seed=None,
                 init=None, bias_init="zeros"):
        settings = dict(lr=lr, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                        beta1=beta1, beta2=beta2, adam_eps=adam_eps, l2=l2, alpha=alpha,
                        weight_decay=weight_decay, decay_biases=decay_biases,
                        schedule=schedule, gamma=gamma, step_size=step_size,
                        lr_decay=lr_decay)
        _check_config(layout, dtype)
        optim.check("MLP", **settings)
        init = parameters.check_init("MLP", init)
        bias_init = parameters.check_init("MLP", bias_init, "bias_init")
        sizes = list(sizes)
        if len(sizes) < 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                     and s >= 1 for s in sizes):
            raise ValueError(f"MLP: sizes must be at least two positive integers (inputs, ..., "
                             f"outputs), got {sizes!r}")
        self._configure(activation, output_activation, len(sizes) - 1, loss, layout, average,
                        eps, seed, settings)
        dtype = np.dtype(dtype)
        draw = parameters.Initializer(self._rng, seed).draw
        names = registry.activation_names(activation, output_activation, len(sizes) - 1)
        self.weights, biases = [], []
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            # None: by the registry's init of the hidden activation (He normal for
            # relu, Glorot uniform otherwise), or of each layer's own when
            # activation is a list of one per layer
            which = names[l] if isinstance(activation, (list, tuple)) else names[0]
            name = init or {"he": "he_normal", "glorot": "glorot_uniform"}[
                registry.ACTIVATIONS[which].init]
            if name == "uniform_minus_one_to_one":  # drawn in the layout's shape, as the seeds
                W = draw(name, n_in, n_out, (n_in, n_out) if layout == "rows" else (n_out, n_in))
            else:
                W = draw(name, n_in, n_out, (n_in, n_out))
                W = W.T if layout == "cols" else W
            self.weights.append(np.ascontiguousarray(W, dtype=dtype))
            if bias:
                b = draw(bias_init, n_in, n_out, (n_out,))
                biases.append(np.array(b.reshape((n_out,) if layout == "rows" else (n_out, 1)),
                                       dtype=dtype))
        self.biases = biases if bias else None

    def _configure(self, activation, output_activation, n_layers, loss, layout, average, eps,
                   seed, settings):
        names = registry.activation_names(activation, output_activation, n_layers)
        _, average, eps = registry.network_config(names, loss, average, eps)
        self.activation, self.output_activation = activation, output_activation
        self.loss_name, self.eps = loss, eps
        self.layout, self.average = layout, average
        for name, value in settings.items():
            setattr(self, name, value)
        self._rng = np.random.default_rng(seed)
        self._state = None
        self.activations = None
        self.history = None  # the History of the last fit

    @classmethod
    def from_arrays(cls, weights, biases=None, *, activation="sigmoid",
                    output_activation=None, loss="bce", layout="rows", lr=0.5,
                    average=None, eps=None, optimizer="sgd", momentum=0.0, nesterov=False, beta1=0.9,
                    beta2=0.999, adam_eps=1e-8, l2=0.0, alpha=0.0, weight_decay=0.0,
                    decay_biases=False, schedule="constant", gamma=None, step_size=None,
                    lr_decay=None, seed=None):
        """A network on the caller's own arrays, adopted in place (no copy).

        After ``fit`` or ``step``, the caller's arrays hold the trained values::

            net = MLP.from_arrays([sinapsis0, sinapsis1], loss="half_sum_squared_error",
                                  lr=1.0)
            net.fit(X, y, epochs=10000)     # sinapsis0 and sinapsis1 are trained

        weights : list of 2-D float32/float64 arrays in the layout's shapes,
            all of one dtype (weights[0]'s is the network's); or a dict in deeplearning.ai's naming ``{"W1": W1, "b1": b1, "W2":
            ...}`` (its W are (out, in) and b (out, 1): layout="cols"), whose
            arrays are adopted and trained in place the same way.
        biases : None, or a list of one array (or None: no bias) per layer,
            shaped as the layout says (rows: (out,) or (1, out); cols: (out, 1)
            or (out,)). None with a dict.
        The other arguments are MLP's.
        """
        settings = dict(lr=lr, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                        beta1=beta1, beta2=beta2, adam_eps=adam_eps, l2=l2, alpha=alpha,
                        weight_decay=weight_decay, decay_biases=decay_biases,
                        schedule=schedule, gamma=gamma, step_size=step_size,
                        lr_decay=lr_decay)
        if isinstance(weights, dict):
            if biases is not None:
                raise TypeError("MLP.from_arrays: with a parameter dict the biases are its b1, "
                                "b2, ...: pass biases=None")
            weights, biases = parameters.from_dict(weights)
        weights = _parameter_list(weights, "weights", "MLP.from_arrays")
        biases = None if biases is None else _parameter_list(biases, "biases",
                                                             "MLP.from_arrays")
        _check_config(layout, None)
        optim.check("MLP", **settings)
        net = cls.__new__(cls)
        net._configure(activation, output_activation, len(weights), loss, layout, average, eps,
                       seed, settings)
        net.weights = weights
        net.biases = biases
        net._check_arrays("MLP.from_arrays")
        return net

    # ------------------------------------------------------------ in and out

    def _settings(self):
        """The keywords of from_arrays that rebuild this network on its arrays."""
        return dict(activation=self.activation, output_activation=self.output_activation,
                    loss=self.loss_name, layout=self.layout, average=self.average, eps=self.eps,
                    **{name: getattr(self, name) for name in _SETTINGS})

    def to_dict(self):
        """``{"W1": weights[0], "b1": biases[0], "W2": ...}``, deeplearning.ai's
        ``parameters``: the network's own arrays (no copy)."""
        return parameters.to_dict(self)

    def save(self, file):
        """Write the parameters and the configuration to an ``.npz`` file
        (``np.savez``: a path gets ".npz" appended if it has no such suffix).
        ``MLP.load`` reads it back without pickle (``allow_pickle=False``)."""
        parameters.save(self, file)

    @classmethod
    def load(cls, file):
        """The network ``save`` wrote, on fresh arrays, ready to predict or train on."""
        return parameters.load(cls, file)

    def to_torch(self, output_activation=True):
        """A ``torch.nn.Sequential`` with copies of the weights, computing what
        ``forward`` computes on rows of samples: ``Linear, Sigmoid, Linear,
        Softmax(dim=1)``... (an identity activation adds no module). Its
        ``state_dict()`` keys are PyTorch's: "0.weight", "0.bias", "2.weight"...
        ``output_activation=False`` leaves the last activation out (logits,
        for ``nn.CrossEntropyLoss`` / ``nn.BCEWithLogitsLoss``). Needs torch."""
        return parameters.to_torch(self, output_activation)

    @classmethod
    def from_torch(cls, model, **settings):
        """A network with copies of the weights of an ``nn.Sequential`` of
        ``Linear`` layers and activations (Sigmoid, Tanh, ReLU, Identity, and
        Softmax(dim=1) last). ``settings`` are from_arrays' keywords (lr,
        layout, loss...); the loss defaults to "bce" after Sigmoid, "ce" after
        Softmax, "mse" otherwise."""
        return parameters.from_torch(cls, model, **settings)

    # ------------------------------------------------------------ helpers

    @property
    def sizes(self):
        """The widths, inputs first, read from the weights."""
        rows = self.layout == "rows"
        return [self.weights[0].shape[0 if rows else 1]] + \
            [W.shape[1 if rows else 0] for W in self.weights]

    @property
    def dtype(self):
        return self.weights[0].dtype

    @property
    def activation_names(self):
        """The activation of every layer, the output's last (from activation
        and output_activation, which may be reassigned)."""
        return registry.activation_names(self.activation, self.output_activation,
                                         len(self.weights) if self.weights else 1)

    def _config(self, where="MLP", optimizer=True):
        """The configuration dict every backend call takes, by the registry's
        rules (the names, average and eps resolved); with the loss and the
        optimiser's settings (checked again: they are attributes the user may
        have changed) unless optimizer is False (forward needs none)."""
        with _named(where):
            names = self.activation_names
            if not optimizer:
                return dict(layout=self.layout, activations=names)
            _, average, eps = registry.network_config(names, self.loss_name, self.average,
                                                      self.eps)
        # eps is None for a loss without logarithm; the C calls take a number
        config = dict(layout=self.layout, activations=names, loss=self.loss_name,
                      average=average, eps=0.0 if eps is None else eps)
        config.update(optim.check(where, **{name: getattr(self, name) for name in _SETTINGS}))
        return config

    def _check_settings(self, where):
        """Every setting the constructor checks, checked again by each call
        that uses it: ``net.momentum = 5.0`` or ``net.weights[0] = [[...]]``
        after construction is refused here, not trained with."""
        with _named(where):
            weights, biases = self.weights, self.biases
            if not isinstance(weights, (list, tuple)) or not weights:
                raise TypeError(f"MLP: weights must be a non-empty list of arrays, got "
                                f"{type(weights).__name__}")
            if biases is not None and not isinstance(biases, (list, tuple)):
                raise TypeError(f"MLP: biases must be None or a list of arrays, got "
                                f"{type(biases).__name__}")
            for name, arrays in (("weights", weights), ("biases", biases or ())):
                for i, a in enumerate(arrays):
                    if not isinstance(a, np.ndarray) and not (name == "biases" and a is None):
                        raise TypeError(f"MLP: {name}[{i}] must be a NumPy array (it is "
                                        f"trained in place), got {type(a).__name__}: assign "
                                        f"np.array(...) of the network's dtype")
            _check_config(self.layout, None)
            registry.network_config(self.activation_names, self.loss_name, self.average,
                                    self.eps)

    def _check_arrays(self, where):
        """The parameters chain and have the layout's shapes: the binding
        checks them (the one place, for retroprop.reference.MLP too), on a
        batch of one sample."""
        W = self.weights[0]
        if not isinstance(W, np.ndarray) or W.ndim != 2 or W.dtype.kind not in "biuf":
            probe = np.zeros((1, 1))  # the binding names what is wrong with W first
        else:
            n_in = W.shape[0 if self.layout == "rows" else 1]
            probe = np.zeros((1, n_in) if self.layout == "rows" else (n_in, 1), dtype=W.dtype)
        try:
            _core.net_forward(self.weights, self.biases, probe,
                              self._config(where, optimizer=False))
        except (ValueError, TypeError) as e:
            raise type(e)(f"{where}: {e}") from None

    def _targets(self, Y):
        """Y as the backend takes it: integer labels one-hot for "ce", and a
        1-D Y of a one-output net as a column (views; one-hot is a copy)."""
        if Y is None:
            raise TypeError("Y must be an array, got None")
        _refuse_masked("Y", Y)
        Y = np.asarray(Y)
        n_out = self.sizes[-1]
        if self.loss_name == "ce" and n_out > 1 and Y.ndim == 2 and 1 in Y.shape \
                and Y.shape[0 if self.layout == "cols" else 1] == 1:
            n = Y.shape[1 if self.layout == "cols" else 0]
            onehot = f"({n_out}, {n})" if self.layout == "cols" else f"({n}, {n_out})"
            raise ValueError(f"MLP: Y has shape {Y.shape}; loss='ce' takes one-hot targets, "
                             f"{onehot} here (layout={self.layout!r}), or integer labels as "
                             f"a 1-D array of {n} (y.ravel())")
        if Y.ndim == 1 and self.loss_name == "ce" and Y.dtype.kind in "iub":
            labels = Y.astype(np.intp)
            if labels.size and (labels.min() < 0 or labels.max() >= n_out):
                raise ValueError(f"MLP: labels must be in [0, {n_out}) for a net with "
                                 f"{n_out} outputs, got values from {labels.min()} to "
                                 f"{labels.max()}")
            onehot = np.zeros((labels.size, n_out), dtype=self.dtype)
            onehot[np.arange(labels.size), labels] = 1
            return onehot if self.layout == "rows" else onehot.T
        if Y.ndim == 1 and n_out == 1:
            return Y[:, None] if self.layout == "rows" else Y[None, :]
        return Y

    def _inputs(self, X):
        """X as a 2-D batch; a 1-D X is one sample (returns the flag)."""
        if X is None:
            raise TypeError("X must be an array, got None")
        _refuse_masked("X", X)
        X = np.asarray(X)
        if X.ndim == 1:
            return (X[None, :] if self.layout == "rows" else X[:, None]), True
        return X, False

    def _optimizer_state(self):
        """The optimiser's state, kept across fits: velocities (Adam: first
        moments) and Adam's second moments shaped like the parameters, and
        the counters [updates so far, epochs so far]. Made afresh when the
        parameters' shapes or dtype change."""
        params = [*self.weights, *(self.biases or [])]
        state = self._state
        if state is None or len(state["params"]) != len(params) or any(
                (a is None) != (p is None) or a is not None and (
                    a.shape != p.shape or a.dtype != p.dtype)
                for a, p in zip(state["params"], params)):
            L = len(self.weights)
            # a layer without bias has no state for its bias
            zeros = [None if p is None else np.zeros_like(p) for p in params]
            seconds = [None if p is None else np.zeros_like(p) for p in params]
            state = self._state = dict(
                params=zeros, vweights=zeros[:L], vbiases=zeros[L:] or None,
                sweights=seconds[:L], sbiases=seconds[L:] or None,
                counters=np.zeros(2, dtype=np.intp))
        return {key: value for key, value in state.items() if key != "params"}

    def reset_optimizer(self):
        """Forget the optimiser's state: momentum's velocities, Adam's
        moments, and the update and epoch counters of Adam and the schedules."""
        self._state = None

    @property
    def updates(self):
        """The number of updates made by fit so far (Adam's t)."""
        return 0 if self._state is None else int(self._state["counters"][0])

    @property
    def epochs_done(self):
        """The number of epochs fit has run so far (the schedules' epoch)."""
        return 0 if self._state is None else int(self._state["counters"][1])

    # ------------------------------------------------------------ the API

    def forward(self, X):
        """The network's output for X; every layer's activation is kept in
        ``net.activations`` (A1, ..., AL). A 1-D X is one sample."""
        self._check_settings("MLP.forward")
        with _named("MLP.forward"):
            X2, one = self._inputs(X)
            self.activations = self._backend.net_forward(self.weights, self.biases, X2,
                                                         self._config(optimizer=False))
        out = self.activations[-1]
        return out.reshape(-1) if one else out

    def predict(self, X):
        """Class labels for classifiers, outputs for regression.

        loss "ce": the index of the largest output (argmax over classes);
        loss "bce": 1 where the output is >= 0.5, else 0, shaped like the
        output; the squared errors: the output itself (seed 001's
        "predicciones"). The registry's ``Loss.predict`` says which.
        """
        A = self.forward(X)
        kind = registry.LOSSES[self.loss_name].predict
        if kind == "argmax":
            return np.argmax(A, axis=-1 if self.layout == "rows" or A.ndim == 1 else 0)
        if kind == "threshold":
            return (A >= 0.5).astype(np.intp)
        return A

    def loss(self, X, Y):
        """The loss on (X, Y), averaged if average (see the class), plus the
        L2 penalty of l2 and alpha (see MLP)."""
        self._check_settings("MLP.loss")
        with _named("MLP.loss"):
            X2, Y2 = self._inputs(X)[0], self._targets(Y)
            return self._backend.net_gradients(self.weights, self.biases, X2, Y2, None, None,
                                               self._config("MLP.loss"))

    def backward(self, X, Y):
        """Gradients of the loss on (X, Y) (with the L2 penalty's, as ``loss``):
        ``(dWs, dbs)``, lists shaped like ``weights`` and ``biases`` (dbs is
        None without biases, and holds None for a layer without a bias)."""
        self._check_settings("MLP.backward")
        with _named("MLP.backward"):
            X2, Y2 = self._inputs(X)[0], self._targets(Y)
            dWs = [np.empty_like(W) for W in self.weights]
            dbs = None if self.biases is None else \
                [None if b is None else np.empty_like(b) for b in self.biases]
            self._backend.net_gradients(self.weights, self.biases, X2, Y2, dWs,
                                        dbs if dbs is not None else [None] * len(dWs),
                                        self._config("MLP.backward"))
        return dWs, dbs

    def step(self, X, Y):
        """One forward, backward and update on the whole (X, Y); the loss
        before the update."""
        return float(self.fit(X, Y, epochs=1, progress=False)[0])

    def fit(self, X, Y, epochs=None, batch_size=None, shuffle=False, seed=None, *,
            replace=False, batches=None, validation_data=None, patience=None, min_delta=0.0,
            monitor=None, restore_best=True, callback=None, callback_every=1, progress=None):
        """Train for ``epochs`` passes over (X, Y), in C.

        epochs : the number of passes; None is 200 (scikit-learn's max_iter).
        batch_size : None for full-batch steps (the seeds), else the size of
            the minibatches (the last may be smaller).
        shuffle : reshuffle the samples every epoch, then take them in
            batches: minibatches without replacement.
        replace : instead, draw every batch's batch_size indices with
            replacement, ceil(n / batch_size) batches an epoch (CS231n's
            ``np.random.choice(n, batch_size)``).
        batches : instead, a list of integer index arrays: every epoch runs
            one update on each of these batches (``X[idx]``), in order.
        seed : makes the shuffle or the draws reproducible (None draws one
            from the network's generator).
        validation_data : ``(X_val, Y_val)``: after every epoch, the loss on
            it (as ``net.loss(X_val, Y_val)``) and, for "bce" and "ce", the
            accuracy (``np.mean(net.predict(X_val) == labels)``) go into the
            history as "val_loss" and "val_accuracy".
        patience : early stopping: stop once ``monitor`` has not improved by
            more than ``min_delta`` for ``patience`` epochs in a row (Keras's
            EarlyStopping); with ``restore_best`` the network ends with the
            parameters it had after its best epoch (``history.best_epoch``).
        monitor : "val_loss" (the default with validation_data) or "loss".
        callback : ``callback(net, epoch, logs)``, called after every
            ``callback_every`` epochs with the index of the epoch just run
            and its ``{"loss": ..., "val_loss": ...}``; returning True stops
            the fit. It runs with the GIL held, between two runs of the C
            loop (which runs uninterrupted in between).
        progress : True shows a progress bar (HTML in Jupyter, a line on
            stderr elsewhere), False never; None (the default) shows one only
            in Jupyter, once the fit has lasted a second.

        Returns a ``History``: the loss of every epoch (the sum of its
        batches' losses before their updates, with their L2 penalty, divided
        by the number of samples the epoch's batches hold if average) as a
        NumPy array, with Keras's ``history.history`` dict ("loss",
        "val_loss", "val_accuracy") beside it; ``net.history`` is the same
        object. Without validation, patience, callback, progress or a Python
        schedule, the whole fit is one C call; with them, the C loop runs in
        chunks of epochs that give exactly the same numbers as one call.

        The optimiser's state (velocities, Adam's moments, the counters of
        updates and epochs that Adam and the schedules read) carries over
        from one fit to the next; ``reset_optimizer()`` forgets it.

        Ctrl-C stops between two steps with KeyboardInterrupt; the parameters
        then hold the last complete update, and ``net.history`` the epochs
        that ended before the last run of the C loop began.

        Threads: the loop runs with the GIL released, so fits of separate
        networks in separate threads run in parallel and give exactly their
        results in sequence. Two threads fitting the *same* network at once
        do not crash and leave finite parameters, but their steps update the
        same arrays without a lock, interleaved (a step may read weights the
        other is halfway through changing): the outcome is neither fit's alone
        nor the two in sequence, and is not reproducible. Fit a network from
        one thread at a time, or give each thread its own copy
        (``MLP.from_arrays([W.copy() for W in net.weights], ...)``).
        """
        return training.fit(self, X, Y, epochs, batch_size, shuffle, seed, replace, batches,
                            validation_data, patience, min_delta, restore_best, monitor,
                            callback, callback_every, progress)

    def _prepare(self, where, X, Y):
        """(X, Y) as the C trainer takes them, the settings checked."""
        self._check_settings(where)
        with _named(where):
            return self._inputs(X)[0], self._targets(Y)

    def _batching(self, where, batch_size, shuffle, replace, batches, seed):
        """The configuration entries of how fit forms its batches (checked)."""
        run = dict(batch_size=0 if batch_size is None else int(batch_size))
        if batches is not None:
            if batch_size is not None or shuffle or replace:
                raise ValueError(f"{where}: batches are the caller's: give batch_size, "
                                 f"shuffle and replace only without them")
            batches = [np.asarray(b) for b in batches]
            if not batches or any(b.ndim != 1 or b.size == 0 or b.dtype.kind not in "iu"
                                  for b in batches):
                raise ValueError(f"{where}: batches must be a non-empty list of non-empty 1-D "
                                 f"integer index arrays")
            run.update(batching="given",
                       batch_indices=np.concatenate(batches).astype(np.intp),
                       batch_bounds=np.cumsum([0] + [b.size for b in batches], dtype=np.intp))
        elif replace:
            if batch_size is None or shuffle:
                raise ValueError(f"{where}: replace=True draws batches of batch_size indices "
                                 f"with replacement: give batch_size, and not shuffle")
            run["batching"] = "replacement"
        else:
            run["batching"] = "shuffled" if shuffle else "in_order"
        if seed is None:
            seed = int(self._rng.integers(0, 2**63)) if shuffle or replace else 0
        run["seed"] = int(seed)
        return run

    def _epochs(self, X, Y, epochs, run, shuffle_state=None):
        """One call of the C trainer: ``epochs`` passes over the prepared (X, Y)
        formed into batches as ``run`` says (``_batching``); their losses.
        ``shuffle_state`` carries the shuffling or drawing from a call to the next.
        With a Python schedule, one epoch at its learning rate."""
        config = self._config("MLP.fit")
        config.update(run, epochs=int(epochs))
        state = self._optimizer_state()
        state["shuffle_state"] = shuffle_state
        if callable(self.schedule):
            assert epochs == 1, "a Python schedule runs one epoch a call"
            lr = self.schedule(int(state["counters"][1]))
            config["lr"] = optim.check_rate("MLP.fit", "the schedule's lr", lr)
        with _named("MLP.fit"):
            return self._backend.net_fit(self.weights, self.biases, X, Y, config, state)

    def _parameters(self):
        """The arrays fit changes: weights, biases, and the optimiser's state."""
        state = self._optimizer_state()
        return [*self.weights, *(self.biases or []),
                *(a for key in ("vweights", "vbiases", "sweights", "sbiases")
                  for a in (state[key] or []))]

    def __repr__(self):
        settings = "".join(f", {name}={getattr(self, name)!r}" for name in _SETTINGS[1:]
                           if getattr(self, name) != MLP.__init__.__kwdefaults__[name])
        names = self.activation_names
        acts = (f"activation={names[0]!r}, output_activation={names[-1]!r}"
                if len(set(names[:-1])) <= 1 and len(names) > 1 else f"activation={names!r}")
        eps = f", eps={self.eps!r}" if self.eps is not None else ""
        return (f"MLP({self.sizes}, {acts}, loss={self.loss_name!r}, "
                f"layout={self.layout!r}, bias={self.biases is not None}, lr={self.lr!r}, "
                f"average={self.average}{eps}{settings}, dtype={self.dtype})")


class RedNeuronal:
    """La red de la libreta 000: XOR con 2 entradas, 2 ocultas y 1 salida.

    Seed 000's class in its own words, on top of ``MLP`` (columns layout:
    X is (entradas, muestras), binary cross-entropy averaged over the m
    samples, sigmoid everywhere)::

        red = RedNeuronal(tasa=0.5, semilla=1)
        red.pesos1, red.sesgo1, red.pesos2, red.sesgo2   # (2,2) (2,1) (1,2) (1,1)
        Y_pred = red.forward(X)        # keeps red.z1, red.act1, red.z2, red.act2
        perdida = red.perdida(Y_pred, Y)
        dPesos1, dSesgo1, dPesos2, dSesgo2 = red.backward(X, Y)
        red.actualizar(dPesos1, dSesgo1, dPesos2, dSesgo2)    # -= tasa * grad
        historia = red.entrenar(X, Y, iteraciones=10000)      # one C call

    The attributes are the arrays the network trains: assign into them
    (``red.pesos1[...] = ...``) to set weights by hand, as the seed does.
    """

    def __init__(self, entradas=2, ocultas=2, salidas=1, tasa=0.1, semilla=None):
        rng = np.random.default_rng(semilla)
        self.pesos1 = rng.standard_normal((ocultas, entradas)) * 0.01
        self.sesgo1 = np.zeros((ocultas, 1))
        self.pesos2 = rng.standard_normal((salidas, ocultas)) * 0.01
        self.sesgo2 = np.zeros((salidas, 1))
        self.tasa = tasa
        self.z1 = self.act1 = self.z2 = self.act2 = None

    def _red(self):
        # rebuilt on each call, so that reassigned attributes are used
        return MLP.from_arrays([self.pesos1, self.pesos2], [self.sesgo1, self.sesgo2],
                               layout="cols", loss="bce", lr=self.tasa)

    def forward(self, X):
        """Y_pred = sigmoide(pesos2 @ sigmoide(pesos1 @ X + sesgo1) + sesgo2)."""
        self.z1, self.act1 = _core.dense_forward(X, self.pesos1, self.sesgo1, layout="cols")
        self.z2, self.act2 = _core.dense_forward(self.act1, self.pesos2, self.sesgo2,
                                                 layout="cols")
        return self.act2

    def perdida(self, Y_pred, Y):
        """-(1/m) * sum(Y log(Y_pred + eps) + (1 - Y) log(1 - Y_pred + eps))."""
        return _core.bce(Y_pred, Y)

    def backward(self, X, Y):
        """dPesos1, dSesgo1, dPesos2, dSesgo2, averaged over the m samples."""
        (dPesos1, dPesos2), (dSesgo1, dSesgo2) = self._red().backward(X, Y)
        return dPesos1, dSesgo1, dPesos2, dSesgo2

    def actualizar(self, dPesos1, dSesgo1, dPesos2, dSesgo2):
        """pesos -= tasa * dPesos; sesgo -= tasa * dSesgo (in place)."""
        for p, g in ((self.pesos1, dPesos1), (self.sesgo1, dSesgo1),
                     (self.pesos2, dPesos2), (self.sesgo2, dSesgo2)):
            _core.sgd_update(p, g, self.tasa)

    def entrenar(self, X, Y, iteraciones=10000):
        """iteraciones pasos de forward, backward y actualizar, en una llamada a C.
        Devuelve la pérdida de cada iteración."""
        return self._red().fit(X, Y, epochs=iteraciones)

    train = entrenar

    def predecir(self, X):
        """1 where Y_pred >= 0.5, else 0."""
        return (self.forward(X) >= 0.5).astype(np.intp)
