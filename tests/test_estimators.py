"""retroprop.MLPClassifier and MLPRegressor: scikit-learn's own estimator
checks, clone and cross_val_score, labels of any kind, partial_fit, early
stopping, and the same numbers as the NumPy twin (retroprop.reference.MLP)."""
import pickle
import warnings

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref
from retroprop import estimators

sklearn = pytest.importorskip("sklearn")


def blobs(n=90, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3, size=(classes, 4))
    labels = rng.integers(0, classes, size=n)
    return centers[labels] + rng.normal(size=(n, 4)), labels


def small(cls=rp.MLPClassifier, **kwargs):
    return cls(**dict(dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0), **kwargs))


@pytest.mark.parametrize("estimator", [rp.MLPClassifier(), rp.MLPRegressor(),
                                       rp.MLPClassifier(early_stopping=True, activation="tanh"),
                                       rp.MLPRegressor(batch_size=16, dtype=np.float32)],
                         ids=["classifier", "regressor", "classifier-early-stopping",
                              "regressor-float32"])
def test_scikit_learn_estimator_checks(estimator):
    from sklearn.utils.estimator_checks import check_estimator
    if not hasattr(sklearn.utils, "Tags"):
        pytest.skip("scikit-learn < 1.6 has no on_fail=None report")
    with warnings.catch_warnings():
        # "does not inherit from BaseEstimator": scikit-learn is not a dependency
        warnings.filterwarnings("ignore", "Estimator .* does not inherit", UserWarning)
        warnings.filterwarnings("ignore", category=sklearn.exceptions.SkipTestWarning)
        results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    # the checks that need pandas, or array-API namespaces: nothing of ours
    assert skipped <= {"check_array_api_input", "check_classifier_data_not_an_array",
                       "check_regressor_data_not_an_array", "check_dataframe_column_names_consistency"}
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_clone_and_cross_val_score():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    X, y = blobs()
    clf = small(learning_rate_init=0.05)
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.9
    assert not hasattr(clf, "net_")    # cross_val_score fitted clones
    assert cross_val_score(small(rp.MLPRegressor), X, X[:, 0] - X[:, 1], cv=3).mean() > 0.5


def test_fit_returns_self_and_the_fitted_attributes():
    X, y = blobs()
    clf = small()
    assert clf.fit(X, y) is clf
    assert clf.n_features_in_ == 4 and clf.n_iter_ == len(clf.loss_curve_) <= 30
    assert clf.loss_curve_ == [float(v) for v in clf.net_.history]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.coefs_[0].shape == (4, 8) and clf.intercepts_[1].shape == (3,)
    assert clf.coefs_[0] is clf.net_.weights[0]
    assert isinstance(clf.net_, rp.MLP) and clf.net_.loss_name == "ce"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    assert np.array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) == np.mean(clf.predict(X) == y) > 0.9
    # predict_proba is the NumPy forward of coefs_ and intercepts_
    A = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    Z = A @ clf.coefs_[1] + clf.intercepts_[1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, P / P.sum(axis=1, keepdims=True), rtol=1e-12)
    restored = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(restored.predict_proba(X), proba)


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([-3, 10, 7]),
                                    np.array([2.0, 0.0, 1.0]), np.array([True, False, True])],
                         ids=["strings", "ints", "integral floats", "bools"])
def test_classes_of_any_label_values(labels):
    X, index = blobs(classes=3)
    y = labels[index]
    clf = small(learning_rate_init=0.05).fit(X, y)
    assert np.array_equal(clf.classes_, np.unique(labels))
    predicted = clf.predict(X)
    assert predicted.dtype == clf.classes_.dtype and set(predicted) <= set(labels)
    assert clf.score(X, y) > 0.9
    assert clf.predict_proba(X).shape == (len(X), len(np.unique(labels)))


class TwinClassifier(rp.MLPClassifier):
    _mlp = ref.MLP


class TwinRegressor(rp.MLPRegressor):
    _mlp = ref.MLP


def test_the_same_numbers_as_the_numpy_twin():
    X, y = blobs()
    for c, n, target in [(small(), small(TwinClassifier), y),
                         (small(rp.MLPRegressor), small(TwinRegressor), X[:, :2] @ [1.0, -2.0]),
                         (small(early_stopping=True), small(TwinClassifier, early_stopping=True),
                          y)]:
        c.fit(X, target)
        n.fit(X, target)
        assert isinstance(n.net_, ref.MLP) and c.n_iter_ == n.n_iter_
        np.testing.assert_allclose(c.loss_curve_, n.loss_curve_, rtol=1e-9)
        np.testing.assert_allclose(c.predict(X), n.predict(X), rtol=1e-9)
        for a, b in zip(c.coefs_, n.coefs_):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_partial_fit_is_one_epoch_per_call():
    X, y = blobs()
    clf = small()
    with pytest.raises(ValueError, match="the first call needs classes="):
        clf.partial_fit(X, y)
    for _ in range(5):
        assert clf.partial_fit(X[:60], y[:60], classes=[0, 1, 2]) is clf
    assert clf.n_iter_ == len(clf.loss_curve_) == 5
    # the same steps as MLP.fit, epoch by epoch, from the same network
    net = rp.MLP([4, 8, 3], "relu", "softmax", "ce", lr=0.01, momentum=0.9,
                 seed=int(np.random.default_rng(0).integers(0, 2**63)))
    seeds = np.random.default_rng(0)
    seeds.integers(0, 2**63)
    losses = [float(net.fit(X[:60], y[:60], 1, batch_size=60, shuffle=True,
                            seed=int(seeds.integers(0, 2**63)))[0]) for _ in range(5)]
    np.testing.assert_allclose(clf.loss_curve_, losses, rtol=1e-12)
    with pytest.raises(ValueError, match=r"y has labels not in classes: array\(\[7\]\)"):
        clf.partial_fit(X[:2], [0, 7])
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.partial_fit(X[:2, :3], [0, 1])
    reg = small(rp.MLPRegressor)
    for _ in range(3):
        reg.partial_fit(X, X[:, 0])
    assert reg.n_iter_ == 3 and reg.predict(X).shape == (len(X),)


def test_stopping_rules():
    X, y = blobs(300)
    # the training loss stops improving by tol: fewer epochs than max_iter
    clf = rp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, tol=1e-2, random_state=0,
                           learning_rate_init=0.05).fit(X, y)
    assert clf.n_iter_ < 500 and clf.net_.history.stopped_epoch == clf.n_iter_ - 1
    # early stopping: a held-out tenth, the best validation epoch's parameters kept
    clf = rp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, early_stopping=True,
                           random_state=0, learning_rate_init=0.05).fit(X, y)
    h = clf.net_.history
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.validation_loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert h.best_epoch == int(np.argmin(clf.validation_loss_curve_))


def test_multi_output_regression():
    X, _ = blobs()
    Y = np.column_stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]])
    reg = small(rp.MLPRegressor, max_iter=200, learning_rate_init=0.005).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (len(X), 2)
    assert reg.score(X, Y) > 0.9


def test_get_and_set_params():
    clf = rp.MLPClassifier(hidden_layer_sizes=(5, 4))
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (5, 4) and params["activation"] == "relu"
    assert clf.set_params(max_iter=3, activation="tanh") is clf and clf.max_iter == 3
    assert repr(clf) == "MLPClassifier(activation='tanh', hidden_layer_sizes=(5, 4), max_iter=3)"
    with pytest.raises(ValueError, match="Invalid parameter 'epochs' for estimator "
                                         "MLPClassifier()"):
        clf.set_params(epochs=3)


BAD = [
    (dict(hidden_layer_sizes=(0,)), ValueError,
     "MLPClassifier.fit: hidden_layer_sizes must be a tuple of positive integers, got (0,)"),
    (dict(activation="softplus"), ValueError,
     "MLPClassifier.fit: unknown activation 'softplus'; expected 'sigmoid'"),
    (dict(max_iter=0), ValueError, "MLPClassifier.fit: max_iter must be a positive integer, got 0"),
    (dict(batch_size="all"), ValueError,
     "MLPClassifier.fit: batch_size must be 'auto' or a positive integer, got 'all'"),
    (dict(early_stopping=True, validation_fraction=1.5), ValueError,
     "MLPClassifier.fit: validation_fraction must be in (0, 1), got 1.5"),
    (dict(init="glorot"), ValueError, "MLPClassifier.fit: unknown init 'glorot'"),
]


@pytest.mark.parametrize("kwargs,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_settings_are_named_at_fit(kwargs, error, message):
    X, y = blobs(20)
    clf = rp.MLPClassifier(**kwargs)    # scikit-learn's rule: __init__ checks nothing
    with pytest.raises(error) as info:
        clf.fit(X, y)
    assert str(info.value).startswith(message)


def test_bad_data():
    X, y = blobs(20)
    clf = small()
    with pytest.raises(ValueError, match="Unknown label type: continuous values in y"):
        clf.fit(X, y + 0.5)
    with pytest.raises(ValueError, match=r"MLPClassifier.fit: X has 20 samples but y has "
                                         r"shape \(19,\)"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
        clf.fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(estimators.NotFittedError, match="MLPClassifier.predict: this "
                                                        "MLPClassifier instance is not fitted"):
        clf.predict(X)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but MLPClassifier is expecting 4 "
                                         "features as input"):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="Reshape your data"):
        clf.predict(X[0])
    with pytest.warns(UserWarning, match="A column-vector y was passed"):
        clf.fit(X, y[:, None])
