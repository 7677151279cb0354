"""Property-based fuzzing: every public kernel against its NumPy twin in
retroprop.reference, on arrays hypothesis makes hostile on purpose.

Shapes from 0-d and zero-size to BLAS-sized; both layouts; float64, float32,
int, bool and float16 inputs; memory in C or F order, transposed, sliced with
steps and negative strides, broadcast (zero strides), unaligned, byte-swapped,
or Python lists and scalars; NaN and infinities; out= arrays fresh, equal to
an input, or views of an input's buffer that overlap it or not.

Every example checks that the kernel
- gives its twin's result: the same dtype and shape, NaN and infinities in the
  same places, and elsewhere an error within a bound on the rounding of its
  sums (RTOL of the dtype times the sum of the magnitudes of the terms);
- or, for the non-ufunc kernels given an out= that shares memory with an
  input read in place (or with another out), raises ValueError and changes
  nothing; the ufuncs follow NumPy's own overlap handling (as if the inputs
  were copied first), which the twin's "compute, then write" reproduces;
- leaves its inputs unchanged, returns out= itself, and writes nothing
  outside out='s elements (strided views live in NaN-padded buffers).

Default example counts keep this file to about half a minute.
RETROPROP_FUZZ_EXAMPLES=2000 gives every test that many (profiles in
conftest.py); --hypothesis-show-statistics reports them.
"""
import os

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.stride_tricks import as_strided

import retroprop as rp
import retroprop.reference as ref
from retroprop import registry
from util import RTOL

FUZZ_EXAMPLES = int(os.environ.get("RETROPROP_FUZZ_EXAMPLES") or 0)


def examples(default):
    """The example count of a test: its default, or RETROPROP_FUZZ_EXAMPLES."""
    return FUZZ_EXAMPLES or default


UNARY = tuple(name for a in registry.ACTIVATIONS.values() if a.elementwise
              for name in (a.function, a.prime, a.prime_from_activation))
BINARY = ("sigmoid_bce_delta", "sigmoid_squared_error_delta")
# the hidden layers' activations, and every (output, loss) the registry allows
ACTIVATIONS = tuple(a.name for a in registry.ACTIVATIONS.values() if a.hidden)
OUTPUTS_LOSSES = [(o, l.name) for l in registry.LOSSES.values()
                  for o in (l.outputs or ACTIVATIONS)]

FLOATS = (np.float64, np.float32)
INPUT_DTYPES = (np.float64, np.float32, np.int64, np.int32, np.int16, np.int8, np.uint8,
                np.bool_, np.float16)
SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0)
# Below this many elements hypothesis draws every value (and shrinks them);
# larger arrays (BLAS-sized products) come from a seeded generator.
DRAWN = 64
# Memory layouts: of any array, and of the writeable ones (outputs, params).
INPUT_LAYOUTS = ("C", "F", "perm", "strided", "broadcast", "unaligned", "swapped", "list")
OUTPUT_LAYOUTS = ("C", "F", "perm", "strided")


def tiny(dtype):
    """What an absolute error near zero may be: results that underflow in one
    precision and not in the other (sigmoid(-100.) in float32)."""
    return float(RTOL[np.dtype(dtype).type])


# ------------------------------------------------------------------ values

def draw_values(data, shape, dtype, low=-1e6, high=1e6, special=None):
    """An array of shape and dtype: floats in [low, high], NaN and infinities
    in some examples; ints in [-5, 5] (unsigned [0, 5]); bools."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    if special is None:
        special = data.draw(st.integers(0, 4), label="special") == 0
    if dtype.kind == "f":
        width = 8 * dtype.itemsize
        bound = {16: 6e4, 32: 1e6}.get(width, 1e300)
        lo, hi = max(low, -bound), min(high, bound)
        if size <= DRAWN:
            elements = st.floats(lo, hi, width=width)
            if special:
                elements = st.one_of(elements, elements, elements, st.sampled_from(SPECIALS))
            return data.draw(hnp.arrays(dtype, shape, elements=elements), label="values")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        scale = min(hi, 1e3)
        out = rng.uniform(max(lo, -scale), scale, size=shape).astype(dtype)
        if special:
            where = rng.uniform(size=shape) < 0.01
            out[where] = rng.choice(SPECIALS, size=int(where.sum()))
        return out
    if dtype.kind == "b":
        return data.draw(hnp.arrays(dtype, shape, elements=st.booleans()), label="values")
    lo = 0 if dtype.kind == "u" else max(int(low), -5)
    return data.draw(hnp.arrays(dtype, shape, elements=st.integers(lo, 5)), label="values")


# ----------------------------------------------------------------- layouts

class Placed:
    """An array laid out in memory as `how` says. `buffer` is the memory it
    lives in, padded with NaN (or 77) outside its elements; `inside` marks
    the buffer's elements that belong to it."""

    def __init__(self, view, buffer=None, inside=None):
        self.view, self.buffer, self.inside = view, buffer, inside
        self.before = None if buffer is None else buffer.copy()

    def padding_intact(self):
        """Nothing was written into the buffer outside the array."""
        if self.inside is None:
            return True
        outside = ~self.inside
        return np.array_equal(self.buffer[outside], self.before[outside], equal_nan=True)


def pad_value(dtype):
    return {"f": np.nan, "b": True}.get(np.dtype(dtype).kind, 77)


def draw_layout(data, shape, writeable=False):
    """How to lay out an array of shape: a tuple for place()."""
    kinds = OUTPUT_LAYOUTS if writeable else INPUT_LAYOUTS
    kind = data.draw(st.sampled_from(kinds), label="layout")
    if kind == "perm":
        return ("perm", tuple(data.draw(st.permutations(range(len(shape))), label="perm")))
    if kind == "strided":
        steps = tuple(data.draw(st.sampled_from((-3, -2, -1, 1, 2, 3)), label="step")
                      for _ in shape)
        offsets = tuple(data.draw(st.integers(0, 1), label="offset") for _ in shape)
        return ("strided", steps, offsets)
    if kind == "broadcast":
        return ("broadcast", data.draw(st.integers(0, max(len(shape) - 1, 0)), label="axis"))
    return (kind,)


def place(values, how):
    """A fresh array equal to values (broadcast: built from its first slice),
    laid out as how says; the same (values, how) always gives the same array."""
    kind, shape = how[0], values.shape
    if kind == "C" or (kind in ("strided", "broadcast") and not shape):
        buf = np.array(values, order="C")
        return Placed(buf)
    if kind == "F":
        return Placed(np.array(values, order="F"))
    if kind == "perm" and len(shape) < 2:
        return Placed(np.array(values))
    if kind == "perm":
        perm = how[1]
        buf = np.ascontiguousarray(values.transpose(perm))
        return Placed(buf.transpose(np.argsort(perm)))
    if kind == "strided":
        steps, offsets = how[1], how[2]
        bufshape, index = [], []
        for n, s, o in zip(shape, steps, offsets):
            bufshape.append(n * abs(s) + o + 1)
            if n == 0:
                index.append(slice(0, 0))
            elif s > 0:
                index.append(slice(o, o + s * (n - 1) + 1, s))
            else:
                index.append(slice(o - s * (n - 1), o - 1 if o > 0 else None, s))
        buf = np.full(bufshape, pad_value(values.dtype), dtype=values.dtype)
        index = tuple(index)
        view = buf[index]
        view[...] = values
        inside = np.zeros(bufshape, dtype=bool)
        inside[index] = True
        assert view.base is buf and view.shape == shape
        return Placed(view, buf, inside)
    if kind == "broadcast":
        axis = how[1]
        if shape[axis] == 0:
            return Placed(np.array(values))
        first = np.ascontiguousarray(values.take([0], axis=axis))
        return Placed(np.broadcast_to(first, shape))
    if kind == "unaligned":
        if values.dtype.itemsize == 1:
            return Placed(np.array(values))
        raw = np.zeros(values.nbytes + values.dtype.itemsize, dtype=np.uint8)
        view = raw[1:1 + values.nbytes].view(values.dtype).reshape(shape)
        view[...] = values
        assert values.size == 0 or not view.flags.aligned
        return Placed(view)
    if kind == "swapped":
        return Placed(values.astype(values.dtype.newbyteorder()))
    if kind == "list":  # an empty list would lose the shape
        return Placed(values.tolist() if values.size else np.array(values))
    raise ValueError(how)


def compute_dtype(*inputs):
    """The dtype the non-ufunc kernels compute in (src/args.c rpb_result_typenum)."""
    rt = np.result_type(*[np.asarray(x) for x in inputs])
    return np.dtype(np.float32 if rt in (np.float16, np.float32) else np.float64)


def in_place(x, dt):
    """x is read by the kernel in place (not through a cast copy)."""
    return (isinstance(x, np.ndarray) and x.dtype == dt and x.flags.aligned
            and x.dtype.isnative)


# ----------------------------------------------------------- shared memory

def c_or_f_strides(shape, itemsize, step, order):
    strides, acc = [0] * len(shape), itemsize * step
    for a in (reversed(range(len(shape))) if order == "C" else range(len(shape))):
        strides[a] = acc
        acc *= max(shape[a], 1)
    return tuple(strides)


def draw_shared(data, shapes):
    """How to put arrays of these shapes in one buffer: for each, an offset
    (in elements), a step and an order; they may overlap, interleave or not."""
    parts = []
    for _ in shapes:
        parts.append((data.draw(st.integers(0, 12), label="offset"),
                      data.draw(st.integers(1, 2), label="step"),
                      data.draw(st.sampled_from("CF"), label="order")))
    return parts


def shared_views(dtype, shapes, parts):
    """Views (as_strided) of shapes into one fresh NaN-filled 1-D buffer."""
    dtype = np.dtype(dtype)
    item = dtype.itemsize
    strides = [c_or_f_strides(s, item, step, order) for s, (_, step, order) in zip(shapes, parts)]
    length = 1
    for shape, st_, (off, _, _) in zip(shapes, strides, parts):
        span = sum((n - 1) * s for n, s in zip(shape, st_)) // item if all(shape) else 0
        length = max(length, off + span + 1)
    buf = np.full(length, np.nan, dtype=dtype)
    views = [as_strided(buf[off:], shape, st_)
             for shape, st_, (off, _, _) in zip(shapes, strides, parts)]
    return buf, views


# ------------------------------------------------------------ comparisons

def assert_matches(got, want, tol, what):
    """Same dtype and shape, NaN and infinities in the same places, and
    |got - want| <= tol (an array or a number) everywhere else."""
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype}, twin {w.dtype}"
    assert g.shape == w.shape, f"{what}: shape {g.shape}, twin {w.shape}"
    g64, w64 = g.astype(np.float64), w.astype(np.float64)
    nan_g, nan_w = np.isnan(g64), np.isnan(w64)
    assert np.array_equal(nan_g, nan_w), f"{what}: NaN at {np.argwhere(nan_g != nan_w)[:5]}\n" \
                                         f"got {g}\nwant {w}"
    inf_g, inf_w = np.isinf(g64), np.isinf(w64)
    assert np.array_equal(inf_g, inf_w) and np.array_equal(g64[inf_w], w64[inf_w]), \
        f"{what}: infinities differ\ngot {g}\nwant {w}"
    with np.errstate(all="ignore"):
        tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), w.shape)
        err = np.abs(g64 - w64)
        bad = np.isfinite(w64) & ~(err <= tol) & np.isfinite(tol)
    assert not bad.any(), (f"{what}: max error {err[bad].max():.3g} over tolerance at "
                           f"{np.argwhere(bad)[:5].tolist()}\ngot {g}\nwant {w}\ntol {tol}")


def elementwise_tol(want, dtype):
    r = RTOL[np.dtype(dtype).type]
    with np.errstate(all="ignore"):
        return r * np.abs(np.asarray(want, dtype=np.float64)) + tiny(dtype)


def product_bound(A, B):
    """|A| @ |B| in float64 (NaN and inf ignored): what the rounding error of
    A @ B scales with, summed term by term."""
    a = np.nan_to_num(np.abs(np.asarray(A, dtype=np.float64)), nan=0.0, posinf=0.0)
    b = np.nan_to_num(np.abs(np.asarray(B, dtype=np.float64)), nan=0.0, posinf=0.0)
    return a @ b


def unchanged(placed_inputs, before, what):
    for i, (p, b) in enumerate(zip(placed_inputs, before)):
        np.testing.assert_array_equal(p.view, b, err_msg=f"{what}: input {i} modified")


def snapshot(placed):
    return [np.array(p.view, copy=True) for p in placed]


def quiet(fn, *args, **kwargs):
    """Call fn with NumPy's floating-point warnings off: NaN and overflow are
    inputs here, and only the values are compared."""
    with np.errstate(all="ignore"):
        return fn(*args, **kwargs)


# -------------------------------------------------------- elementwise ufuncs

def draw_shape(data, max_dims=3, max_side=6):
    big = data.draw(st.integers(0, 9), label="big") == 0
    if big:
        return data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=80),
                         label="shape")
    return data.draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0,
                                      max_side=max_side), label="shape")


def draw_ufunc_operand(data, shape, name):
    """An operand: an array (any dtype, any layout), a list, or, for 0-d
    shapes, a Python or NumPy scalar."""
    dtype = data.draw(st.sampled_from(INPUT_DTYPES), label=f"{name} dtype")
    values = draw_values(data, shape, dtype)
    if shape == () and data.draw(st.booleans(), label=f"{name} scalar"):
        kind = data.draw(st.sampled_from(("python", "numpy")), label="scalar kind")
        return ("scalar", values.item() if kind == "python" else values[()])
    return ("array", values, draw_layout(data, shape))


def build_operand(op):
    if op[0] == "scalar":
        return Placed(op[1])
    return place(op[1], op[2])


def draw_ufunc_out(data, operands, shape):
    """out=: None, a fresh array, an input itself, or a shifted view of an
    input's memory that overlaps it (NumPy must copy before writing)."""
    mode = data.draw(st.sampled_from(("none", "fresh", "input", "shifted")), label="out")
    if mode == "fresh":
        dtype = data.draw(st.sampled_from(FLOATS), label="out dtype")
        return ("fresh", dtype, draw_layout(data, shape, writeable=True))
    candidates = [i for i, op in enumerate(operands)
                  if op[0] == "array" and op[1].shape == shape and op[1].dtype in FLOATS
                  and op[2][0] in OUTPUT_LAYOUTS]
    if mode == "none" or not candidates:
        return ("none",)
    i = data.draw(st.sampled_from(candidates), label="out operand")
    if mode == "input":
        return ("input", i)
    return ("shifted", i, data.draw(st.integers(-3, 3), label="shift"))


def build_ufunc_call(operands, out_spec, shape):
    """Fresh operands and out for one call (the kernel's or the twin's)."""
    placed = [build_operand(op) for op in operands]
    out = None
    if out_spec[0] == "fresh":
        _, dtype, how = out_spec
        out = place(np.zeros(shape, dtype=dtype), how)
    elif out_spec[0] == "input":
        out = placed[out_spec[1]]
    elif out_spec[0] == "shifted":
        # the operand and out as two views of one flat buffer, `shift` apart
        i, shift = out_spec[1], out_spec[2]
        values = operands[i][1]
        n = values.size
        buf = np.full(n + abs(shift) + 1, np.nan, dtype=values.dtype)
        a0, o0 = max(shift, 0), max(-shift, 0)
        operand = buf[a0:a0 + n].reshape(shape)
        operand[...] = values
        placed[i] = Placed(operand)
        out = Placed(buf[o0:o0 + n].reshape(shape))
    return placed, out


def call_ufunc(fn, placed, out):
    args = [p.view for p in placed]
    if out is None:
        return quiet(fn, *args)
    return quiet(fn, *args, out=out.view)


def check_ufunc(name, data, nin):
    if nin == 1:
        shape = draw_shape(data)
        operands = [draw_ufunc_operand(data, shape, "z")]
    else:
        shape = draw_shape(data)
        operands = []
        for arg in ("a", "y"):
            # each operand: the shape with some leading axes dropped, some sides 1
            drop = data.draw(st.integers(0, len(shape)), label=f"{arg} drop")
            sub = tuple(1 if data.draw(st.integers(0, 3), label="ones") == 0 else n
                        for n in shape[drop:])
            operands.append(draw_ufunc_operand(data, sub, arg))
        shape = np.broadcast_shapes(*[np.shape(op[1]) for op in operands])
    out_spec = draw_ufunc_out(data, operands, shape)
    described = [(op[0], np.asarray(op[1]).dtype) + tuple(op[2:]) for op in operands]
    note(f"{name}: shape {shape}, operands {described}, out {out_spec}")

    placed, out = build_ufunc_call(operands, out_spec, shape)
    before = snapshot(placed)
    got = call_ufunc(getattr(rp, name), placed, out)
    t_placed, t_out = build_ufunc_call(operands, out_spec, shape)
    want = call_ufunc(getattr(ref, name), t_placed, t_out)

    # the loop NumPy ran (an out= of another dtype is cast to afterwards)
    loop = quiet(ref._ufunc_floats, *[p.view for p in t_placed])[0].dtype
    dtype = np.float32 if np.float32 in (loop, np.asarray(want).dtype) else np.float64
    assert_matches(got, want, elementwise_tol(want, dtype), name)
    if out is not None:
        assert got is out.view, f"{name}: out= not returned"
        assert out.padding_intact(), f"{name}: wrote outside out="
    if out_spec[0] in ("none", "fresh"):
        unchanged(placed, before, name)


@pytest.mark.parametrize("name", UNARY)
@settings(max_examples=examples(40))
@given(data=st.data())
def test_fuzz_unary_ufunc(name, data):
    check_ufunc(name, data, 1)


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=examples(60))
@given(data=st.data())
def test_fuzz_binary_ufunc(name, data):
    check_ufunc(name, data, 2)


# ------------------------------------------- non-ufunc kernels: common parts

def draw_dim(data, label, big_ok=True):
    """A side: mostly the seeds' 0 to 6, sometimes BLAS-sized."""
    if big_ok and data.draw(st.integers(0, 7), label=f"{label} big") == 0:
        return data.draw(st.integers(7, 48), label=label)
    return data.draw(st.integers(0, 6), label=label)


def draw_input(data, shape, label, dtypes=INPUT_DTYPES, low=-1e3, high=1e3):
    """(values, layout) of one input array."""
    dtype = data.draw(st.sampled_from(dtypes), label=f"{label} dtype")
    values = draw_values(data, shape, dtype, low, high)
    return values, draw_layout(data, shape)


def draw_outs(data, names, shapes, inputs_shapes):
    """out= for a kernel with these outputs: ("none",), ("fresh", [layouts or
    None per output]), or ("shared", which out, which array, parts): one out
    and one input (or another out) in the same buffer."""
    mode = data.draw(st.sampled_from(("none", "fresh", "fresh", "shared")), label="out mode")
    if mode == "none":
        return ("none",)
    if mode == "fresh":
        return ("fresh", [draw_layout(data, s, writeable=True)
                          if data.draw(st.integers(0, 3), label=f"{n} given") else None
                          for n, s in zip(names, shapes)])
    k = data.draw(st.integers(0, len(names) - 1), label="shared out")
    others = [("input", j) for j in range(len(inputs_shapes))] + \
             [("out", j) for j in range(len(names)) if j != k]
    other = data.draw(st.sampled_from(others), label="shares with")
    other_shape = inputs_shapes[other[1]] if other[0] == "input" else shapes[other[1]]
    return ("shared", k, other, draw_shared(data, [shapes[k], other_shape]))


class Call:
    """The arrays of one call of a non-ufunc kernel, built fresh each time."""

    def __init__(self, inputs, outs_spec, out_shapes, dt):
        self.placed = [place(v, how) for v, how in inputs]
        self.outs = [None] * len(out_shapes)
        self.shared_buffer = None
        if outs_spec[0] == "fresh":
            for i, how in enumerate(outs_spec[1]):
                if how is not None:
                    self.outs[i] = place(np.zeros(out_shapes[i], dtype=dt), how)
        elif outs_spec[0] == "shared":
            _, k, other, parts = outs_spec
            other_shape = (inputs[other[1]][0].shape if other[0] == "input"
                           else out_shapes[other[1]])
            buf, (kv, ov) = shared_views(dt, [out_shapes[k], other_shape], parts)
            self.shared_buffer = buf
            self.outs[k] = Placed(kv)
            if other[0] == "input":
                ov[...] = inputs[other[1]][0]
                self.placed[other[1]] = Placed(ov)
            else:
                self.outs[other[1]] = Placed(ov)
        self.views = [p.view for p in self.placed]

    def out_arg(self):
        return tuple(None if o is None else o.view for o in self.outs)

    def overlapping(self, dt):
        """An out shares memory with an input read in place, or with another out."""
        outs = [o.view for o in self.outs if o is not None]
        for i, o in enumerate(outs):
            if any(in_place(x, dt) and np.may_share_memory(o, x) for x in self.views):
                return True
            if any(np.may_share_memory(o, p) for p in outs[i + 1:]):
                return True
        return False


def run_kernel(name, inputs, outs_spec, out_shapes, kwargs, single_out=False):
    """Run the kernel and its twin on fresh copies; returns (got, want, call,
    dt), or None when the kernel rightly refused an overlapping out=."""
    dt = compute_dtype(*[place(v, how).view for v, how in inputs])  # lists: float64
    call = Call(inputs, outs_spec, out_shapes, dt)
    assert compute_dtype(*call.views) == dt
    before = snapshot(call.placed)
    shared_before = None if call.shared_buffer is None else call.shared_buffer.copy()
    out_kw = {}
    if outs_spec[0] != "none":
        out_kw["out"] = call.out_arg()[0] if single_out else call.out_arg()
    if call.overlapping(dt):
        with pytest.raises(ValueError, match="share"):
            getattr(rp, name)(*call.views, **kwargs, **out_kw)
        np.testing.assert_array_equal(call.shared_buffer, shared_before,
                                      err_msg=f"{name}: refused, but wrote")
        return None
    got = quiet(getattr(rp, name), *call.views, **kwargs, **out_kw)
    twin = Call(inputs, outs_spec, out_shapes, dt)
    t_kw = {}
    if outs_spec[0] != "none":
        t_kw["out"] = twin.out_arg()[0] if single_out else twin.out_arg()
    want = quiet(getattr(ref, name), *twin.views, **kwargs, **t_kw)
    if outs_spec[0] != "shared":
        unchanged(call.placed, before, name)
    results = (got,) if single_out else got
    for o, r in zip(call.outs, results):
        if o is not None:
            assert r is o.view, f"{name}: out= not returned"
            assert o.padding_intact(), f"{name}: wrote outside out="
    return got, want, call, dt


# ------------------------------------------------------------------ matmul

@settings(max_examples=examples(150))
@given(data=st.data())
def test_fuzz_matmul(data):
    m, k, n = draw_dim(data, "m"), draw_dim(data, "k"), draw_dim(data, "n")
    a_1d = data.draw(st.integers(0, 4), label="A 1-D") == 0
    b_1d = data.draw(st.integers(0, 4), label="B 1-D") == 0
    sa, sb = ((k,) if a_1d else (m, k)), ((k,) if b_1d else (k, n))
    out_shape = (() if a_1d else (m,)) + (() if b_1d else (n,))
    inputs = [draw_input(data, sa, "A"), draw_input(data, sb, "B")]
    outs = draw_outs(data, ["out"], [out_shape], [sa, sb])
    note(f"matmul {sa} @ {sb}, layouts {[h for _, h in inputs]}, out {outs}")
    r = run_kernel("matmul", inputs, outs, [out_shape], {}, single_out=True)
    if r is None:
        return
    got, want, call, dt = r
    want = np.asarray(want)
    if out_shape == () and outs[0] == "none":
        assert np.ndim(got) == 0, "matmul: 1-D @ 1-D is a scalar"
    bound = product_bound(call.views[0], call.views[1])
    assert_matches(np.asarray(got), want,
                   RTOL[dt.type] * (bound + np.abs(want.astype(np.float64))) + tiny(dt),
                   "matmul")


# ----------------------------------------------------------- dense_forward

def layer_shapes(n, k, m, layout, one_sample):
    """Shapes of X, W and Z of a layer with n samples, k inputs, m outputs."""
    if layout == "rows":
        return ((k,) if one_sample else (n, k)), (k, m), ((m,) if one_sample else (n, m))
    return ((k,) if one_sample else (k, n)), (m, k), ((m,) if one_sample else (m, n))


def rows_view(a, layout, one_sample):
    """A layer array as (samples, features) in float64, whatever the layout."""
    a = np.asarray(a, dtype=np.float64)
    if one_sample:
        return a.reshape(1, -1)
    return a if layout == "rows" else a.T


@settings(max_examples=examples(150))
@given(data=st.data())
def test_fuzz_dense_forward(data):
    layout = data.draw(st.sampled_from(("rows", "cols")), label="layout")
    activation = data.draw(st.sampled_from(ACTIVATIONS), label="activation")
    one = data.draw(st.integers(0, 5), label="one sample") == 0
    n, k, m = draw_dim(data, "n"), draw_dim(data, "in"), draw_dim(data, "out")
    xs, ws, zs = layer_shapes(n, k, m, layout, one)
    bias = data.draw(st.sampled_from((None, "1d", "2d")), label="bias")
    inputs = [draw_input(data, xs, "X"), draw_input(data, ws, "W")]
    shapes = [xs, ws]
    if bias is not None:
        bs = (m,) if bias == "1d" else ((1, m) if layout == "rows" else (m, 1))
        inputs.append(draw_input(data, bs, "b"))
        shapes.append(bs)
    outs = draw_outs(data, ["Z", "A"], [zs, zs], shapes)
    note(f"dense_forward X {xs} W {ws} bias {bias} {layout} {activation}, layouts "
         f"{[h for _, h in inputs]}, out {outs}")
    kwargs = {"activation": activation, "layout": layout}
    r = run_kernel("dense_forward", inputs, outs, [zs, zs], kwargs)
    if r is None:
        return
    (Z, A), (Zt, At), call, dt = r
    X = rows_view(call.views[0], layout, one)            # (n, in)
    W = np.asarray(call.views[1], np.float64)
    bound = product_bound(X, W if layout == "rows" else W.T)  # (n, out)
    if bias is not None:
        b = np.abs(np.asarray(call.views[2], np.float64)).reshape(1, -1)
        bound = bound + np.nan_to_num(b, nan=0.0, posinf=0.0)
    bound = bound.reshape(zs) if one else (bound if layout == "rows" else bound.T)
    r_ = RTOL[dt.type]
    with np.errstate(all="ignore"):
        tol_z = r_ * (bound + np.abs(np.asarray(Zt, np.float64))) + tiny(dt)
        tol_a = tol_z + r_ * np.abs(np.asarray(At, np.float64))
    assert_matches(Z, Zt, tol_z, f"dense_forward Z ({layout}, {activation})")
    assert_matches(A, At, tol_a, f"dense_forward A ({layout}, {activation})")


# ---------------------------------------------------------- dense_backward

@settings(max_examples=examples(150))
@given(data=st.data())
def test_fuzz_dense_backward(data):
    layout = data.draw(st.sampled_from(("rows", "cols")), label="layout")
    average = data.draw(st.booleans(), label="average")
    one = data.draw(st.integers(0, 5), label="one sample") == 0
    n, k, m = draw_dim(data, "n"), draw_dim(data, "in"), draw_dim(data, "out")
    if one:
        n = 1
    xs, ws, ds = layer_shapes(n, k, m, layout, one)
    db_shapes = [(m,), (1, m)] if layout == "rows" else [(m, 1), (m,)]
    dbs = data.draw(st.sampled_from(db_shapes), label="db shape")
    inputs = [draw_input(data, ds, "delta"), draw_input(data, xs, "X"),
              draw_input(data, ws, "W")]
    outs = draw_outs(data, ["dW", "db", "dX"], [ws, dbs, xs], [ds, xs, ws])
    note(f"dense_backward delta {ds} X {xs} W {ws} {layout} average={average}, layouts "
         f"{[h for _, h in inputs]}, out {outs}")
    kwargs = {"layout": layout, "average": average}
    if average and n == 0 and not one:
        call = Call(inputs, ("none",), [ws, dbs, xs], np.float64)
        with pytest.raises(ValueError, match="average=True needs at least one sample"):
            rp.dense_backward(*call.views, **kwargs)
        return
    r = run_kernel("dense_backward", inputs, outs, [ws, dbs, xs], kwargs)
    if r is None:
        return
    (dW, db, dX), (dWt, dbt, dXt), call, dt = r
    delta = rows_view(call.views[0], layout, one)         # (n, m)
    X = rows_view(call.views[1], layout, one)             # (n, k)
    W = np.asarray(call.views[2], np.float64)
    W = W if layout == "rows" else W.T                    # (k, m)
    scale = 1.0 / max(delta.shape[0], 1) if average else 1.0
    r_ = RTOL[dt.type]
    with np.errstate(all="ignore"):
        bw = scale * product_bound(X.T, delta)             # (k, m)
        bb = scale * np.nan_to_num(np.abs(delta), nan=0.0, posinf=0.0).sum(axis=0)
        bx = product_bound(delta, W.T)                     # (n, k)
        if layout == "cols":
            bw = bw.T
        bx = bx.reshape(xs) if one else (bx if layout == "rows" else bx.T)
        for got, want, bound, what in ((dW, dWt, bw, "dW"), (db, dbt, bb, "db"),
                                       (dX, dXt, bx, "dX")):
            want64 = np.abs(np.asarray(want, np.float64))
            tol = r_ * (np.asarray(bound).reshape(want64.shape) + want64) + tiny(dt)
            assert_matches(got, want, tol, f"dense_backward {what} ({layout})")


# ------------------------------------------------------------------ losses

def check_loss(name, data):
    shape = data.draw(st.sampled_from(((), (0,), (1,), (5,), (0, 3), (1, 1), (3, 4), (4, 1),
                                       "big")), label="shape")
    if shape == "big":
        shape = (draw_dim(data, "rows"), data.draw(st.integers(1, 300), label="cols"))
    low = 0.0 if name == "bce" else -1e3
    high = 1.0 if name == "bce" else 1e3
    inputs = [draw_input(data, shape, "A", low=low, high=high),
              draw_input(data, shape, "Y", low=low, high=high)]
    if name == "bce":
        # No infinite targets: (1 - Y) * log(1 - A + eps) at A = 0 is inf times
        # log(1 + 1e-8), which is -inf in the kernel's double and NaN in
        # NumPy's float32 (1 + 1e-8 rounds to 1): precision, not a bug.
        y, how = inputs[1]
        if y.dtype.kind == "f":
            inputs[1] = (np.where(np.isinf(y), np.nan, y).astype(y.dtype), how)
    args = {}
    if name == "bce" and data.draw(st.booleans(), label="eps given"):
        args["eps"] = data.draw(st.sampled_from((0.0, 1e-12, 1e-8, 1e-3, 0.5)), label="eps")
    note(f"{name} {shape}, layouts {[h for _, h in inputs]}, {args}")
    got, want, call, dt = run_kernel(name, inputs, ("none",), [], args, single_out=True)
    assert isinstance(got, float), f"{name}: returned {type(got).__name__}"
    A, Y = (np.asarray(v, np.float64) for v in call.views)
    with np.errstate(all="ignore"):
        if name == "bce":
            eps = args.get("eps", 1e-8)
            terms = (np.abs(Y * np.log(np.abs(A) + eps))
                     + np.abs((1 - Y) * np.log(np.abs(1 - A) + eps)))
            bound = float(np.nan_to_num(terms, nan=0, posinf=0).mean()) if A.size else 0.0
        else:
            bound = float(np.nan_to_num((A - Y) ** 2, nan=0, posinf=0).sum())
            if name == "mse" and A.size:
                bound /= A.size
    r_ = RTOL[dt.type]
    assert_matches(np.float64(got), np.float64(want), r_ * (bound + abs(want)) + tiny(dt)
                   if np.isfinite(want) else 0.0, name)


@pytest.mark.parametrize("name", ("bce", "mse", "sum_squared_error", "half_sum_squared_error"))
@settings(max_examples=examples(60))
@given(data=st.data())
def test_fuzz_loss(name, data):
    check_loss(name, data)


# -------------------------------------------------------------- sgd_update

@settings(max_examples=examples(150))
@given(data=st.data())
def test_fuzz_sgd_update(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=7),
                      label="shape")
    dtype = data.draw(st.sampled_from(FLOATS), label="param dtype")
    param_values = draw_values(data, shape, dtype, -1e3, 1e3)
    param_how = draw_layout(data, shape, writeable=True)
    grad_mode = data.draw(st.sampled_from(("separate", "separate", "param", "shared")),
                          label="grad")
    grad_values, grad_how = draw_input(data, shape, "grad")
    parts = draw_shared(data, [shape, shape])
    lr = data.draw(st.one_of(st.floats(-10, 10), st.sampled_from((0.0, 0.5, 1.0, 1e-3))),
                   label="lr")
    note(f"sgd_update {shape} {np.dtype(dtype).name} {param_how}, grad {grad_mode} "
         f"{grad_values.dtype} {grad_how}, lr {lr}")

    def build():
        if grad_mode == "shared":
            buf, (p, g) = shared_views(dtype, [shape, shape], parts)
            g[...] = grad_values
            p[...] = param_values
            return Placed(p), Placed(g), buf
        param = place(param_values, param_how)
        grad = param if grad_mode == "param" else place(grad_values, grad_how)
        return param, grad, None

    param, grad, buf = build()
    identical = (param.view.__array_interface__["data"][0] ==
                 np.asarray(grad.view).__array_interface__["data"][0]
                 and np.asarray(grad.view).strides == param.view.strides)
    if grad_mode == "shared" and np.may_share_memory(param.view, grad.view) and not identical:
        before = buf.copy()
        with pytest.raises(ValueError, match="grad shares memory with param"):
            rp.sgd_update(param.view, grad.view, lr)
        np.testing.assert_array_equal(buf, before)
        return
    grad_before = np.array(grad.view, copy=True)
    got = quiet(rp.sgd_update, param.view, grad.view, lr)
    assert got is param.view
    assert param.padding_intact(), "sgd_update: wrote outside param"
    if grad_mode == "separate":
        np.testing.assert_array_equal(grad.view, grad_before)
    t_param, t_grad, _ = build()
    want = quiet(ref.sgd_update, t_param.view, t_grad.view, lr)
    # the same arithmetic in the same precision: equal to the bit
    assert_matches(got, want, 0.0, "sgd_update")


# --------------------------------------------------------------- the trainer

@settings(max_examples=examples(60))
@given(data=st.data())
def test_fuzz_mlp(data):
    """MLP (the fused C trainer) against reference.MLP (the same loop on the
    twins): forward, loss, backward, and a few epochs of fit."""
    L = data.draw(st.integers(1, 3), label="layers")
    sizes = [data.draw(st.integers(1, 6), label="width") for _ in range(L + 1)]
    layout = data.draw(st.sampled_from(("rows", "cols")), label="layout")
    hidden = [data.draw(st.sampled_from(ACTIVATIONS), label="activation")
              for _ in range(L - 1)]
    output, loss = data.draw(st.sampled_from(OUTPUTS_LOSSES), label="output, loss")
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    bias = data.draw(st.sampled_from((True, False, "some")), label="bias")
    average = data.draw(st.booleans(), label="average")
    if not registry.LOSSES[loss].summable:
        average = True  # "mse" is a mean
    eps = (data.draw(st.sampled_from((None, 0.0, 1e-6)), label="eps")
           if registry.LOSSES[loss].eps is not None else None)
    # the optimiser, its penalty and schedule (retroprop.optim), plain SGD most often
    optimiser = data.draw(st.sampled_from([
        dict(), dict(), dict(), dict(momentum=0.5), dict(momentum=0.9),
        dict(momentum=0.9, nesterov=True), dict(optimizer="sgd_keras", momentum=0.9),
        dict(optimizer="sgd_keras", momentum=0.5, nesterov=True),
        # Adam's step lr*g/(|g| + adam_eps) turns a rounding difference dg of a
        # gradient that cancels to ~adam_eps into lr/adam_eps * dg (1e-15 into 1e-9
        # at 1e-8, the default, which tests/test_optim.py covers): a larger eps here
        dict(optimizer="adam", adam_eps=1e-4),
        dict(optimizer="adam", adam_eps=1e-4, weight_decay=0.01, decay_biases=True),
        dict(l2=1e-3, schedule="inverse_time", lr_decay=0.1),
        dict(alpha=0.1, momentum=0.5, schedule="exponential", gamma=0.9),
        dict(weight_decay=0.1, schedule="step", gamma=0.5, step_size=2)]), label="optimiser")
    lr = data.draw(st.sampled_from((0.01, 0.05, 0.1, 0.3)), label="lr")
    n = data.draw(st.integers(1, 12), label="samples")
    if not average:
        lr /= n  # summed gradients: keep the steps tame (chaotic training amplifies
                 # every rounding difference between C and NumPy, bug or not)
    batch = data.draw(st.one_of(st.none(), st.integers(1, n + 2)), label="batch")
    shuffle = data.draw(st.booleans(), label="shuffle")
    # with replacement (CS231n's np.random.choice) instead of shuffling
    replace = batch is not None and not shuffle and data.draw(st.booleans(), label="replace")
    epochs = data.draw(st.integers(1, 4), label="epochs")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    rng = np.random.default_rng(seed)
    wscale = 0.8 if dtype == np.float64 else 0.4
    weights = [rng.normal(0, wscale, (a, b) if layout == "rows" else (b, a)).astype(dtype)
               for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(0, 0.3, (b,) if layout == "rows" else (b, 1)).astype(dtype)
              if bias is True or l % 2 else None  # "some": every other layer
              for l, b in enumerate(sizes[1:])] if bias else None
    x_dtype = data.draw(st.sampled_from((np.float64, np.float32, np.int64)), label="X dtype")
    X = (rng.normal(0, 1.5, (n, sizes[0])) if x_dtype != np.int64
         else rng.integers(-2, 3, (n, sizes[0]))).astype(x_dtype)
    if loss == "ce" and data.draw(st.booleans(), label="labels"):
        Y = rng.integers(0, sizes[-1], n)
    elif loss in ("bce", "ce"):
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)] if loss == "ce" \
            else (rng.uniform(size=(n, sizes[-1])) > 0.5).astype(float)
    else:
        Y = rng.normal(0, 1, (n, sizes[-1]))
    if layout == "cols":
        X = X.T
        Y = Y.T if Y.ndim == 2 else Y
    x_how = draw_layout(data, X.shape, writeable=True)
    config = dict(activation=hidden + [output], loss=loss, layout=layout, lr=lr,
                  average=average, eps=eps, **optimiser)
    note(f"MLP {sizes} {config} {np.dtype(dtype).name} bias={bias} n={n} batch={batch} "
         f"shuffle={shuffle} replace={replace} epochs={epochs}, X {X.dtype} {x_how}")

    def nets(nudge=False):
        """The C net and its twin on copies of the weights; nudge moves the
        twin's initial weights (by ~500 ulps in float64, 1 in float32), to
        measure how much training amplifies a rounding difference."""
        if nudge and dtype == np.float64:
            ws = [np.nextafter(w * (1 + 2.0**-43), np.inf) for w in weights]
        else:
            ws = [np.nextafter(w, np.inf) if nudge else w.copy() for w in weights]
        bs = None if biases is None else [None if b is None else b.copy() for b in biases]
        return (rp.MLP.from_arrays([w.copy() for w in ws], bs and [
                    None if b is None else b.copy() for b in bs], **config),
                ref.MLP.from_arrays(ws, bs, **config))

    r_ = 1e-9 if dtype == np.float64 else 2e-4

    def close(got, want, what, sensitivity=0.0):
        """Within rtol of the scale, plus 10 times what the nudge of the initial
        weights changes in the twin's own result (training can be chaotic)."""
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
        tol = r_ * scale + 10 * np.asarray(sensitivity)
        assert np.all(np.abs(got - want) <= tol), \
            f"{what}: max error {np.max(np.abs(got - want) - tol):.3g} over tolerance\n" \
            f"got {got}\nwant {want}"

    c, t = nets()
    Xc = place(X, x_how).view
    x_before = np.array(Xc, copy=True)
    with np.errstate(all="ignore"):
        close(c.forward(Xc), t.forward(X), "forward")
        for i, (a, b) in enumerate(zip(c.activations, t.activations)):
            close(a, b, f"activations[{i}]")
        close(c.loss(Xc, Y), t.loss(X, Y), "loss")
        (dWc, dbc), (dWt, dbt) = c.backward(Xc, Y), t.backward(X, Y)
        for i, (a, b) in enumerate(zip(dWc, dWt)):
            close(a, b, f"dW[{i}]")
        for i, (a, b) in enumerate(zip(dbc or [], dbt or [])):
            assert (a is None) == (b is None) == (biases[i] is None), f"db[{i}]"
            if a is not None:
                close(a, b, f"db[{i}]")
        hc = c.fit(Xc, Y, epochs, batch_size=batch, shuffle=shuffle, replace=replace, seed=seed)
        ht = t.fit(X, Y, epochs, batch_size=batch, shuffle=shuffle, replace=replace, seed=seed)
    np.testing.assert_array_equal(Xc, x_before)
    assert hc.shape == (epochs,) and hc.dtype == np.float64
    # Compare only training that stays tame: a diverging one amplifies every
    # rounding difference, and float32 outputs that saturate (a sigmoid of
    # 1 - 6e-8 in C, rounded to 1.0 by NumPy's float32 exp) change the
    # eps-regularised log(1 - a + 1e-8) by whole units. Neither is a bug.
    with np.errstate(all="ignore"):
        out = t.forward(X)
    tame = np.isfinite(ht).all() and np.abs(ht).max() < 1e4 and np.isfinite(out).all()
    if dtype == np.float32 and loss in ("bce", "ce"):
        tame = tame and np.minimum(out, 1 - out).min() > 1e-3
    assume(tame)
    fit = dict(batch_size=batch, shuffle=shuffle, replace=replace, seed=seed)
    _, nudged = nets(nudge=True)
    # float32: the twin's own float32 rounding is no oracle when training is
    # ill-conditioned (the C loop, accumulating in double, is often closer to
    # the exact result); allow the float32 twin's distance to a float64 run
    exact = ref.MLP.from_arrays([w.astype(np.float64) for w in weights],
                                None if biases is None else
                                [None if b is None else b.astype(np.float64) for b in biases],
                                **config)
    with np.errstate(all="ignore"):
        hn, he = nudged.fit(X, Y, epochs, **fit), exact.fit(X, Y, epochs, **fit)

        def slack(twin, other_nudged, other_exact):
            twin = np.asarray(twin, np.float64)
            s = np.abs(np.asarray(other_nudged, np.float64) - twin)
            if dtype == np.float32:
                s = s + 0.3 * np.abs(np.asarray(other_exact, np.float64) - twin)
            return s

        close(hc, ht, "history", slack(ht, hn, he))
        for i, (a, b, d, e) in enumerate(zip(c.weights, t.weights, nudged.weights,
                                             exact.weights)):
            assert a.dtype == dtype
            close(a, b, f"weights[{i}]", slack(b, d, e))
        for i, (a, b, d, e) in enumerate(zip(c.biases or [], t.biases or [],
                                             nudged.biases or [], exact.biases or [])):
            if a is not None:
                close(a, b, f"biases[{i}]", slack(b, d, e))
