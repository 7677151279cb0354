"""Every C kernel against its NumPy twin in retroprop.reference.

The cases come from a registry: for each kernel, the shapes, layouts,
dtypes and memory orders it must handle. Each case runs the kernel and the
twin on the same arrays, checks that the results agree (float64 to a few
ulps, float32 to a dtype-aware tolerance) and that the inputs were not
modified. A failing case's id names kernel, dtype, shape, layout and order.
"""
import itertools
import zlib

import numpy as np
import pytest

import retroprop as rp
import retroprop.reference as ref
from retroprop import registry
from util import ORDERS, RTOL, arrange, assert_close, float_dtype, values

DTYPES = (np.float64, np.float32, np.int64)

# the registry's: three ufuncs per elementwise activation, every activation
UNARY = tuple(name for a in registry.ACTIVATIONS.values() if a.elementwise
              for name in (a.function, a.prime, a.prime_from_activation))
BINARY = ("sigmoid_bce_delta", "sigmoid_squared_error_delta")
ACTIVATIONS = tuple(registry.ACTIVATIONS)

ELEMENTWISE_SHAPES = ((1, 1), (3, 4), (0, 3), (257, 129), (7,))
# (n, in, out): single sample, the seeds' sizes, zero-size, and a BLAS size
LAYER_SHAPES = ((1, 1, 1), (4, 2, 2), (4, 3, 4), (5, 3, 1), (0, 3, 2), (3, 0, 2),
                (200, 300, 100))


class Case:
    """One call of a kernel: how to build its arguments, and its name."""

    def __init__(self, kernel, build, kwargs, desc):
        self.kernel, self.build, self.kwargs = kernel, build, kwargs
        self.id = f"{kernel}[{desc}]"


def shape_str(shape):
    return "x".join(map(str, shape)) or "scalar"


def _elementwise_cases():
    for name, dtype, shape, order in itertools.product(
            UNARY, DTYPES, ELEMENTWISE_SHAPES, ORDERS):
        if len(shape) == 1 and order in ("F", "T"):
            continue

        def build(rng, dtype=dtype, shape=shape, order=order):
            return (arrange(values(rng, shape, dtype), order),)
        yield Case(name, build, {}, f"{np.dtype(dtype).name},{shape_str(shape)},{order}")
    for name, dtype, shape, order in itertools.product(
            BINARY, DTYPES, ELEMENTWISE_SHAPES, ORDERS):
        if len(shape) == 1 and order in ("F", "T"):
            continue

        def build(rng, dtype=dtype, shape=shape, order=order):
            a = arrange(values(rng, shape, dtype, 0, 1), order)
            y = values(rng, shape[-1:], dtype, 0, 1)  # broadcast along rows
            return a, y
        yield Case(name, build, {}, f"{np.dtype(dtype).name},{shape_str(shape)},{order}")


def _layer_arrays(rng, n, k, m, layout, dtype, order, one_sample=False):
    """X, W of a layer with n samples, k inputs and m outputs."""
    if layout == "rows":
        xs, ws = ((k,) if one_sample else (n, k)), (k, m)
    else:
        xs, ws = ((k,) if one_sample else (k, n)), (m, k)
    xo = order if not one_sample or order not in ("F", "T") else "C"
    return arrange(values(rng, xs, dtype), xo), arrange(values(rng, ws, dtype), order)


def _matmul_cases():
    shapes = (((1, 1), (1, 1)), ((2, 2), (2, 2)), ((4, 3), (3, 1)), ((0, 3), (3, 2)),
              ((3, 0), (0, 2)), ((64, 300), (300, 50)), ((3,), (3, 2)), ((2, 3), (3,)),
              ((5,), (5,)))
    for (sa, sb), dtype, order in itertools.product(shapes, DTYPES, ORDERS):
        def build(rng, sa=sa, sb=sb, dtype=dtype, order=order):
            oa = order if len(sa) == 2 or order not in ("F", "T") else "C"
            ob = order if len(sb) == 2 or order not in ("F", "T") else "C"
            return (arrange(values(rng, sa, dtype), oa), arrange(values(rng, sb, dtype), ob))
        yield Case("matmul", build, {},
                   f"{np.dtype(dtype).name},{shape_str(sa)}@{shape_str(sb)},{order}")


def _dense_forward_cases():
    def one(shape, layout, bias, activation, dtype, order, one_sample=False):
        n, k, m = shape

        def build(rng):
            X, W = _layer_arrays(rng, n, k, m, layout, dtype, order, one_sample)
            if bias is None:
                return X, W
            bshape = {"1d": (m,), "2d": (1, m) if layout == "rows" else (m, 1)}[bias]
            return X, W, values(rng, bshape, dtype)
        desc = (f"{np.dtype(dtype).name},n{'1d' if one_sample else n},in{k},out{m},"
                f"{layout},bias={bias},{activation},{order}")
        return Case("dense_forward", build, {"activation": activation, "layout": layout},
                    desc)

    for shape, layout, bias, dtype, order in itertools.product(
            LAYER_SHAPES, ("rows", "cols"), (None, "1d", "2d"), DTYPES, ORDERS):
        yield one(shape, layout, bias, "sigmoid", dtype, order)
    for activation, layout, dtype, order in itertools.product(
            ACTIVATIONS, ("rows", "cols"), DTYPES, ORDERS):
        yield one((4, 3, 2), layout, "1d", activation, dtype, order)
        yield one((1, 3, 2), layout, "1d", activation, dtype, order, one_sample=True)


def _dense_backward_cases():
    def one(shape, layout, average, dtype, order, one_sample=False):
        n, k, m = shape

        def build(rng):
            X, W = _layer_arrays(rng, n, k, m, layout, dtype, order, one_sample)
            if one_sample:
                ds = (m,)
            else:
                ds = (n, m) if layout == "rows" else (m, n)
            return arrange(values(rng, ds, dtype), order if len(ds) == 2 else "neg"), X, W
        desc = (f"{np.dtype(dtype).name},n{'1d' if one_sample else n},in{k},out{m},"
                f"{layout},average={average},{order}")
        return Case("dense_backward", build, {"layout": layout, "average": average}, desc)

    for shape, layout, average, dtype, order in itertools.product(
            LAYER_SHAPES, ("rows", "cols"), (False, True), DTYPES, ORDERS):
        if average and shape[0] == 0:
            continue  # no samples to average over: an error, tested apart
        yield one(shape, layout, average, dtype, order)
    for layout, average, dtype in itertools.product(("rows", "cols"), (False, True), DTYPES):
        yield one((1, 3, 2), layout, average, dtype, "C", one_sample=True)


def _probabilities(rng, shape, dtype, axis):
    """Rows (or columns) that sum to 1, as a softmax gives, of dtype."""
    p = rng.uniform(0.01, 1, shape)
    return (p / p.sum(axis=axis, keepdims=True)).astype(dtype)


def _loss_cases():
    shapes = ((1, 1), (1, 4), (4, 2), (300, 257), (6,))
    losses = [l.function for l in registry.LOSSES.values()]
    for name, shape, dtype, order in itertools.product(losses, shapes, DTYPES, ORDERS):
        if len(shape) == 1 and order in ("F", "T"):
            continue
        if name == "cross_entropy":
            continue  # below, with its labels and axis

        def build(rng, name=name, shape=shape, dtype=dtype, order=order):
            if name == "bce":
                low, high = (0, 1) if np.issubdtype(dtype, np.integer) else (0.01, 0.99)
                A = values(rng, shape, dtype, low, high)
                Y = values(rng, shape, np.int64, 0, 1).astype(dtype)
            else:
                A, Y = values(rng, shape, dtype), values(rng, shape, dtype)
            return arrange(A, order), arrange(Y, order)
        yield Case(name, build, {}, f"{np.dtype(dtype).name},{shape_str(shape)},{order}")
    # the cross-entropy and softmax's delta: one-hot or integer labels, either
    # axis, eps 0 and the default
    for name, shape, axis, labels, dtype, order in itertools.product(
            ("cross_entropy", "softmax_cross_entropy_delta"), ((4, 3), (1, 5), (300, 10), (6,)),
            (-1, 0), (False, True), (np.float64, np.float32), ORDERS):
        if len(shape) == 1 and (order in ("F", "T") or axis == 0):
            continue

        def build(rng, shape=shape, axis=axis, labels=labels, dtype=dtype, order=order):
            cls_axis = axis % len(shape)
            A = arrange(_probabilities(rng, shape, dtype, cls_axis), order)
            n = shape[1 - cls_axis] if len(shape) == 2 else None
            k = shape[cls_axis]
            y = rng.integers(0, k, n) if n is not None else np.int64(rng.integers(0, k))
            if labels:
                return A, (y[::-1] if n is not None and n > 1 else y)  # strided labels
            onehot = np.moveaxis(np.eye(k, dtype=dtype)[y], -1, cls_axis)
            return A, arrange(np.ascontiguousarray(onehot), order)
        for extra in ({}, {"eps": 0.0}) if name == "cross_entropy" else ({},):
            yield Case(name, build, {"axis": axis, **extra},
                       f"{np.dtype(dtype).name},{shape_str(shape)},axis{axis},"
                       f"{'labels' if labels else 'onehot'},{order},{extra}")


def _softmax_cases():
    for shape, axis, dtype, order in itertools.product(
            ((1, 1), (4, 3), (0, 3), (3, 0), (257, 129), (7,)), (-1, 0),
            DTYPES, ORDERS):
        if len(shape) == 1 and (order in ("F", "T") or axis == 0):
            continue

        def build(rng, shape=shape, dtype=dtype, order=order):
            return (arrange(values(rng, shape, dtype) * 30, order),)  # large logits too
        yield Case("softmax", build, {"axis": axis},
                   f"{np.dtype(dtype).name},{shape_str(shape)},axis{axis},{order}")


def _sgd_cases():
    shapes = ((1, 1), (3, 4), (0, 2), (300, 200), (5,))
    for shape, dtype, grad_dtype, order in itertools.product(
            shapes, (np.float64, np.float32), (np.float64, np.float32, np.int64), ORDERS):
        if len(shape) == 1 and order in ("F", "T"):
            continue

        def build(rng, shape=shape, dtype=dtype, grad_dtype=grad_dtype, order=order):
            return (arrange(values(rng, shape, dtype), order),
                    arrange(values(rng, shape, grad_dtype), order), 0.1)
        yield Case("sgd_update", build, {},
                   f"param {np.dtype(dtype).name},grad {np.dtype(grad_dtype).name},"
                   f"{shape_str(shape)},{order}")


REGISTRY = [
    *_elementwise_cases(), *_matmul_cases(), *_dense_forward_cases(),
    *_dense_backward_cases(), *_loss_cases(), *_softmax_cases(), *_sgd_cases(),
]


def test_registry_covers_every_public_kernel():
    kernels = set(rp.__all__) - {"MLP", "RedNeuronal"}
    assert kernels == set(registry.KERNELS)
    assert {case.kernel for case in REGISTRY} == kernels
    assert set(ref.__all__) == kernels | {"MLP"}
    for name in kernels:
        assert callable(getattr(ref, name)), name


def _run(fn, args, kwargs):
    return fn(*args, **kwargs)


@pytest.mark.parametrize("case", REGISTRY, ids=[case.id for case in REGISTRY])
def test_kernel_matches_reference(case):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    args = case.build(rng)
    if case.kernel == "sgd_update":
        # in place: each side steps its own copy of param
        param = args[0]
        twin_param = param.copy()
        grad_before = args[1].copy()
        got = rp.sgd_update(param, args[1], args[2])
        want = ref.sgd_update(twin_param, args[1], args[2])
        assert got is param
        np.testing.assert_array_equal(args[1], grad_before)
        assert_close(got, want, RTOL[param.dtype.type], case.id)
        return

    before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    got = getattr(rp, case.kernel)(*args, **case.kwargs)
    want = getattr(ref, case.kernel)(*args, **case.kwargs)
    for a, b in zip(args, before):  # inputs unchanged
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f"{case.id}: input modified")
    rtol = RTOL[float_dtype(*[a for a in args if isinstance(a, np.ndarray)])]
    if case.kernel in ("cross_entropy", "softmax_cross_entropy_delta"):
        rtol = RTOL[float_dtype(args[0])]  # integer labels do not make it float64
    if case.kernel == "matmul" and np.ndim(want) == 0:
        want = np.float64(want) if isinstance(want, np.ndarray) else want
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), case.id
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, rtol, f"{case.id} output {i}")
    elif np.ndim(want) == 0 and not isinstance(want, float):
        np.testing.assert_allclose(got, want, rtol=rtol, err_msg=case.id)
    else:
        assert_close(got, want, rtol, case.id)


# The elementwise functions are ufuncs: NumPy picks their float32 or float64
# loop (bool and small ints take float32, a Python number beside a float32
# array stays float32, NEP 50). Their twins must pick the same dtype.
DTYPE_INPUTS = [np.ones(2, d) for d in (np.bool_, np.int8, np.uint8, np.int16, np.uint16,
                                        np.int32, np.int64, np.float16, np.float32,
                                        np.float64, ">f8")] + \
    [1, 1.0, True, np.float32(1), np.float64(1), np.int8(1), [1, 2], [1.0, 2.0]]


@pytest.mark.parametrize("x", DTYPE_INPUTS, ids=repr)
def test_unary_ufunc_dtype_matches_its_twin(x):
    for name in UNARY:
        got, want = getattr(rp, name)(x), getattr(ref, name)(x)
        assert np.asarray(got).dtype == np.asarray(want).dtype, (name, x)
        np.testing.assert_allclose(got, want, rtol=RTOL[np.asarray(want).dtype.type])


@pytest.mark.parametrize("a", DTYPE_INPUTS, ids=repr)
def test_binary_ufunc_dtype_matches_its_twin(a):
    for y in DTYPE_INPUTS:
        for name in BINARY:
            got, want = getattr(rp, name)(a, y), getattr(ref, name)(a, y)
            assert np.asarray(got).dtype == np.asarray(want).dtype, (name, a, y)
            np.testing.assert_allclose(got, want, rtol=RTOL[np.asarray(want).dtype.type])
