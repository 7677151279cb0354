"""scikit-learn's estimator protocol on retroprop's MLP: MLPClassifier and MLPRegressor.

    from retroprop import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=50, random_state=0)
    clf.fit(X_train, y_train)               # returns clf
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)
    clf.classes_, clf.loss_curve_, clf.n_iter_, clf.net_      # net_: the retroprop.MLP
    sklearn.model_selection.cross_val_score(clf, X, y)       # clone() works

The names of the settings are scikit-learn's MLPClassifier's where they mean
the same (hidden_layer_sizes, activation, batch_size, learning_rate_init,
momentum, max_iter, shuffle, random_state, tol, n_iter_no_change,
early_stopping, validation_fraction, verbose), with retroprop's own beside
them (init, dtype). The training is retroprop's MLP.fit: minibatch SGD with
momentum (``v = momentum * v + g; p -= learning_rate_init * v``) in C.

scikit-learn is not needed to use these classes (only its tag objects are
imported, by scikit-learn itself, when it asks for them).
"""
import inspect
import numbers
import sys
import warnings

import numpy as np

from .network import MLP

# MLP's loss for regression: half the summed squared error, averaged over the
# samples (average=True): scikit-learn's MLPRegressor trains on it (its
# gradient is (p - y) / n; its loss ((y - p)**2).mean() / 2 for one output).
_REGRESSION_LOSS = "half_sum_squared_error"


class NotFittedError(ValueError, AttributeError):
    """predict (or the like) before fit; a ValueError and an AttributeError,
    as scikit-learn's NotFittedError."""


class DataConversionWarning(UserWarning):
    """y of shape (n, 1) was taken as the 1-D y it holds."""


_COMBINED = {}


def _sklearn_flavoured(ours, module, name):
    """``ours``, or, when scikit-learn is already imported, a class deriving from
    both it and scikit-learn's class of that name, so that either catches it
    (scikit-learn's checks look for theirs). Never imports scikit-learn."""
    if "sklearn" not in sys.modules:
        return ours
    if name not in _COMBINED:
        try:
            theirs = getattr(__import__(module, fromlist=[name]), name)
            _COMBINED[name] = type(name, (ours, theirs), {"__module__": __name__})
        except (ImportError, AttributeError, TypeError):
            _COMBINED[name] = ours
    return _COMBINED[name]


def _is_sparse(X):
    return type(X).__module__.startswith("scipy.sparse") or hasattr(X, "tocsr")


def _check_X(X, where, dtype):
    """X as a 2-D finite float array of ``dtype``, or a ValueError/TypeError saying why."""
    if X is None:
        raise ValueError(f"{where}: X must be an array of shape (n_samples, n_features), got "
                         f"None")
    if _is_sparse(X):
        raise TypeError(f"{where}: X is a sparse matrix; this estimator takes dense arrays "
                        f"(X.toarray() gives one)")
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError(f"{where}: Complex data not supported, got X of dtype {X.dtype}")
    if X.dtype.kind not in "fiub":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: X must hold numbers, got dtype {X.dtype}: "
                          f"{e}") from None
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D (n_samples, n_features), got shape "
                         f"{X.shape}. Reshape your data: X.reshape(-1, 1) if it has a single "
                         f"feature, X.reshape(1, -1) if it is a single sample")
    if X.shape[0] == 0:
        raise ValueError(f"{where}: Found array with 0 sample(s) (shape={X.shape}) while a "
                         f"minimum of 1 is required.")
    if X.shape[1] == 0:
        raise ValueError(f"{where}: Found array with 0 feature(s) (shape={X.shape}) while a "
                         f"minimum of 1 is required.")
    X = np.asarray(X, dtype=dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"{where}: Input X contains NaN or infinity; this estimator needs "
                         f"finite values")
    return X


def _check_y(y, n, where):
    if y is None:
        raise ValueError(f"{where}: requires y to be passed, but the target y is None")
    if _is_sparse(y):
        raise TypeError(f"{where}: y is a sparse matrix; pass a dense array")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(f"A column-vector y was passed when a 1d array was expected: "
                      f"{where} takes y of shape {y.shape} as y.ravel(), of shape "
                      f"({y.shape[0]},)",
                      _sklearn_flavoured(DataConversionWarning, "sklearn.exceptions",
                                         "DataConversionWarning"), stacklevel=3)
        y = y[:, 0]
    if y.shape[:1] != (n,):
        raise ValueError(f"{where}: X has {n} samples but y has shape {y.shape}")
    return y


def _generator(random_state):
    """A np.random.Generator from None, an int, a RandomState or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None or (isinstance(random_state, numbers.Integral)
                                and not isinstance(random_state, bool)):
        return np.random.default_rng(random_state)
    raise ValueError(f"random_state must be None, an int, a np.random.RandomState or a "
                     f"np.random.Generator, got {random_state!r}")


class _Estimator:
    """What both estimators share: parameters, validation and the training run."""

    _mlp_output = None  # (output_activation, loss) of the subclass
    _mlp = MLP          # the network class (the tests put retroprop.reference.MLP here)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, batch_size="auto",
                 learning_rate_init=0.01, momentum=0.9, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, init=None, dtype=np.float64, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.init = init
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------ scikit-learn's protocol

    @classmethod
    def _get_param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """The constructor's arguments, as scikit-learn's BaseEstimator gives them."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor arguments (they take effect at the next fit); returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}(). Valid parameters are: {valid!r}.")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__)
                    .parameters.values() if p.name != "self"}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if not (v is defaults.get(k) or (type(v) is type(defaults.get(k))
                                                    and _equal(v, defaults.get(k))))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    # ------------------------------------------------ helpers

    def _where(self, method):
        return f"{type(self).__name__}.{method}"

    def _fitted(self, method):
        if not hasattr(self, "net_"):
            error = _sklearn_flavoured(NotFittedError, "sklearn.exceptions", "NotFittedError")
            raise error(f"{self._where(method)}: this {type(self).__name__} instance is "
                        f"not fitted yet; call 'fit' with appropriate arguments before "
                        f"using {method}.")

    def _features(self, X, method):
        """X checked against the fitted number of features."""
        X = _check_X(X, self._where(method), self.net_.dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{self._where(method)}: X has {X.shape[1]} features, but "
                             f"{type(self).__name__} is expecting {self.n_features_in_} "
                             f"features as input.")
        return X

    def _check_settings(self, where):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                    and s >= 1 for s in sizes):
            raise ValueError(f"{where}: hidden_layer_sizes must be a tuple of positive "
                             f"integers, got {self.hidden_layer_sizes!r}")
        activation = {"logistic": "sigmoid"}.get(self.activation, self.activation)
        for name in ("max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
        batch = self.batch_size
        if not (batch == "auto" if isinstance(batch, str) else (
                isinstance(batch, numbers.Integral) and not isinstance(batch, bool)
                and batch >= 1)):
            raise ValueError(f"{where}: batch_size must be 'auto' or a positive integer, got "
                             f"{batch!r}")
        fraction = self.validation_fraction
        if self.early_stopping and not (isinstance(fraction, numbers.Real)
                                        and 0 < fraction < 1):
            raise ValueError(f"{where}: validation_fraction must be in (0, 1), got "
                             f"{fraction!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) \
                or not self.tol >= 0:
            raise ValueError(f"{where}: tol must be a number >= 0, got {self.tol!r}")
        return [int(s) for s in sizes], activation

    def _new_net(self, n_in, n_out, rng):
        where = self._where("fit")
        sizes, activation = self._check_settings(where)
        output_activation, loss = self._mlp_output
        try:
            return self._mlp([n_in, *sizes, n_out], activation, output_activation, loss,
                       average=True, lr=self.learning_rate_init, momentum=self.momentum, dtype=self.dtype,
                       seed=int(rng.integers(0, 2**63)), init=self.init)
        except (ValueError, TypeError) as e:
            message = str(e)
            raise type(e)(f"{where}: {message[5:] if message.startswith('MLP: ') else message}"
                          ) from None

    def _batch(self, n):
        return min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)

    def _train(self, X, Y, rng, epochs, first):
        """MLP.fit over (X, Y), with scikit-learn's stopping rules when `first` (fit)."""
        net = self.net_
        fit = dict(batch_size=self._batch(X.shape[0]), shuffle=bool(self.shuffle),
                   seed=int(rng.integers(0, 2**63)), progress=bool(self.verbose))
        if first and self.early_stopping:
            n = X.shape[0]
            n_val = min(max(1, int(round(self.validation_fraction * n))), n - 1)
            if n_val < 1:
                raise ValueError(f"{self._where('fit')}: early_stopping needs at least 2 "
                                 f"samples (one to validate on), got {n} sample(s)")
            order = rng.permutation(n)
            val, train = order[:n_val], order[n_val:]
            history = net.fit(X[train], Y[train], epochs, validation_data=(X[val], Y[val]),
                              patience=self.n_iter_no_change, min_delta=float(self.tol),
                              restore_best=True, **dict(fit, batch_size=self._batch(len(train))))
            self.validation_loss_curve_ = list(history.history["val_loss"])
            if "val_accuracy" in history.history:
                self.validation_scores_ = list(history.history["val_accuracy"])
                self.best_validation_score_ = max(self.validation_scores_)
        elif first:
            history = net.fit(X, Y, epochs, patience=self.n_iter_no_change,
                              min_delta=float(self.tol), monitor="loss", restore_best=False,
                              **fit)
        else:
            history = net.fit(X, Y, epochs, **fit)
        losses = [float(v) for v in history]
        self.loss_curve_ = (getattr(self, "loss_curve_", []) if not first else []) + losses
        self.n_iter_ = len(self.loss_curve_)
        self.best_loss_ = min(self.loss_curve_)
        self.loss_ = self.loss_curve_[-1]

    @property
    def coefs_(self):
        """The weight matrices, (n_in, n_out) each, as scikit-learn's MLP names them."""
        self._fitted("coefs_")
        return self.net_.weights

    @property
    def intercepts_(self):
        self._fitted("intercepts_")
        return self.net_.biases


def _equal(a, b):
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


class MLPClassifier(_Estimator):
    """A multilayer perceptron classifier with scikit-learn's protocol, trained by
    retroprop's C loop (softmax output, cross-entropy, minibatch SGD with momentum).

    ``MLPClassifier(hidden_layer_sizes=(100,), activation="relu", *,
    batch_size="auto", learning_rate_init=0.01, momentum=0.9, max_iter=200,
    shuffle=True, random_state=None, tol=1e-4, n_iter_no_change=10,
    early_stopping=False, validation_fraction=0.1, init=None,
    dtype=np.float64, verbose=False)``

    activation : "relu", "tanh", "logistic" (or "sigmoid"), "identity".
    batch_size : "auto" is min(200, n_samples).
    max_iter : epochs. Training stops earlier once the training loss (or,
        with early_stopping, the loss on the held-out validation_fraction)
        has not improved by tol for n_iter_no_change epochs; early stopping
        keeps the parameters of the best validation epoch.
    verbose : True shows MLP.fit's progress display.
    init, dtype : as retroprop.MLP's.

    After fit: ``classes_`` (any label values, sorted), ``n_features_in_``,
    ``loss_curve_``, ``n_iter_``, ``best_loss_``, ``net_`` (the
    retroprop.MLP), ``coefs_``, ``intercepts_``; with early_stopping also
    ``validation_scores_`` (accuracy per epoch) and ``validation_loss_curve_``.
    """

    _mlp_output = ("softmax", "ce")
    _estimator_type = "classifier"  # scikit-learn < 1.6 reads this

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    transformer_tags=None, regressor_tags=None,
                    classifier_tags=ClassifierTags(multi_label=False))

    def _labels(self, y, where):
        if y.ndim != 1:
            raise ValueError(f"{where}: y must be 1-D (one label per sample), got shape "
                             f"{y.shape}; this classifier has no multi-label mode")
        if y.dtype.kind == "f":
            if not np.isfinite(y).all():
                raise ValueError(f"{where}: Input y contains NaN or infinity")
            if (y != np.round(y)).any():
                raise ValueError(f"{where}: Unknown label type: continuous values in y; a "
                                 f"classifier needs class labels (use MLPRegressor for "
                                 f"regression)")
        if y.dtype.kind == "O":
            y = y.astype(str) if all(isinstance(v, str) for v in y) else y
        return y

    def fit(self, X, y):
        """Train on (X, y) from new initial weights; returns self."""
        where = self._where("fit")
        X = _check_X(X, where, self.dtype)
        y = self._labels(_check_y(y, X.shape[0], where), where)
        self._check_settings(where)
        rng = _generator(self.random_state)
        classes, index = np.unique(y, return_inverse=True)
        self.net_ = self._new_net(X.shape[1], len(classes), rng)
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = 1
        self._rng = rng
        self._train(X, index.reshape(-1), rng, int(self.max_iter), first=True)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y). The first call needs ``classes``: every label
        that will ever appear. Returns self."""
        where = self._where("partial_fit")
        X = _check_X(X, where, self.dtype)
        y = self._labels(_check_y(y, X.shape[0], where), where)
        if not hasattr(self, "net_"):
            if classes is None:
                raise ValueError(f"{where}: the first call needs classes=, every label y may "
                                 f"take (np.unique(y_all))")
            self._check_settings(where)
            rng = _generator(self.random_state)
            self.classes_ = np.unique(np.asarray(classes))
            self.net_ = self._new_net(X.shape[1], len(self.classes_), rng)
            self.n_features_in_ = X.shape[1]
            self.n_outputs_ = 1
            self._rng = rng
            self.loss_curve_ = []
        else:
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)),
                                                          self.classes_):
                raise ValueError(f"{where}: classes={classes!r} differs from the classes of "
                                 f"the first call, {self.classes_!r}")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"{where}: X has {X.shape[1]} features, but "
                                 f"{type(self).__name__} is expecting {self.n_features_in_} "
                                 f"features as input.")
        index = np.searchsorted(self.classes_, y)
        index = np.minimum(index, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(f"{where}: y has labels not in classes: "
                             f"{np.unique(y[unknown])!r}")
        self._train(X, index, self._rng, 1, first=False)
        return self

    def predict_proba(self, X):
        """The probability of each class (columns in the order of classes_)."""
        self._fitted("predict_proba")
        return np.asarray(self.net_.forward(self._features(X, "predict_proba")),
                          dtype=np.float64)

    def predict(self, X):
        """The most probable class of each sample, one of classes_."""
        self._fitted("predict")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y):
        """The accuracy, np.mean(predict(X) == y)."""
        predicted = self.predict(X)
        return float(np.mean(predicted == _check_y(y, len(predicted), self._where("score"))))


class MLPRegressor(_Estimator):
    """A multilayer perceptron regressor with scikit-learn's protocol, trained by
    retroprop's C loop (identity output, half the squared error averaged over
    the samples, minibatch SGD with momentum). The settings are MLPClassifier's.

    After fit: ``n_features_in_``, ``n_outputs_``, ``loss_curve_``,
    ``n_iter_``, ``best_loss_``, ``net_``, ``coefs_``, ``intercepts_``; with
    early_stopping also ``validation_loss_curve_``.
    """

    _mlp_output = ("identity", _REGRESSION_LOSS)
    _estimator_type = "regressor"

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags, Tags, TargetTags

        return Tags(estimator_type="regressor",
                    target_tags=TargetTags(required=True, multi_output=True),
                    transformer_tags=None, regressor_tags=RegressorTags(),
                    classifier_tags=None)

    def _targets(self, y, where):
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: y must hold numbers, got dtype {y.dtype}") from None
        if y.ndim not in (1, 2):
            raise ValueError(f"{where}: y must be 1-D or 2-D, got shape {y.shape}")
        y = np.asarray(y, dtype=self.dtype)
        if not np.isfinite(y).all():
            raise ValueError(f"{where}: Input y contains NaN or infinity")
        return y

    def _fit_targets(self, y, where, n):
        if y is None:
            raise ValueError(f"{where}: requires y to be passed, but the target y is None")
        y = self._targets(y, where)
        if y.shape[0] != n:
            raise ValueError(f"{where}: X has {n} samples but y has shape {y.shape}")
        return y

    def fit(self, X, y):
        """Train on (X, y) from new initial weights; returns self."""
        where = self._where("fit")
        X = _check_X(X, where, self.dtype)
        y = self._fit_targets(y, where, X.shape[0])
        self._check_settings(where)
        rng = _generator(self.random_state)
        self._one_d = y.ndim == 1
        Y = y.reshape(-1, 1) if self._one_d else y
        self.net_ = self._new_net(X.shape[1], Y.shape[1], rng)
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        self._rng = rng
        self._train(X, Y, rng, int(self.max_iter), first=True)
        return self

    def partial_fit(self, X, y):
        """One epoch over (X, y) (the first call starts from new weights); returns self."""
        where = self._where("partial_fit")
        X = _check_X(X, where, self.dtype)
        y = self._fit_targets(y, where, X.shape[0])
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if not hasattr(self, "net_"):
            self._check_settings(where)
            rng = _generator(self.random_state)
            self._one_d = y.ndim == 1
            self.net_ = self._new_net(X.shape[1], Y.shape[1], rng)
            self.n_features_in_ = X.shape[1]
            self.n_outputs_ = Y.shape[1]
            self._rng = rng
            self.loss_curve_ = []
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"{where}: X has {X.shape[1]} features, but "
                             f"{type(self).__name__} is expecting {self.n_features_in_} "
                             f"features as input.")
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"{where}: y has {Y.shape[1]} outputs, but "
                             f"{type(self).__name__} is expecting {self.n_outputs_}.")
        self._train(X, Y, self._rng, 1, first=False)
        return self

    def predict(self, X):
        """The network's output: (n_samples,) for a 1-D y, else (n_samples, n_outputs)."""
        self._fitted("predict")
        out = np.asarray(self.net_.forward(self._features(X, "predict")), dtype=np.float64)
        return out[:, 0] if self._one_d else out

    def score(self, X, y):
        """R^2, 1 - sum((y - p)**2) / sum((y - mean(y))**2), averaged over the outputs
        (scikit-learn's r2_score): 1.0 is perfect, 0.0 is predicting the mean."""
        p = self.predict(X)
        y = self._targets(y, self._where("score")).reshape(p.shape)
        y2, p2 = y.reshape(len(y), -1), p.reshape(len(p), -1)
        residual = ((y2 - p2) ** 2).sum(axis=0)
        total = ((y2 - y2.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                          np.where(residual == 0, 1.0, 0.0))
        return float(r2.mean())
