"""An MLP's parameters in and out: initialisation by name, deeplearning.ai's
``{"W1", "b1", ...}`` dicts, ``.npz`` files, and PyTorch's ``nn.Sequential``.

    net = MLP([64, 32, 10], init="xavier_uniform", ...)    # weights by name
    net = MLP.from_arrays({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, layout="cols")
    net.to_dict()                  # {"W1": net.weights[0], "b1": net.biases[0], ...}
    net.save("digits.npz"); MLP.load("digits.npz")     # no pickle
    model = net.to_torch(); MLP.from_torch(model)      # torch imported only here

torch is imported only inside ``to_torch`` and ``from_torch``.
"""
import json
import math
import re

import numpy as np

# name -> (distribution, scale(n_in, n_out)): uniform draws U(-s, s), normal N(0, s**2)
_INITS = {
    "glorot_uniform": ("uniform", lambda i, o: math.sqrt(6.0 / (i + o))),
    "glorot_normal": ("normal", lambda i, o: math.sqrt(2.0 / (i + o))),
    "he_uniform": ("uniform", lambda i, o: math.sqrt(6.0 / i)),
    "he_normal": ("normal", lambda i, o: math.sqrt(2.0 / i)),
    "lecun_uniform": ("uniform", lambda i, o: math.sqrt(3.0 / i)),
    "lecun_normal": ("normal", lambda i, o: math.sqrt(1.0 / i)),
    "zeros": ("zeros", None),
    # the seeds' 2 * np.random.random((n_in, n_out)) - 1, from np.random.RandomState(seed)
    "uniform_minus_one_to_one": ("seeds", None),
}
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal"}
INITS = tuple(sorted(_INITS) + sorted(_ALIASES))
INIT_DOC = """init : how the weights are drawn, for a layer of n_in inputs and n_out outputs:
        "glorot_uniform" ("xavier_uniform")  U(-sqrt(6 / (n_in + n_out)), +...)
        "glorot_normal" ("xavier_normal")    N(0, 2 / (n_in + n_out))
        "he_uniform" ("kaiming_uniform")     U(-sqrt(6 / n_in), +...)
        "he_normal" ("kaiming_normal")       N(0, 2 / n_in)
        "lecun_uniform"                      U(-sqrt(3 / n_in), +...)
        "lecun_normal"                       N(0, 1 / n_in)
        "uniform_minus_one_to_one"           2 * np.random.random((n_in, n_out)) - 1,
            the seeds' draw: with seed=1 it is seed 001's np.random.seed(1) weights
        "zeros"
        None: "he_normal" for relu hidden layers, "glorot_uniform" otherwise.
        (PyTorch's gain-free formulas; the normal ones are not truncated.)
    bias_init : "zeros" (the default) or any name above."""


def check_init(where, name, argument="init"):
    """The canonical name of an initialisation, or a ValueError naming the choices."""
    if name is None and argument == "init":
        return None
    if isinstance(name, str):
        name = _ALIASES.get(name, name)
        if name in _INITS:
            return name
    raise ValueError(f"{where}: unknown {argument} {name!r}; expected one of "
                     f"{', '.join(map(repr, INITS))}" + (" or None" if argument == "init" else ""))


class Initializer:
    """Draws each layer's (n_in, n_out) array in turn, from one seed."""

    def __init__(self, rng, seed):
        self.rng = rng          # the network's generator (it shuffles later)
        self.seed = seed
        self._legacy = None

    def draw(self, name, n_in, n_out, shape):
        kind, scale = _INITS[name]
        if kind == "zeros":
            return np.zeros(shape)
        if kind == "seeds":
            if self._legacy is None:
                self._legacy = np.random.RandomState(self.seed)
            return 2 * self._legacy.random_sample(shape) - 1
        s = scale(n_in, n_out)
        if kind == "uniform":
            return self.rng.uniform(-s, s, size=shape)
        return self.rng.normal(0.0, s, size=shape)


# ------------------------------------------------------------ dicts

_KEY = re.compile(r"^([Wb])([1-9][0-9]*)$")


def from_dict(parameters, where="MLP.from_arrays"):
    """{"W1": ..., "b1": ..., "W2": ...} -> (weights, biases): the same arrays, in order."""
    found = {"W": {}, "b": {}}
    for key in parameters:
        match = _KEY.match(key) if isinstance(key, str) else None
        if match is None:
            raise ValueError(f"{where}: a parameter dict has keys W1, b1, W2, b2, ... "
                             f"(deeplearning.ai's naming), got the key {key!r}")
        found[match.group(1)][int(match.group(2))] = parameters[key]
    L = len(found["W"])
    if L == 0 or sorted(found["W"]) != list(range(1, L + 1)):
        raise ValueError(f"{where}: a parameter dict needs W1 ... WL without gaps, got "
                         f"{', '.join('W%d' % i for i in sorted(found['W'])) or 'no W'}")
    extra = sorted(set(found["b"]) - set(found["W"]))
    if extra:
        raise ValueError(f"{where}: the parameter dict has b{extra[0]} but no W{extra[0]}")
    weights = [found["W"][i] for i in range(1, L + 1)]
    if not found["b"]:
        return weights, None
    return weights, [found["b"].get(i) for i in range(1, L + 1)]


def to_dict(net):
    """{"W1": net.weights[0], "b1": net.biases[0], ...}: the network's own arrays."""
    out = {}
    for i, W in enumerate(net.weights):
        out[f"W{i + 1}"] = W
        b = None if net.biases is None else net.biases[i]
        if b is not None:
            out[f"b{i + 1}"] = b
    return out


# ------------------------------------------------------------ .npz files

FORMAT = "retroprop.MLP 1"


def save(net, file):
    """np.savez of the parameters (W1, b1, ...), the optimiser's state (its
    velocities or Adam's first moments vW1, vb1, ..., Adam's second moments
    sW1, sb1, ..., the counters of updates and epochs) and the configuration
    as JSON text: loadable with allow_pickle=False."""
    if callable(net.schedule):
        raise TypeError("MLP.save: a Python schedule function cannot be saved as JSON; set "
                        "net.schedule to one of retroprop.optim.SCHEDULES first")
    arrays = {k: np.asarray(v) for k, v in to_dict(net).items()}
    if net._state is not None:
        state = net._optimizer_state()
        for prefix, key in (("v", "vweights"), ("s", "sweights")):
            for i, a in enumerate(state[key]):
                arrays[f"{prefix}W{i + 1}"] = a
            for i, a in enumerate(state[key.replace("weights", "biases")] or []):
                arrays[f"{prefix}b{i + 1}"] = a
        arrays["counters"] = state["counters"]
    config = dict(format=FORMAT, settings=net._settings(),
                  biases=[net.biases is not None and net.biases[i] is not None
                          for i in range(len(net.weights))])
    arrays["config"] = np.array(json.dumps(config))
    np.savez(file, **arrays)


def load(cls, file):
    """The network save() wrote, on fresh arrays."""
    where = f"{cls.__name__}.load"
    with np.load(file, allow_pickle=False) as data:
        if "config" not in data.files:
            raise ValueError(f"{where}: {file!r} was not written by MLP.save (no 'config' entry)")
        config = json.loads(str(data["config"]))
        if config.get("format") != FORMAT:
            raise ValueError(f"{where}: {file!r} has format {config.get('format')!r}, expected "
                             f"{FORMAT!r}")
        arrays = {k: data[k] for k in data.files if k != "config"}
    state = {k: arrays.pop(k) for k in list(arrays) if k[0] in "vs" or k == "counters"}
    weights, biases = from_dict(arrays, where)
    if biases is not None and all(b is None for b in biases):
        biases = None
    net = cls.from_arrays(weights, biases, **config["settings"])
    if state:
        saved = net._optimizer_state()
        for prefix, key in (("v", "vweights"), ("s", "sweights")):
            W, b = from_dict({k[1:]: v for k, v in state.items() if k[0] == prefix}, where)
            for into, values in ((saved[key], W), (saved[key.replace("weights", "biases")], b)):
                for a, v in zip(into or [], values or []):
                    a[...] = v
        saved["counters"][...] = state["counters"]
    return net


# ------------------------------------------------------------ PyTorch

def _torch(where):
    try:
        import torch
    except ImportError:
        raise ImportError(f"{where} needs PyTorch (pip install torch); retroprop itself does "
                          f"not") from None
    return torch


def _torch_activation(torch, name, where):
    nn = torch.nn
    modules = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
    if name == "identity":
        return None
    if name == "softmax":
        return nn.Softmax(dim=1)
    if name in modules:
        return modules[name]()
    raise ValueError(f"{where}: PyTorch has no module for the activation {name!r} here")


def to_torch(net, output_activation=True):
    """An nn.Sequential computing what net.forward computes (on rows of samples):
    Linear, activation, ..., Linear, output activation. The weights are copies
    in the network's dtype; the state_dict keys are "0.weight", "0.bias", ..."""
    where = "MLP.to_torch"
    torch = _torch(where)
    modules = []
    L = len(net.weights)
    for i, W in enumerate(net.weights):
        W = np.asarray(W)
        weight = W.T if net.layout == "rows" else W  # torch's (out, in)
        b = None if net.biases is None else net.biases[i]
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=b is not None,
                                 dtype=torch.float64 if W.dtype == np.float64 else torch.float32)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            if b is not None:
                linear.bias.copy_(torch.from_numpy(np.ascontiguousarray(b).reshape(-1)))
        modules.append(linear)
        last = i == L - 1
        if last and not output_activation:
            break
        act = _torch_activation(torch, net.activation_names[i], where)
        if act is not None:
            modules.append(act)
    return torch.nn.Sequential(*modules)


def from_torch(cls, model, **settings):
    """A network with a copy of an nn.Sequential's weights: Linear layers, each
    followed by nothing, nn.Identity, nn.Sigmoid, nn.Tanh or nn.ReLU (the same
    for every hidden layer), the last by those or nn.Softmax(dim=1 or -1).
    settings: MLP's keywords (loss, lr, layout, ...); the loss defaults to "bce"
    after a sigmoid output, "ce" after softmax, else "mse"."""
    where = f"{cls.__name__}.from_torch"
    torch = _torch(where)
    nn = torch.nn
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"{where}: model must be a torch.nn.Sequential of Linear layers and "
                        f"activations, got {type(model).__name__}")
    names = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.Identity: "identity"}
    linears, after = [], []
    for index, module in enumerate(model):
        if isinstance(module, nn.Linear):
            linears.append(module)
            after.append(None)
            continue
        if type(module) in names:
            name = names[type(module)]
        elif isinstance(module, nn.Softmax) and module.dim in (1, -1):
            name = "softmax"
        else:
            raise ValueError(f"{where}: model[{index}] is {module!r}; supported: Linear, "
                             f"Identity, Sigmoid, Tanh, ReLU, and Softmax(dim=1) last")
        if not linears or after[-1] is not None:
            raise ValueError(f"{where}: model[{index}] ({module!r}) must follow a Linear layer")
        after[-1] = name
    if not linears:
        raise ValueError(f"{where}: model has no Linear layer")
    after = ["identity" if a is None else a for a in after]
    hidden = set(after[:-1]) or {"sigmoid"}
    if len(hidden) > 1:
        raise ValueError(f"{where}: the hidden layers have different activations "
                         f"({', '.join(after[:-1])}); this MLP takes one for all of them")
    if "softmax" in hidden:
        raise ValueError(f"{where}: Softmax must be the last module")
    output = after[-1]
    dtypes = {m.weight.dtype for m in linears}
    if dtypes - {torch.float32, torch.float64} or len(dtypes) > 1:
        raise TypeError(f"{where}: the Linear layers must all be float32 or all float64, got "
                        f"{', '.join(sorted(str(d) for d in dtypes))}")
    layout = settings.get("layout", "rows")
    weights, biases = [], []
    for m in linears:
        W = m.weight.detach().cpu().numpy()  # shares the tensor's memory: copied below
        weights.append(np.array(W.T if layout == "rows" else W, order="C", copy=True))
        if m.bias is None:
            biases.append(None)
        else:
            b = np.array(m.bias.detach().cpu().numpy(), copy=True)
            biases.append(b if layout == "rows" else b.reshape(-1, 1))
    if all(b is None for b in biases):
        biases = None
    loss = {"sigmoid": "bce", "softmax": "ce"}.get(output, "mse")
    settings = dict(dict(activation=hidden.pop(), output_activation=output, loss=loss),
                    **settings)
    return cls.from_arrays(weights, biases, **settings)
