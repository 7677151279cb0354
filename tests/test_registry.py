"""The registry: one table of activations and losses in C, mirrored by one in
Python (retroprop.registry), which everything else reads.

Held here: the two mirrors agree entry by entry; every name the registry
gives is a function of retroprop and of retroprop.reference; the README's
tables are the registry's own rendering; the exported names come from it.
"""
import pathlib

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref
from retroprop import _core, registry

README = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def test_the_c_and_python_tables_are_mirrors():
    c = _core._registry()
    assert [a["name"] for a in c["activations"]] == list(registry.ACTIVATIONS)
    for a in c["activations"]:
        entry = registry.ACTIVATIONS[a["name"]]
        assert a["elementwise"] == entry.elementwise, a
        assert a["prime"] == entry.prime and a["prime_from_activation"] == \
            entry.prime_from_activation, a
    assert [l["name"] for l in c["losses"]] == list(registry.LOSSES)
    for l in c["losses"]:
        entry = registry.LOSSES[l["name"]]
        assert l["function"] == entry.function, l
        assert l["squared_factor"] == entry.squared_factor, l
        assert l["mean_over_entries"] == entry.mean_over_entries, l
        assert l["eps"] == entry.eps, l


def test_every_registry_name_is_a_kernel_with_a_twin():
    for name in registry.KERNELS:
        assert callable(getattr(rp, name)) and callable(getattr(ref, name)), name
        assert getattr(rp, name).__doc__, name
    assert rp.__all__ == ["MLP", "RedNeuronal", *registry.KERNELS]
    assert ref.__all__ == ["MLP", *registry.KERNELS]
    for a in registry.ACTIVATIONS.values():
        if a.elementwise:  # the three ufuncs, each documented with its NumPy
            for name, numpy in ((a.function, a.numpy), (a.prime, a.prime_numpy),
                                (a.prime_from_activation, a.prime_from_activation_numpy)):
                assert isinstance(getattr(rp, name), np.ufunc), name
                assert "NumPy: " + numpy in getattr(rp, name).__doc__, name
    for l in registry.LOSSES.values():
        assert l.numpy.split(" / n")[0] in getattr(rp, l.function).__doc__, l.name


def test_the_readme_tables_are_the_registrys():
    assert registry.activation_table() in README
    assert registry.loss_table() in README


@pytest.mark.parametrize("loss", list(registry.LOSSES))
def test_every_loss_trains_in_c_as_in_numpy(loss):
    """A loss added to both tables trains: the C loop and its twin agree."""
    entry = registry.LOSSES[loss]
    output = (entry.outputs or ("sigmoid",))[0]
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 3))
    Y = np.eye(2)[rng.integers(0, 2, 9)]
    c = rp.MLP([3, 4, 2], activation="tanh", output_activation=output, loss=loss, lr=0.1,
               seed=4)
    n = ref.MLP.from_arrays([w.copy() for w in c.weights], [b.copy() for b in c.biases],
                            activation="tanh", output_activation=output, loss=loss, lr=0.1)
    np.testing.assert_allclose(c.fit(X, Y, epochs=20, batch_size=4),
                               n.fit(X, Y, epochs=20, batch_size=4), rtol=1e-10)
    for a, b in zip(c.weights, n.weights):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_the_rules_live_in_network_config():
    acts = ["relu", "softmax"]
    assert registry.network_config(acts, "ce")[1:] == (True, 1e-8)
    assert registry.network_config(["sigmoid"], "bce", eps=0)[1:] == (True, 0.0)
    assert registry.network_config(["identity"], "half_sum_squared_error")[1:] == (False, None)
    with pytest.raises(ValueError, match="loss 'bce' does not go with output_activation "
                                         "'softmax': 'bce' needs 'sigmoid'"):
        registry.network_config(acts, "bce")
    with pytest.raises(ValueError, match="a 'softmax' output takes loss 'ce'"):
        registry.network_config(acts, "sum_squared_error")


def test_the_layout_and_sign_mistakes_are_detected_in_one_place():
    """retroprop.diagnosis names transposed / sign flipped / reshaped for
    gradcheck and trace alike (its doctests, and the two agree on one case)."""
    import doctest

    from retroprop import diagnosis, gradcheck, trace
    failed, attempted = doctest.testmod(diagnosis)
    assert attempted >= 3 and failed == 0
    W = np.array([[0.5, -0.5, 0.2], [0.25, 1.0, -0.3]])
    X, Y = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, -1.0]]), np.zeros((3, 3))
    t = trace.step([W], None, X, Y, lr=0.1)
    assert "minus its transpose matches (transposed and sign flipped)" in \
        str(trace.compare(t, dW1=-t["dW1"].T))
    report = gradcheck.check_network([W], None, X, Y, [-t["dW1"].T])
    assert report["W1"].diagnosis.startswith("transposed and sign flipped")
