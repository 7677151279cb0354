"""How MLP.fit updates the parameters: the optimisers, the L2 penalties, the
learning-rate schedules and the ways of forming batches, by name.

This is the one table of these names: MLP validates against it, the C
trainer (``src/kernels/rp_net.h``: ``rp_optimizer``, ``rp_schedule``,
``rp_batching``, in the same order) and its NumPy twin
(``retroprop.reference.net_fit``) implement each formula, and the tests are
parametrised over it. ``g`` is a parameter's gradient (with the coupled L2
penalty's ``c * p`` in it), ``lr`` the learning rate of the update (after the
schedule), ``t`` the number of the update counted from 1.
"""
import math
import numbers

#: name -> the update it makes
OPTIMIZERS = {
    "sgd": "PyTorch's torch.optim.SGD: p -= lr*g; with momentum v = m*v + g; p -= lr*v "
           "(nesterov: p -= lr*(g + m*v)). The velocity sums gradients; lr is outside it.",
    "sgd_keras": "Keras's SGD (also nnfs, scikit-learn, CS231n): v = m*v - lr*g; p += v "
                 "(nesterov: p += m*v - lr*g). The velocity sums steps; lr is inside it.",
    "adam": "Adam with bias correction (torch.optim.Adam): m1 = beta1*m1 + (1-beta1)*g; "
            "m2 = beta2*m2 + (1-beta2)*g*g; p -= lr * (m1/(1-beta1**t)) / "
            "(sqrt(m2/(1-beta2**t)) + adam_eps)",
}

#: name -> the learning rate of an update in epoch `epoch` (counted from 0)
#: after `t - 1` updates, from the base rate lr
SCHEDULES = {
    "constant": "lr",
    "step": "lr * gamma ** (epoch // step_size)  (torch.optim.lr_scheduler.StepLR)",
    "exponential": "lr * gamma ** epoch  (torch's ExponentialLR; CS231n's lr_decay per epoch)",
    "inverse_time": "lr * (1 / (1 + lr_decay * (t - 1)))  (nnfs's decay, per update)",
}

#: name -> how fit forms an epoch's batches (in the C enum's order)
BATCHINGS = {
    "in_order": "samples [0, b), [b, 2b), ... in their order (full batch when batch_size "
                "is None)",
    "shuffled": "the same after a Fisher-Yates shuffle each epoch: without replacement",
    "replacement": "ceil(n / b) batches of b indices drawn with replacement each epoch "
                   "(CS231n's np.random.choice(n, b))",
    "given": "the caller's batches of indices, in their order, every epoch",
}


def check_rate(where, name, value, low=0.0, high=None):
    """value as a float, if it is a finite real number in [low, high) (high None:
    no upper bound); else a ValueError naming where and name."""
    # a plain float or int: no abstract-class checks (fit checks every setting each call)
    if (type(value) is float or type(value) is int) and low <= value < math.inf \
            and (high is None or value < high):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < low:
        raise ValueError(f"{where}: {name} must be a finite number >= {low:g}, got {value!r}")
    if high is not None and value >= high:
        raise ValueError(f"{where}: {name} must be in [{low:g}, {high:g}), got {value!r}")
    return float(value)


def check(where, *, lr, optimizer, momentum, nesterov, beta1, beta2, adam_eps, l2, alpha,
          weight_decay, decay_biases, schedule, gamma, step_size, lr_decay):
    """The optimiser's settings, checked (the one place these rules live);
    returns the configuration entries the trainer reads."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"{where}: unknown optimizer {optimizer!r}; expected one of "
                         f"{', '.join(map(repr, OPTIMIZERS))}")
    if not callable(schedule) and schedule not in SCHEDULES:
        raise ValueError(f"{where}: unknown schedule {schedule!r}; expected one of "
                         f"{', '.join(map(repr, SCHEDULES))}, or a function of the epoch "
                         f"returning its learning rate")
    config = dict(lr=check_rate(where, "lr", lr), optimizer=optimizer,
                  momentum=check_rate(where, "momentum", momentum, high=1.0),
                  nesterov=bool(nesterov),
                  l2=2.0 * check_rate(where, "l2", l2),
                  l2_per_batch=check_rate(where, "alpha", alpha),
                  weight_decay=check_rate(where, "weight_decay", weight_decay),
                  decay_biases=bool(decay_biases))
    if nesterov and (optimizer == "adam" or momentum == 0):
        raise ValueError(f"{where}: nesterov needs optimizer 'sgd' or 'sgd_keras' with "
                         f"momentum > 0")
    if optimizer == "adam":
        config.update(beta1=check_rate(where, "beta1", beta1, high=1.0),
                      beta2=check_rate(where, "beta2", beta2, high=1.0),
                      adam_eps=check_rate(where, "adam_eps", adam_eps))
    if schedule in ("step", "exponential"):
        if gamma is None:
            raise ValueError(f"{where}: schedule {schedule!r} needs gamma (lr is multiplied "
                             f"by it every {'step_size epochs' if schedule == 'step' else 'epoch'})")
        config["gamma"] = check_rate(where, "gamma", gamma)
    if schedule == "step":
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) \
                or step_size < 1:
            raise ValueError(f"{where}: schedule 'step' needs step_size, a positive number of "
                             f"epochs, got {step_size!r}")
        config["step_size"] = int(step_size)
    if schedule == "inverse_time":
        if lr_decay is None:
            raise ValueError(f"{where}: schedule 'inverse_time' needs lr_decay "
                             f"(lr / (1 + lr_decay * t))")
        config["lr_decay"] = check_rate(where, "lr_decay", lr_decay)
    if not callable(schedule):
        config["schedule"] = schedule
    return config
