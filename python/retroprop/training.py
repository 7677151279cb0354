"""MLP.fit's loop around the C trainer: validation, early stopping, callbacks, progress.

The C trainer runs whole epochs with the GIL released. ``fit`` calls it for
runs of epochs ("chunks") and does its per-epoch work in Python between two
runs: the validation loss and accuracy, early stopping, the user's callback,
the progress display. Nothing runs in Python per step. A fit in chunks is
the same fit as in one call, to the bit: the C loop hands back its shuffling
state (the generator and the order of the samples) and takes it again.

Without validation data, patience, callback or progress, ``fit`` is one C
call, as it always was.
"""
import math
import numbers
import time

import numpy as np

from .progress import Progress, progress_wanted

DEFAULT_EPOCHS = 200  # scikit-learn's MLPClassifier(max_iter=200)


class History(np.ndarray):
    """The training loss of every epoch, with Keras's ``History`` beside it.

    It is the 1-D float64 array ``fit`` always returned (index it, plot it,
    compare it), and it also has::

        h.history["loss"]           # the same losses, a NumPy array
        h.history["val_loss"]       # with validation_data: the loss on it
        h.history["val_accuracy"]   # ... and the accuracy, for classifiers
        h.epoch                     # [0, 1, ..., len(h) - 1]
        h.best_epoch                # with patience: the epoch whose weights the net kept
        h.stopped_epoch             # the last epoch run, if the fit stopped early, else None

    Arithmetic on it gives plain NumPy arrays.
    """

    def __new__(cls, losses, history=None, best_epoch=None, stopped_epoch=None):
        obj = np.asarray(losses, dtype=np.float64).reshape(-1).view(cls)
        obj.history = {"loss": np.asarray(losses, dtype=np.float64).reshape(-1)}
        obj.history.update(history or {})
        obj.best_epoch = best_epoch
        obj.stopped_epoch = stopped_epoch
        return obj

    def __array_finalize__(self, obj):
        self.history = getattr(obj, "history", None)
        self.best_epoch = getattr(obj, "best_epoch", None)
        self.stopped_epoch = getattr(obj, "stopped_epoch", None)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        array = array.view(np.ndarray)
        return array[()] if return_scalar or array.ndim == 0 else array

    def __getitem__(self, key):
        item = super().__getitem__(key)
        return item.view(np.ndarray) if isinstance(item, np.ndarray) else item

    def __reduce__(self):  # pickles as the plain array of losses
        return np.asarray(self).copy().__reduce__()

    @property
    def epoch(self):
        return list(range(len(self)))


def _positive_int(where, name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {name} must be {'None or ' if allow_none else ''}a "
                         f"positive integer, got {value!r}")
    return int(value)


class _Validation:
    """validation_data converted once, and the loss (and accuracy) it gives."""

    def __init__(self, net, data, where):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise TypeError(f"{where}: validation_data must be a pair (X_val, Y_val), got "
                            f"{type(data).__name__}"
                            f"{' of length %d' % len(data) if isinstance(data, (tuple, list)) else ''}")
        self.net = net
        X, Y = data
        if X is None or Y is None:
            raise TypeError(f"{where}: validation_data must be a pair of arrays (X_val, Y_val), "
                            f"got {type(X).__name__} and {type(Y).__name__}")
        try:
            self.X = net._inputs(X)[0]
            self.Y = net._targets(Y)
            self.labels = self._labels(np.asarray(Y))
            self.evaluate()  # the shapes fit the network: checked before any training
        except (ValueError, TypeError) as e:
            message = str(e)
            for prefix in ("MLP.loss: ", "MLP.forward: ", "MLP: "):
                if message.startswith(prefix):
                    message = message[len(prefix):]
            raise type(e)(f"{where}: validation_data: {message}") from None

    def _labels(self, Y):
        """The labels predict() is compared with, or None for regression."""
        loss = self.net.loss_name
        if loss == "ce":
            if Y.ndim == 1:
                return Y
            return np.argmax(Y, axis=-1 if self.net.layout == "rows" else 0)
        if loss == "bce":
            return self.Y
        return None

    def evaluate(self):
        logs = {"val_loss": float(self.net.loss(self.X, self.Y))}
        if self.labels is not None:
            predicted = self.net.predict(self.X)
            logs["val_accuracy"] = float(np.mean(predicted == self.labels))
        return logs


def fit(net, X, Y, epochs, batch_size, shuffle, seed, replace, batches, validation_data,
        patience, min_delta, restore_best, monitor, callback, callback_every, progress):
    """MLP.fit (see its docstring)."""
    where = "MLP.fit"
    if epochs is None:
        epochs = DEFAULT_EPOCHS
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"{where}: epochs must be a positive integer, got {epochs!r}")
    if epochs >= 2**60:  # the history would not fit in memory
        raise ValueError(f"{where}: epochs must be less than 2**60, got {epochs!r}")
    epochs = int(epochs)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, numbers.Integral) or batch_size < 1):
        raise ValueError(f"{where}: batch_size must be None or a positive integer, got "
                         f"{batch_size!r}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(
            patience, numbers.Integral) or patience < 0):
        raise ValueError(f"{where}: patience must be None or an integer >= 0, got {patience!r}")
    if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) \
            or not math.isfinite(min_delta) or min_delta < 0:
        raise ValueError(f"{where}: min_delta must be a finite number >= 0, got {min_delta!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"{where}: callback must be callable as callback(net, epoch, logs), "
                        f"got {type(callback).__name__}")
    callback_every = _positive_int(where, "callback_every", callback_every)
    if progress not in (None, True, False):
        raise ValueError(f"{where}: progress must be None (in Jupyter when the fit lasts over "
                         f"a second), True or False, got {progress!r}")
    X2, Y2 = net._prepare(where, X, Y)
    validation = None if validation_data is None else _Validation(net, validation_data, where)
    if monitor is None:
        monitor = "val_loss" if validation is not None else "loss"
    if monitor not in ("loss", "val_loss"):
        raise ValueError(f"{where}: monitor must be 'loss' or 'val_loss', got {monitor!r}")
    if monitor == "val_loss" and validation is None and patience is not None:
        raise ValueError(f"{where}: monitor='val_loss' needs validation_data=(X_val, Y_val)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or not 0 <= seed < 2**64):
        raise (ValueError if isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
               else TypeError)(
            f"{where}: seed must be None or an integer in [0, 2**64), got {seed!r}")
    run = net._batching(where, batch_size, shuffle, replace, batches, seed)
    # a Python learning-rate schedule: one C run per epoch, at the lr it gives
    python_schedule = callable(net.schedule)

    display = progress_wanted(progress)
    if validation is None and patience is None and callback is None and display is None \
            and not python_schedule:
        try:
            losses = net._epochs(X2, Y2, epochs, run)  # one C call, as fit always was
        except KeyboardInterrupt as e:
            # the C loop hands over the losses of the epochs it finished
            net.history = History(getattr(e, "history", np.zeros(0)))
            raise
        net.history = History(losses)
        return net.history

    n = X2.shape[0 if net.layout == "rows" else 1]
    shuffle_state = None
    if run["batching"] in ("shuffled", "replacement"):
        shuffle_state = np.empty(n + 1, dtype=np.uint64)
        shuffle_state[0] = np.uint64(run["seed"])
        shuffle_state[1:] = np.arange(n, dtype=np.uint64)
    per_epoch = validation is not None or patience is not None or python_schedule
    losses = np.zeros(epochs)
    logs_by_name = {}
    best, best_epoch, best_params, waited = math.inf, None, None, 0
    stopped_epoch = None
    done = 0
    net.history = History(losses[:0])
    bar = Progress(epochs, display) if display is not None else None
    # with a display only, runs of epochs that last about bar.interval each
    seconds_per_epoch = _estimated_seconds_per_epoch(net, n)
    try:
        while done < epochs:
            count = epochs - done
            if per_epoch:
                count = 1
            if callback is not None:
                count = min(count, callback_every - done % callback_every)
            if bar is not None:
                count = min(count, max(1, int(bar.interval / max(seconds_per_epoch, 1e-9))))
            start = time.perf_counter()
            losses[done:done + count] = net._epochs(X2, Y2, count, run, shuffle_state)
            seconds_per_epoch = (time.perf_counter() - start) / count
            done += count
            logs = {"loss": float(losses[done - 1])}
            if validation is not None:
                logs.update(validation.evaluate())
                for name, value in logs.items():
                    if name != "loss":
                        logs_by_name.setdefault(name, []).append(value)
            stop = False
            if patience is not None:
                value = logs[monitor]
                if value < best - min_delta:
                    best, best_epoch, waited = value, done - 1, 0
                    if restore_best:
                        best_params = [p.copy() for p in net._parameters()]
                else:
                    waited += 1
                    stop = waited >= patience
            if callback is not None and done % callback_every == 0:
                # built when something may read it: a per-epoch copy would be O(epochs**2)
                net.history = _history(losses[:done], logs_by_name, best_epoch, None)
                if callback(net, done - 1, dict(logs)) is True:
                    stop = True
            if bar is not None:
                bar.update(done, logs)
            if stop:
                stopped_epoch = done - 1 if done < epochs else None
                break
    except BaseException as e:
        finished = getattr(e, "history", None) if isinstance(e, KeyboardInterrupt) else None
        kept = done
        if finished is not None:  # the epochs the interrupted run of the C loop finished
            losses[done:done + len(finished)] = finished
            kept += len(finished)
        if validation is not None:
            # an epoch whose validation was interrupted is not a finished epoch: the
            # history keeps its columns the same length
            kept = min(kept, len(logs_by_name.get("val_loss", ())))
        net.history = _history(losses[:kept], logs_by_name, best_epoch, None)
        if bar is not None:
            bar.close(interrupted=True)
        raise
    if best_params is not None and best_epoch != done - 1:
        for p, kept in zip(net._parameters(), best_params):
            np.copyto(p, kept)
    net.history = _history(losses[:done], logs_by_name, best_epoch, stopped_epoch)
    if bar is not None:
        bar.close()
    return net.history


def _history(losses, logs_by_name, best_epoch, stopped_epoch):
    return History(losses.copy(), {k: np.array(v) for k, v in logs_by_name.items()},
                   best_epoch=best_epoch, stopped_epoch=stopped_epoch)


def _estimated_seconds_per_epoch(net, n):
    """A guess before the first run: ~6 flops per weight and sample at 1 GFLOP/s."""
    sizes = net.sizes
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 6.0 * n * weights / 1e9
