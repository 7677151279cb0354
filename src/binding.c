/*
 * binding.c - the one file that speaks the CPython and NumPy C APIs.
 *
 * It parses and checks every argument (dtype, ndim, shape, writeability,
 * overlap), allocates outputs or validates the caller's out=, and only then
 * calls the pure kernels of src/kernels/. Nothing is written before every
 * check has passed. float32 and float64 inputs are read in place through
 * their strides; other real dtypes (ints, bools, float16) are cast to the
 * result dtype, which is a copy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* NPY_NO_DEPRECATED_API and NPY_TARGET_VERSION come from setup.py, in step
 * with the runtime requirement numpy>=1.23 in pyproject.toml. */
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#include "rp_kernels.h"
#include "rp_net.h"

/* Above this much work (elements or multiply-adds) the GIL is released. */
#define RP_GIL_WORK 16384

#define RP_RUN(work, stmt)                                                        \
    do {                                                                          \
        if ((double)(work) > RP_GIL_WORK) {                                       \
            Py_BEGIN_ALLOW_THREADS stmt;                                          \
            Py_END_ALLOW_THREADS                                                  \
        }                                                                         \
        else {                                                                    \
            stmt;                                                                 \
        }                                                                         \
    } while (0)

/* Call the float32 or float64 version of a kernel. */
#define RP_DISPATCH(typenum, kernel, args)                                        \
    do {                                                                          \
        if ((typenum) == NPY_FLOAT) {                                             \
            kernel##_f32 args;                                                    \
        }                                                                         \
        else {                                                                    \
            kernel##_f64 args;                                                    \
        }                                                                         \
    } while (0)

/* ------------------------------------------------------------------------ */
/* ufunc loops: thin adapters from NumPy's loop signature to the kernels.   */

#define RP_UNARY_UFUNC_LOOPS(name)                                                \
    static void loop_##name##_f32(char **args, npy_intp const *dims,              \
                                  npy_intp const *steps, void *data)              \
    {                                                                             \
        (void)data;                                                               \
        rp_##name##_f32(dims[0], args[0], steps[0], args[1], steps[1]);           \
    }                                                                             \
    static void loop_##name##_f64(char **args, npy_intp const *dims,              \
                                  npy_intp const *steps, void *data)              \
    {                                                                             \
        (void)data;                                                               \
        rp_##name##_f64(dims[0], args[0], steps[0], args[1], steps[1]);           \
    }

#define RP_BINARY_UFUNC_LOOPS(name)                                               \
    static void loop_##name##_f32(char **args, npy_intp const *dims,              \
                                  npy_intp const *steps, void *data)              \
    {                                                                             \
        (void)data;                                                               \
        rp_##name##_f32(dims[0], args[0], steps[0], args[1], steps[1], args[2],   \
                        steps[2]);                                                \
    }                                                                             \
    static void loop_##name##_f64(char **args, npy_intp const *dims,              \
                                  npy_intp const *steps, void *data)              \
    {                                                                             \
        (void)data;                                                               \
        rp_##name##_f64(dims[0], args[0], steps[0], args[1], steps[1], args[2],   \
                        steps[2]);                                                \
    }

RP_UNARY_UFUNC_LOOPS(sigmoid)
RP_UNARY_UFUNC_LOOPS(sigmoid_prime)
RP_UNARY_UFUNC_LOOPS(sigmoid_prime_from_activation)
RP_UNARY_UFUNC_LOOPS(tanh)
RP_UNARY_UFUNC_LOOPS(tanh_prime)
RP_UNARY_UFUNC_LOOPS(tanh_prime_from_activation)
RP_UNARY_UFUNC_LOOPS(relu)
RP_UNARY_UFUNC_LOOPS(relu_prime)
RP_UNARY_UFUNC_LOOPS(relu_prime_from_activation)
RP_UNARY_UFUNC_LOOPS(identity)
RP_UNARY_UFUNC_LOOPS(identity_prime)
RP_BINARY_UFUNC_LOOPS(sigmoid_bce_delta)
RP_BINARY_UFUNC_LOOPS(sigmoid_squared_error_delta)

typedef struct {
    const char *name;
    int nin;
    PyUFuncGenericFunction loops[2]; /* float32, float64 */
    const char *doc;
} rp_ufunc_spec;

#define RP_LOOPS(name) { loop_##name##_f32, loop_##name##_f64 }

static rp_ufunc_spec ufunc_specs[] = {
    {"sigmoid", 1, RP_LOOPS(sigmoid),
     "The logistic sigmoid, computed without overflow.\n\n"
     "NumPy: 1 / (1 + np.exp(-z))\n\n"
     "sigmoid(-1000.) is 0.0 and sigmoid(1000.) is 1.0, with no warning."},
    {"sigmoid_prime", 1, RP_LOOPS(sigmoid_prime),
     "Derivative of the sigmoid, from the PRE-activation z (seed 002).\n\n"
     "NumPy: sigmoid(z) * (1 - sigmoid(z))\n\n"
     "If you hold the activation a = sigmoid(z), use "
     "sigmoid_prime_from_activation(a)."},
    {"sigmoid_prime_from_activation", 1, RP_LOOPS(sigmoid_prime_from_activation),
     "Derivative of the sigmoid, from the ACTIVATION a = sigmoid(z) "
     "(seeds 000, 001, 003).\n\n"
     "NumPy: a * (1 - a)"},
    {"tanh", 1, RP_LOOPS(tanh), "Hyperbolic tangent.\n\nNumPy: np.tanh(z)"},
    {"tanh_prime", 1, RP_LOOPS(tanh_prime),
     "Derivative of tanh, from the pre-activation z.\n\nNumPy: 1 - np.tanh(z)**2"},
    {"tanh_prime_from_activation", 1, RP_LOOPS(tanh_prime_from_activation),
     "Derivative of tanh, from the activation a = tanh(z).\n\nNumPy: 1 - a**2"},
    {"relu", 1, RP_LOOPS(relu),
     "Rectified linear unit; NaN propagates.\n\nNumPy: np.maximum(z, 0)"},
    {"relu_prime", 1, RP_LOOPS(relu_prime),
     "Derivative of relu, from the pre-activation z: 1.0 where z > 0, "
     "else 0.0 (0.0 at z == 0 and for NaN).\n\nNumPy: (z > 0).astype(float)"},
    {"relu_prime_from_activation", 1, RP_LOOPS(relu_prime_from_activation),
     "Derivative of relu, from the activation a = relu(z).\n\n"
     "NumPy: (a > 0).astype(float)"},
    {"identity", 1, RP_LOOPS(identity),
     "The identity (seed 004's linear output), as a new array.\n\n"
     "NumPy: z.copy()"},
    {"identity_prime", 1, RP_LOOPS(identity_prime),
     "Derivative of the identity: 1.0 everywhere.\n\nNumPy: np.ones_like(z)"},
    {"sigmoid_bce_delta", 2, RP_LOOPS(sigmoid_bce_delta),
     "Output-layer delta dL/dz for a sigmoid output under binary "
     "cross-entropy (seed 000's dS2).\n\nNumPy: a - y"},
    {"sigmoid_squared_error_delta", 2, RP_LOOPS(sigmoid_squared_error_delta),
     "Output-layer delta dL/dz for a sigmoid output under the half summed "
     "squared error L = 0.5 * sum((a - y)**2) (seeds 001, 002, 003; they "
     "write it with the opposite sign, as (y - a) * a * (1 - a)).\n\n"
     "NumPy: (a - y) * a * (1 - a)"},
};

static char unary_types[] = {NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
static char binary_types[] = {NPY_FLOAT, NPY_FLOAT, NPY_FLOAT,
                              NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
static void *no_loop_data[] = {NULL, NULL};

/* ------------------------------------------------------------------------ */
/* Argument helpers. Each returns NULL / -1 with a Python error set.         */

/* "(4, 3)" for an array of shape (4, 3); "(3,)" for a 1-D one. */
static void shape_str(int ndim, const npy_intp *dims, char *buf, size_t size)
{
    size_t used = 0;
    int i;
    used += (size_t)snprintf(buf, size, "(");
    for (i = 0; i < ndim && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, i ? ", %" NPY_INTP_FMT : "%" NPY_INTP_FMT,
                                 dims[i]);
    }
    if (used < size) {
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
    }
}

#define RP_SHAPE(arr, buf) shape_str(PyArray_NDIM(arr), PyArray_DIMS(arr), buf, sizeof(buf))

/* Put "fn: what: " before the message of the pending ValueError, TypeError,
 * OverflowError or MemoryError that NumPy raised (a ragged list, an array too
 * big to allocate), so that it names the function and the argument. Other
 * exceptions are left as they are. */
static void add_context(const char *fn, const char *what)
{
    PyObject *const kinds[] = {PyExc_MemoryError, PyExc_OverflowError, PyExc_ValueError,
                               PyExc_TypeError};
    PyObject *type, *value, *tb, *msg;
    size_t i;
    if (!PyErr_Occurred()) {
        return;
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (PyErr_ExceptionMatches(kinds[i])) {
            break;
        }
    }
    if (i == sizeof(kinds) / sizeof(kinds[0])) {
        return;
    }
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    msg = value != NULL ? PyObject_Str(value) : NULL;
    if (msg == NULL) {
        PyErr_Restore(type, value, tb);
        return;
    }
    /* the builtin type itself: NumPy's subclasses take other arguments */
    PyErr_Format(kinds[i], "%s: %s: %U", fn, what, msg);
    Py_DECREF(msg);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* A fresh result array, or NULL with an error naming fn and the shape. */
static PyArrayObject *new_result(const char *fn, int ndim, const npy_intp *dims, int typenum)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(ndim, (npy_intp *)dims, typenum);
    if (a == NULL) {
        char shape[64], what[128];
        shape_str(ndim, dims, shape, sizeof(shape));
        snprintf(what, sizeof(what), "cannot allocate a %s result of shape %s",
                 typenum == NPY_FLOAT ? "float32" : "float64", shape);
        add_context(fn, what);
    }
    return a;
}

/* 0 if a product of (m, k) and (k, n) has a countable number of multiply-adds,
 * m * n * k <= NPY_MAX_INTP; else -1 with a ValueError naming the arrays a
 * and b. Only arrays made with stride tricks (zero strides) are that large. */
static int check_work(const char *fn, npy_intp m, npy_intp n, npy_intp k, const char *a_name,
                      PyArrayObject *a, const char *b_name, PyArrayObject *b)
{
    char sa[64], sb[64];
    if ((m > 0 && n > NPY_MAX_INTP / m) || (m * n > 0 && k > NPY_MAX_INTP / (m * n))) {
        RP_SHAPE(a, sa);
        RP_SHAPE(b, sb);
        PyErr_Format(PyExc_ValueError, "%s: %s %s and %s %s: the product needs more than "
                     "2**63 multiply-adds (%zd x %zd x %zd); nothing was computed", fn, a_name,
                     sa, b_name, sb, (Py_ssize_t)m, (Py_ssize_t)k, (Py_ssize_t)n);
        return -1;
    }
    return 0;
}

/* obj as an ndarray of a real numeric dtype (no cast yet): a new reference. */
static PyArrayObject *to_array(PyObject *obj, const char *fn, const char *arg)
{
    PyArrayObject *arr;
    PyArray_Descr *d;
    if (PyArray_Check(obj)) {
        Py_INCREF(obj);
        arr = (PyArrayObject *)obj;
    }
    else if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an array, got None", fn, arg);
        return NULL;
    }
    else {
        arr = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
        if (arr == NULL) {
            add_context(fn, arg);
            return NULL;
        }
    }
    d = PyArray_DESCR(arr);
    if (!(PyTypeNum_ISBOOL(d->type_num) || PyTypeNum_ISINTEGER(d->type_num) ||
          d->type_num == NPY_HALF || d->type_num == NPY_FLOAT ||
          d->type_num == NPY_DOUBLE)) {
        PyObject *name = PyObject_Str((PyObject *)d);
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s: %s has dtype %U; expected a real array "
                         "(float64, float32, or int/bool cast to float)",
                         fn, arg, name);
            Py_DECREF(name);
        }
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* The dtype the kernels run in: float32 if NumPy's result type of the inputs
 * is float16 or float32, else float64 (ints and bools compute in float64). */
static int result_typenum(PyArrayObject **arrs, int n)
{
    PyArray_Descr *rt;
    int typenum, i, same = 1;
    for (i = 1; i < n; i++) {
        same = same && PyArray_TYPE(arrs[i]) == PyArray_TYPE(arrs[0]);
    }
    if (same && (PyArray_TYPE(arrs[0]) == NPY_DOUBLE || PyArray_TYPE(arrs[0]) == NPY_FLOAT)) {
        return PyArray_TYPE(arrs[0]); /* the common case, without the general rule */
    }
    rt = PyArray_ResultType((npy_intp)n, arrs, 0, NULL);
    if (rt == NULL) {
        return -1;
    }
    typenum = (rt->type_num == NPY_FLOAT || rt->type_num == NPY_HALF) ? NPY_FLOAT
                                                                      : NPY_DOUBLE;
    Py_DECREF(rt);
    return typenum;
}

/* Replace *arr by itself when it is aligned, native and of dtype typenum,
 * else by a cast copy (the one copy retroprop makes of an input). */
static int cast_in_place(PyArrayObject **arr, int typenum)
{
    PyArrayObject *cast;
    if (*arr == NULL || (PyArray_TYPE(*arr) == typenum && PyArray_ISALIGNED(*arr) &&
                         PyArray_ISNOTSWAPPED(*arr))) {
        return 0;
    }
    cast = (PyArrayObject *)PyArray_FromArray(
        *arr, PyArray_DescrFromType(typenum),
        NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED | NPY_ARRAY_FORCECAST);
    if (cast == NULL) {
        return -1;
    }
    Py_DECREF(*arr);
    *arr = cast;
    return 0;
}

/* The byte range [lo, hi) an array's elements occupy. */
static void extent(PyArrayObject *a, char **lo, char **hi)
{
    int i;
    char *l = PyArray_BYTES(a), *h = PyArray_BYTES(a) + PyArray_ITEMSIZE(a);
    for (i = 0; i < PyArray_NDIM(a); i++) {
        npy_intp span = (PyArray_DIM(a, i) - 1) * PyArray_STRIDE(a, i);
        if (span < 0) {
            l += span;
        }
        else {
            h += span;
        }
    }
    *lo = l;
    *hi = h;
}

/* 1 if the memory of a and b may overlap (bounds test; empty never does). */
static int may_overlap(PyArrayObject *a, PyArrayObject *b)
{
    char *alo, *ahi, *blo, *bhi;
    if (a == NULL || b == NULL || PyArray_SIZE(a) == 0 || PyArray_SIZE(b) == 0) {
        return 0;
    }
    extent(a, &alo, &ahi);
    extent(b, &blo, &bhi);
    return alo < bhi && blo < ahi;
}

/* Validate one out= array: an aligned, native, writeable ndarray of dtype
 * typenum and shape dims (or the alternative shape alt_dims, if given).
 * Returns a new reference, or NULL with an error. */
static PyArrayObject *check_out(PyObject *obj, const char *fn, const char *what,
                                int typenum, int ndim, const npy_intp *dims,
                                int alt_ndim, const npy_intp *alt_dims)
{
    PyArrayObject *out;
    char want[64], got[64], alt[64];
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a NumPy array or None, got %s",
                     fn, what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    out = (PyArrayObject *)obj;
    if (!(PyArray_NDIM(out) == ndim && PyArray_CompareLists(PyArray_DIMS(out), dims, ndim)) &&
        !(alt_dims != NULL && PyArray_NDIM(out) == alt_ndim &&
          PyArray_CompareLists(PyArray_DIMS(out), alt_dims, alt_ndim))) {
        shape_str(ndim, dims, want, sizeof(want));
        RP_SHAPE(out, got);
        if (alt_dims != NULL) {
            shape_str(alt_ndim, alt_dims, alt, sizeof(alt));
            PyErr_Format(PyExc_ValueError,
                         "%s: %s has shape %s but the result has shape %s (or %s)",
                         fn, what, got, want, alt);
        }
        else {
            PyErr_Format(PyExc_ValueError, "%s: %s has shape %s but the result has shape %s",
                         fn, what, got, want);
        }
        return NULL;
    }
    if (PyArray_TYPE(out) != typenum || !PyArray_ISNOTSWAPPED(out)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: %s has dtype %S but the result is %s; pass an array of "
                     "dtype %s", fn, what, (PyObject *)PyArray_DESCR(out),
                     typenum == NPY_FLOAT ? "float32" : "float64",
                     typenum == NPY_FLOAT ? "float32" : "float64");
        return NULL;
    }
    if (!PyArray_ISWRITEABLE(out)) {
        PyErr_Format(PyExc_ValueError, "%s: %s is read-only", fn, what);
        return NULL;
    }
    if (!PyArray_ISALIGNED(out)) {
        PyErr_Format(PyExc_ValueError, "%s: %s is not aligned", fn, what);
        return NULL;
    }
    Py_INCREF(out);
    return out;
}

/* out= entry i of a tuple of n (or out itself when n == 1), or NULL for None.
 * *err is set when the container is not a tuple/list of n. */
static PyObject *out_entry(PyObject *out, Py_ssize_t i, Py_ssize_t n, const char *fn,
                           int *err)
{
    PyObject *item;
    if (out == Py_None) {
        return NULL;
    }
    if (!(PyTuple_Check(out) || PyList_Check(out)) || PySequence_Size(out) != n) {
        if (!*err) {
            PyErr_Format(PyExc_TypeError, "%s: out must be None or a tuple of %zd arrays "
                         "(None entries allowed)", fn, n);
        }
        *err = 1;
        return NULL;
    }
    item = PySequence_Fast_GET_ITEM(out, i);
    return item == Py_None ? NULL : item;
}

/* The out= array if given (validated, checked against the inputs for
 * overlap), else a fresh array; a new reference or NULL. */
static PyArrayObject *output(PyObject *given, const char *fn, const char *what,
                             int typenum, int ndim, const npy_intp *dims,
                             int alt_ndim, const npy_intp *alt_dims,
                             PyArrayObject **inputs, int ninputs)
{
    PyArrayObject *out;
    int i;
    if (given == NULL) {
        return new_result(fn, ndim, dims, typenum);
    }
    out = check_out(given, fn, what, typenum, ndim, dims, alt_ndim, alt_dims);
    if (out == NULL) {
        return NULL;
    }
    for (i = 0; i < ninputs; i++) {
        if (may_overlap(out, inputs[i])) {
            PyErr_Format(PyExc_ValueError,
                         "%s: %s shares memory with an input; pass a separate array",
                         fn, what);
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static int parse_layout(const char *name, const char *fn, int *cols)
{
    if (strcmp(name, "rows") == 0) {
        *cols = 0;
    }
    else if (strcmp(name, "cols") == 0) {
        *cols = 1;
    }
    else {
        PyErr_Format(PyExc_ValueError,
                     "%s: unknown layout '%s'; expected 'rows' (samples are rows, "
                     "Z = X @ W + b) or 'cols' (samples are columns, Z = W @ X + b)",
                     fn, name);
        return -1;
    }
    return 0;
}

static int parse_activation(const char *name, const char *fn, rp_activation *act)
{
    if (strcmp(name, "sigmoid") == 0) {
        *act = RP_ACT_SIGMOID;
    }
    else if (strcmp(name, "tanh") == 0) {
        *act = RP_ACT_TANH;
    }
    else if (strcmp(name, "relu") == 0) {
        *act = RP_ACT_RELU;
    }
    else if (strcmp(name, "identity") == 0) {
        *act = RP_ACT_IDENTITY;
    }
    else {
        PyErr_Format(PyExc_ValueError,
                     "%s: unknown activation '%s'; expected 'sigmoid', 'tanh', "
                     "'relu' or 'identity'", fn, name);
        return -1;
    }
    return 0;
}

/* 2-D views of an array of ndim <= 2. A 1-D array is one row (as_row) or
 * one column; a 0-d array is 1x1. */
static rp_cview cview_of(PyArrayObject *a, int as_row)
{
    rp_cview v;
    v.data = PyArray_BYTES(a);
    if (PyArray_NDIM(a) == 2) {
        v.rows = PyArray_DIM(a, 0);
        v.cols = PyArray_DIM(a, 1);
        v.s0 = PyArray_STRIDE(a, 0);
        v.s1 = PyArray_STRIDE(a, 1);
    }
    else if (PyArray_NDIM(a) == 1 && as_row) {
        v.rows = 1;
        v.cols = PyArray_DIM(a, 0);
        v.s0 = 0;
        v.s1 = PyArray_STRIDE(a, 0);
    }
    else if (PyArray_NDIM(a) == 1) {
        v.rows = PyArray_DIM(a, 0);
        v.cols = 1;
        v.s0 = PyArray_STRIDE(a, 0);
        v.s1 = 0;
    }
    else {
        v.rows = v.cols = 1;
        v.s0 = v.s1 = 0;
    }
    return v;
}

static rp_view view_of(PyArrayObject *a, int as_row)
{
    rp_cview c = cview_of(a, as_row);
    rp_view v;
    v.data = PyArray_BYTES(a);
    v.rows = c.rows;
    v.cols = c.cols;
    v.s0 = c.s0;
    v.s1 = c.s1;
    return v;
}

static rp_cview transposed(rp_cview v)
{
    rp_cview t;
    t.data = v.data;
    t.rows = v.cols;
    t.cols = v.rows;
    t.s0 = v.s1;
    t.s1 = v.s0;
    return t;
}

/* C = alpha * (A @ B): our loop for small products, BLAS for large ones,
 * with the GIL released when the work is large. */
static void product(double alpha, rp_cview A, rp_cview B, rp_view C, int typenum)
{
    RP_RUN((double)C.rows * (double)C.cols * (double)A.cols,
           RP_DISPATCH(typenum, rp_gemm, (alpha, A, B, C)));
}

/* ------------------------------------------------------------------------ */
/* matmul                                                                    */

PyDoc_STRVAR(matmul_doc,
"matmul(A, B, *, out=None)\n--\n\n"
"Matrix product of 1-D or 2-D arrays, read in place whatever their strides.\n\n"
"NumPy: np.matmul(A, B)  (that is, A @ B)\n\n"
"As np.matmul: a 1-D A is a row (n,) -> (1, n) and a 1-D B a column, and the\n"
"added dimension is removed from the result. Tiny products (the seeds' 2x2 to\n"
"4x4) run in a plain C loop without NumPy's per-call cost; large ones are\n"
"handed to OpenBLAS (scipy-openblas32) with the GIL released. int inputs\n"
"are cast to float64 (a copy).\n\n"
"out : array of the result's shape and dtype, written in place and returned.");

static PyObject *py_matmul(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"A", "B", "out", NULL};
    const char *fn = "matmul";
    PyObject *A_obj, *B_obj, *out_obj = Py_None;
    PyArrayObject *arrs[2] = {NULL, NULL}, *C = NULL;
    char sa[64], sb[64];
    npy_intp dims[2];
    int ndim = 0, typenum;
    rp_index k_a, k_b;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$O:matmul", kwlist, &A_obj, &B_obj,
                                     &out_obj)) {
        return NULL;
    }
    if ((arrs[0] = to_array(A_obj, fn, "A")) == NULL ||
        (arrs[1] = to_array(B_obj, fn, "B")) == NULL) {
        goto error;
    }
    if (PyArray_NDIM(arrs[0]) < 1 || PyArray_NDIM(arrs[0]) > 2 ||
        PyArray_NDIM(arrs[1]) < 1 || PyArray_NDIM(arrs[1]) > 2) {
        RP_SHAPE(arrs[0], sa);
        RP_SHAPE(arrs[1], sb);
        PyErr_Format(PyExc_ValueError,
                     "%s: A and B must be 1-D or 2-D, got A %s and B %s", fn, sa, sb);
        goto error;
    }
    k_a = PyArray_DIM(arrs[0], PyArray_NDIM(arrs[0]) - 1);
    k_b = PyArray_DIM(arrs[1], 0);
    if (k_a != k_b) {
        RP_SHAPE(arrs[0], sa);
        RP_SHAPE(arrs[1], sb);
        PyErr_Format(PyExc_ValueError,
                     "%s: A has %zd %s but B has %zd %s (A %s, B %s)", fn, (Py_ssize_t)k_a,
                     PyArray_NDIM(arrs[0]) == 2 ? "columns" : "elements", (Py_ssize_t)k_b,
                     PyArray_NDIM(arrs[1]) == 2 ? "rows" : "elements", sa, sb);
        goto error;
    }
    if (PyArray_NDIM(arrs[0]) == 2) {
        dims[ndim++] = PyArray_DIM(arrs[0], 0);
    }
    if (PyArray_NDIM(arrs[1]) == 2) {
        dims[ndim++] = PyArray_DIM(arrs[1], 1);
    }
    if (check_work(fn, PyArray_NDIM(arrs[0]) == 2 ? PyArray_DIM(arrs[0], 0) : 1,
                   PyArray_NDIM(arrs[1]) == 2 ? PyArray_DIM(arrs[1], 1) : 1, k_a, "A", arrs[0],
                   "B", arrs[1]) < 0) {
        goto error;
    }
    if ((typenum = result_typenum(arrs, 2)) < 0 || cast_in_place(&arrs[0], typenum) < 0 ||
        cast_in_place(&arrs[1], typenum) < 0) {
        goto error;
    }
    C = output(out_obj == Py_None ? NULL : out_obj, fn, "out", typenum, ndim, dims, -1,
               NULL, arrs, 2);
    if (C == NULL) {
        goto error;
    }
    {
        rp_view cv = view_of(C, PyArray_NDIM(arrs[0]) == 1);
        product(1.0, cview_of(arrs[0], 1), cview_of(arrs[1], 0), cv, typenum);
    }
    Py_DECREF(arrs[0]);
    Py_DECREF(arrs[1]);
    if (out_obj != Py_None) {
        return (PyObject *)C;
    }
    return PyArray_Return(C); /* 1-D @ 1-D is a scalar, as in NumPy */
error:
    Py_XDECREF(arrs[0]);
    Py_XDECREF(arrs[1]);
    Py_XDECREF(C);
    return NULL;
}

/* The shapes of a dense layer's X and W: checks they agree and gives the
 * number of samples n, inputs and outputs, and Z's shape. */
typedef struct {
    npy_intp n, n_in, n_out;
    int zndim;
    npy_intp zdims[2];
} rp_layer;

static int check_layer(const char *fn, PyArrayObject *X, PyArrayObject *W, int cols,
                       const char *layout_name, rp_layer *L)
{
    char sx[64], sw[64];
    if (PyArray_NDIM(X) != 1 && PyArray_NDIM(X) != 2) {
        RP_SHAPE(X, sx);
        RP_SHAPE(W, sw);
        PyErr_Format(PyExc_ValueError, "%s: X must be 2-D %s or one sample (in,) for "
                     "layout='%s', got shape %s", fn, cols ? "(in, n)" : "(n, in)",
                     layout_name, sx);
        return -1;
    }
    if (PyArray_NDIM(W) != 2) {
        RP_SHAPE(X, sx);
        RP_SHAPE(W, sw);
        PyErr_Format(PyExc_ValueError, "%s: W must be 2-D %s for layout='%s', got shape %s",
                     fn, cols ? "(out, in)" : "(in, out)", layout_name, sw);
        return -1;
    }
    L->n_in = cols ? PyArray_DIM(W, 1) : PyArray_DIM(W, 0);
    L->n_out = cols ? PyArray_DIM(W, 0) : PyArray_DIM(W, 1);
    if (PyArray_NDIM(X) == 1) {
        L->n = 1;
        if (PyArray_DIM(X, 0) != L->n_in) {
            RP_SHAPE(X, sx);
            RP_SHAPE(W, sw);
            PyErr_Format(PyExc_ValueError, "%s: X has %zd elements but W has %zd %s "
                         "(X %s, W %s, layout='%s')", fn, (Py_ssize_t)PyArray_DIM(X, 0),
                         (Py_ssize_t)L->n_in, cols ? "columns" : "rows", sx, sw, layout_name);
            return -1;
        }
        L->zndim = 1;
        L->zdims[0] = L->n_out;
    }
    else {
        npy_intp x_in = cols ? PyArray_DIM(X, 0) : PyArray_DIM(X, 1);
        L->n = cols ? PyArray_DIM(X, 1) : PyArray_DIM(X, 0);
        if (x_in != L->n_in) {
            RP_SHAPE(X, sx);
            RP_SHAPE(W, sw);
            PyErr_Format(PyExc_ValueError, "%s: X has %zd %s but W has %zd %s "
                         "(X %s, W %s, layout='%s')", fn, (Py_ssize_t)x_in,
                         cols ? "rows" : "columns", (Py_ssize_t)L->n_in,
                         cols ? "columns" : "rows", sx, sw, layout_name);
            return -1;
        }
        L->zndim = 2;
        L->zdims[0] = cols ? L->n_out : L->n;
        L->zdims[1] = cols ? L->n : L->n_out;
    }
    return 0;
}

/* The layer's product (n x in x out multiply-adds) can be counted. */
static int check_layer_work(const char *fn, PyArrayObject *X, PyArrayObject *W,
                            const rp_layer *L)
{
    return check_work(fn, L->n, L->n_out, L->n_in, "X", X, "W", W);
}

/* ------------------------------------------------------------------------ */
/* dense_forward                                                             */

PyDoc_STRVAR(dense_forward_doc,
"dense_forward(X, W, b=None, activation=\"sigmoid\", *, layout=\"rows\", out=None)\n--\n\n"
"Fused dense layer: the product, the bias and the activation in one call.\n"
"Returns (Z, A).\n\n"
"layout=\"rows\" (samples are rows; seeds 001, 002, 003):\n"
"    NumPy: Z = X @ W + b;  A = act(Z)\n"
"    X (n, in) or one sample (in,), W (in, out), b (out,) or (1, out) or None;\n"
"    Z and A are (n, out), or (out,) for a 1-D X.\n"
"layout=\"cols\" (samples are columns; seed 000):\n"
"    NumPy: Z = W @ X + b.reshape(-1, 1);  A = act(Z)\n"
"    X (in, n) or (in,), W (out, in), b (out, 1) or (out,) or None;\n"
"    Z and A are (out, n), or (out,) for a 1-D X.\n\n"
"activation : \"sigmoid\", \"tanh\", \"relu\" or \"identity\" (A is then a copy of Z).\n"
"out : (Z_out, A_out), arrays of the result's shape and dtype written in\n"
"    place and returned; either may be None for a fresh array.\n\n"
"float32 and float64 inputs are read in place whatever their strides; the\n"
"result is float32 when NumPy's result type of the inputs is float32, else\n"
"float64 (int inputs, as in seeds 001 and 003, are cast: a copy).");

static PyObject *py_dense_forward(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"X", "W", "b", "activation", "layout", "out", NULL};
    const char *fn = "dense_forward";
    PyObject *X_obj, *W_obj, *b_obj = Py_None, *out_obj = Py_None, *zo, *ao;
    const char *act_name = "sigmoid", *layout_name = "rows";
    PyArrayObject *in[3] = {NULL, NULL, NULL}; /* X, W, b */
    PyArrayObject *X, *W, *b, *Z = NULL, *A = NULL;
    char sw[64], sbias[64];
    rp_layer L;
    rp_activation act;
    int cols, typenum, ninputs, out_err = 0;
    npy_intp n_out;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|Os$sO:dense_forward", kwlist, &X_obj,
                                     &W_obj, &b_obj, &act_name, &layout_name, &out_obj)) {
        return NULL;
    }
    if (parse_layout(layout_name, fn, &cols) < 0 || parse_activation(act_name, fn, &act) < 0) {
        return NULL;
    }
    if ((in[0] = to_array(X_obj, fn, "X")) == NULL || (in[1] = to_array(W_obj, fn, "W")) == NULL ||
        (b_obj != Py_None && (in[2] = to_array(b_obj, fn, "b")) == NULL)) {
        goto error;
    }
    X = in[0];
    W = in[1];
    b = in[2];
    ninputs = b != NULL ? 3 : 2;
    if (check_layer(fn, X, W, cols, layout_name, &L) < 0 ||
        check_layer_work(fn, X, W, &L) < 0) {
        goto error;
    }
    n_out = L.n_out;
    if (b != NULL) {
        /* rows: (out,) or (1, out); cols: (out, 1) or (out,) */
        int ok = (PyArray_NDIM(b) == 1 && PyArray_DIM(b, 0) == n_out) ||
                 (PyArray_NDIM(b) == 2 && !cols && PyArray_DIM(b, 0) == 1 &&
                  PyArray_DIM(b, 1) == n_out) ||
                 (PyArray_NDIM(b) == 2 && cols && PyArray_DIM(b, 0) == n_out &&
                  PyArray_DIM(b, 1) == 1);
        if (!ok) {
            RP_SHAPE(b, sbias);
            RP_SHAPE(W, sw);
            if (cols) {
                PyErr_Format(PyExc_ValueError, "%s: b has shape %s but W %s has %zd outputs: "
                             "b must be (%zd, 1) or (%zd,) for layout='cols'", fn, sbias, sw,
                             (Py_ssize_t)n_out, (Py_ssize_t)n_out, (Py_ssize_t)n_out);
            }
            else {
                PyErr_Format(PyExc_ValueError, "%s: b has shape %s but W %s has %zd outputs: "
                             "b must be (%zd,) or (1, %zd) for layout='rows'", fn, sbias, sw,
                             (Py_ssize_t)n_out, (Py_ssize_t)n_out, (Py_ssize_t)n_out);
            }
            goto error;
        }
    }
    if ((typenum = result_typenum(in, ninputs)) < 0 || cast_in_place(&in[0], typenum) < 0 ||
        cast_in_place(&in[1], typenum) < 0 || cast_in_place(&in[2], typenum) < 0) {
        goto error;
    }
    X = in[0];
    W = in[1];
    b = in[2];
    zo = out_entry(out_obj, 0, 2, fn, &out_err);
    ao = out_entry(out_obj, 1, 2, fn, &out_err);
    if (out_err) {
        goto error;
    }
    if ((Z = output(zo, fn, "out[0] (Z)", typenum, L.zndim, L.zdims, -1, NULL, in, ninputs)) == NULL ||
        (A = output(ao, fn, "out[1] (A)", typenum, L.zndim, L.zdims, -1, NULL, in, ninputs)) == NULL) {
        goto error;
    }
    if (may_overlap(Z, A)) {
        PyErr_Format(PyExc_ValueError, "%s: out[0] (Z) and out[1] (A) share memory", fn);
        goto error;
    }
    {
        /* a 1-D X is one sample: a row in 'rows', a column in 'cols' */
        rp_cview xv = cview_of(X, !cols), wv = cview_of(W, 0), bv;
        rp_view zv = view_of(Z, !cols), av = view_of(A, !cols);
        if (cols) {
            product(1.0, wv, xv, zv, typenum);
        }
        else {
            product(1.0, xv, wv, zv, typenum);
        }
        bv.data = NULL;
        bv.rows = zv.rows;
        bv.cols = zv.cols;
        bv.s0 = bv.s1 = 0;
        if (b != NULL) {
            /* broadcast the bias over the samples with a zero stride */
            rp_index stride = PyArray_NDIM(b) == 1 ? PyArray_STRIDE(b, 0)
                                                   : PyArray_STRIDE(b, cols ? 0 : 1);
            bv.data = PyArray_BYTES(b);
            if (cols) {
                bv.s0 = stride;
            }
            else {
                bv.s1 = stride;
            }
        }
        RP_RUN(zv.rows * zv.cols, RP_DISPATCH(typenum, rp_bias_activate, (zv, bv, act, av)));
    }
    Py_DECREF(in[0]);
    Py_DECREF(in[1]);
    Py_XDECREF(in[2]);
    return Py_BuildValue("(NN)", Z, A);
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    Py_XDECREF(in[2]);
    Py_XDECREF(Z);
    Py_XDECREF(A);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* dense_backward                                                            */

PyDoc_STRVAR(dense_backward_doc,
"dense_backward(delta, X, W, *, layout=\"rows\", average=False, out=None)\n--\n\n"
"Gradients of a dense layer from delta = dL/dZ of that layer.\n"
"Returns (dW, db, dX): dW has W's shape, dX has X's shape.\n\n"
"layout=\"rows\" (X (n, in), W (in, out), delta (n, out)):\n"
"    NumPy: dW = X.T @ delta;  db = delta.sum(axis=0);  dX = delta @ W.T\n"
"    db is (out,).\n"
"layout=\"cols\" (X (in, n), W (out, in), delta (out, n)):\n"
"    NumPy: dW = delta @ X.T;  db = delta.sum(axis=1, keepdims=True);  dX = W.T @ delta\n"
"    db is (out, 1).\n"
"A 1-D X is one sample, with a 1-D delta (out,): dW is then the outer product.\n\n"
"average : divide dW and db by the number of samples n (seed 000's 1/m);\n"
"    False sums over the samples (seeds 001, 003).\n"
"out : (dW_out, db_out, dX_out), written in place and returned; entries may\n"
"    be None. db_out may have either bias shape of the layout.\n\n"
"dX is what the layer below needs: its delta is dX * f'(its Z).");

static PyObject *py_dense_backward(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"delta", "X", "W", "layout", "average", "out", NULL};
    const char *fn = "dense_backward";
    PyObject *delta_obj, *X_obj, *W_obj, *out_obj = Py_None, *o[3];
    const char *layout_name = "rows";
    int average = 0, cols, typenum, out_err = 0, i;
    PyArrayObject *in[3] = {NULL, NULL, NULL}; /* delta, X, W */
    PyArrayObject *dW = NULL, *db = NULL, *dX = NULL, *delta, *X, *W;
    rp_layer L;
    npy_intp db_dims[2], db_alt[2];
    char sd[64], sz[64], sx[64], sw[64];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|$spO:dense_backward", kwlist,
                                     &delta_obj, &X_obj, &W_obj, &layout_name, &average,
                                     &out_obj)) {
        return NULL;
    }
    if (parse_layout(layout_name, fn, &cols) < 0) {
        return NULL;
    }
    if ((in[0] = to_array(delta_obj, fn, "delta")) == NULL ||
        (in[1] = to_array(X_obj, fn, "X")) == NULL || (in[2] = to_array(W_obj, fn, "W")) == NULL) {
        goto error;
    }
    delta = in[0];
    X = in[1];
    W = in[2];
    if (check_layer(fn, X, W, cols, layout_name, &L) < 0 ||
        check_layer_work(fn, X, W, &L) < 0) {
        goto error;
    }
    if (!(PyArray_NDIM(delta) == L.zndim &&
          PyArray_CompareLists(PyArray_DIMS(delta), L.zdims, L.zndim))) {
        RP_SHAPE(delta, sd);
        RP_SHAPE(X, sx);
        RP_SHAPE(W, sw);
        shape_str(L.zndim, L.zdims, sz, sizeof(sz));
        PyErr_Format(PyExc_ValueError, "%s: delta has shape %s but this layer's Z has shape %s "
                     "(X %s, W %s, layout='%s'); delta is dL/dZ", fn, sd, sz, sx, sw,
                     layout_name);
        goto error;
    }
    if (average && L.n == 0) {
        PyErr_Format(PyExc_ValueError, "%s: average=True needs at least one sample, X has "
                     "none", fn);
        goto error;
    }
    if ((typenum = result_typenum(in, 3)) < 0) {
        goto error;
    }
    for (i = 0; i < 3; i++) {
        if (cast_in_place(&in[i], typenum) < 0) {
            goto error;
        }
    }
    delta = in[0];
    X = in[1];
    W = in[2];
    for (i = 0; i < 3; i++) {
        o[i] = out_entry(out_obj, i, 3, fn, &out_err);
    }
    if (out_err) {
        goto error;
    }
    /* db: (out,) for rows, (out, 1) for cols; out= may take the other form */
    db_dims[0] = L.n_out;
    db_dims[1] = 1;
    db_alt[0] = cols ? L.n_out : 1;
    db_alt[1] = L.n_out;
    if ((dW = output(o[0], fn, "out[0] (dW)", typenum, 2, PyArray_DIMS(W), -1, NULL, in, 3)) == NULL ||
        (db = output(o[1], fn, "out[1] (db)", typenum, cols ? 2 : 1, db_dims,
                     cols ? 1 : 2, db_alt, in, 3)) == NULL ||
        (dX = output(o[2], fn, "out[2] (dX)", typenum, PyArray_NDIM(X), PyArray_DIMS(X), -1,
                     NULL, in, 3)) == NULL) {
        goto error;
    }
    if (may_overlap(dW, db) || may_overlap(dW, dX) || may_overlap(db, dX)) {
        PyErr_Format(PyExc_ValueError, "%s: the arrays of out share memory", fn);
        goto error;
    }
    {
        double scale = average ? 1.0 / (double)L.n : 1.0;
        rp_cview dv = cview_of(delta, !cols), xv = cview_of(X, !cols), wv = cview_of(W, 0);
        rp_view dwv = view_of(dW, 0), dxv = view_of(dX, !cols);
        /* the stride of db along the outputs, whichever form it has */
        rp_index db_stride = PyArray_NDIM(db) == 1 ? PyArray_STRIDE(db, 0)
                                                   : PyArray_STRIDE(db, cols ? 0 : 1);
        if (cols) {
            /* dW = delta @ X.T;  dX = W.T @ delta */
            product(scale, dv, transposed(xv), dwv, typenum);
            product(1.0, transposed(wv), dv, dxv, typenum);
        }
        else {
            /* dW = X.T @ delta;  dX = delta @ W.T */
            product(scale, transposed(xv), dv, dwv, typenum);
            product(1.0, dv, transposed(wv), dxv, typenum);
        }
        /* db = sum over the samples: the column sums of delta in 'rows' */
        RP_RUN(dv.rows * dv.cols,
               RP_DISPATCH(typenum, rp_colsum,
                           (scale, cols ? transposed(dv) : dv, PyArray_BYTES(db), db_stride)));
    }
    Py_DECREF(in[0]);
    Py_DECREF(in[1]);
    Py_DECREF(in[2]);
    return Py_BuildValue("(NNN)", dW, db, dX);
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    Py_XDECREF(in[2]);
    Py_XDECREF(dW);
    Py_XDECREF(db);
    Py_XDECREF(dX);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* losses                                                                    */

/* A and Y as arrays of one float dtype and one shape (ndim <= 2). */
static int loss_inputs(PyObject *A_obj, PyObject *Y_obj, const char *fn, PyArrayObject **in,
                       int *typenum)
{
    char sa[64], sy[64];
    if ((in[0] = to_array(A_obj, fn, "A")) == NULL || (in[1] = to_array(Y_obj, fn, "Y")) == NULL) {
        return -1;
    }
    if (PyArray_NDIM(in[0]) > 2 || PyArray_NDIM(in[1]) > 2) {
        RP_SHAPE(in[0], sa);
        RP_SHAPE(in[1], sy);
        PyErr_Format(PyExc_ValueError, "%s: A and Y must have at most 2 dimensions, got A %s "
                     "and Y %s", fn, sa, sy);
        return -1;
    }
    if (!(PyArray_NDIM(in[0]) == PyArray_NDIM(in[1]) &&
          PyArray_CompareLists(PyArray_DIMS(in[0]), PyArray_DIMS(in[1]), PyArray_NDIM(in[0])))) {
        RP_SHAPE(in[0], sa);
        RP_SHAPE(in[1], sy);
        PyErr_Format(PyExc_ValueError, "%s: A has shape %s but Y has shape %s; they must "
                     "match", fn, sa, sy);
        return -1;
    }
    if ((*typenum = result_typenum(in, 2)) < 0 || cast_in_place(&in[0], *typenum) < 0 ||
        cast_in_place(&in[1], *typenum) < 0) {
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(bce_doc,
"bce(A, Y, eps=1e-8)\n--\n\n"
"Mean binary cross-entropy of predictions A against targets Y (seed 000).\n\n"
"NumPy: -np.mean(Y * np.log(A + eps) + (1 - Y) * np.log(1 - A + eps))\n\n"
"For one output unit this is seed 000's -(1/m) * np.sum(...), m the number\n"
"of samples. eps keeps log away from 0. A and Y have the same shape; the\n"
"result is a Python float. An empty A gives nan, as np.mean does (no warning).");

PyDoc_STRVAR(squared_error_doc,
"squared_error(A, Y)\n--\n\n"
"Summed squared error, seed 004's cost (y_pred - y_act)**2.\n\n"
"NumPy: np.sum((A - Y) ** 2)\n\n"
"Its gradient with respect to A is 2 * (A - Y). The half of it,\n"
"half_squared_error, is the loss of seeds 001, 002 and 003.");

PyDoc_STRVAR(half_squared_error_doc,
"half_squared_error(A, Y)\n--\n\n"
"Half the summed squared error, the loss behind seeds 001, 002 and 003.\n\n"
"NumPy: 0.5 * np.sum((A - Y) ** 2)\n\n"
"Its gradient with respect to A is A - Y, so with a sigmoid output\n"
"dL/dZ = (A - Y) * A * (1 - A) = sigmoid_squared_error_delta(A, Y); the\n"
"seeds write the same thing with the opposite sign, (Y - A) * A * (1 - A),\n"
"and add it to the weights.");

enum { LOSS_BCE, LOSS_SSE, LOSS_HALF_SSE };

static PyObject *loss(int which, PyObject *args, PyObject *kwds)
{
    static char *kwlist_bce[] = {"A", "Y", "eps", NULL};
    static char *kwlist_se[] = {"A", "Y", NULL};
    const char *fn = which == LOSS_BCE ? "bce"
                     : which == LOSS_SSE ? "squared_error" : "half_squared_error";
    PyObject *A_obj, *Y_obj;
    PyArrayObject *in[2] = {NULL, NULL};
    double eps = 1e-8, value = 0.0;
    int typenum, ok;
    if (which == LOSS_BCE) {
        ok = PyArg_ParseTupleAndKeywords(args, kwds, "OO|d:bce", kwlist_bce, &A_obj, &Y_obj, &eps);
    }
    else {
        ok = PyArg_ParseTupleAndKeywords(args, kwds, which == LOSS_SSE ? "OO:squared_error"
                                         : "OO:half_squared_error", kwlist_se, &A_obj, &Y_obj);
    }
    if (!ok || loss_inputs(A_obj, Y_obj, fn, in, &typenum) < 0) {
        goto error;
    }
    {
        rp_cview av = cview_of(in[0], 1), yv = cview_of(in[1], 1);
        if (which == LOSS_BCE) {
            RP_RUN(PyArray_SIZE(in[0]),
                   value = typenum == NPY_FLOAT ? rp_bce_f32(av, yv, eps) : rp_bce_f64(av, yv, eps));
        }
        else {
            RP_RUN(PyArray_SIZE(in[0]),
                   value = typenum == NPY_FLOAT ? rp_sum_squared_error_f32(av, yv)
                                                : rp_sum_squared_error_f64(av, yv));
            if (which == LOSS_HALF_SSE) {
                value *= 0.5;
            }
        }
    }
    Py_DECREF(in[0]);
    Py_DECREF(in[1]);
    return PyFloat_FromDouble(value);
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    return NULL;
}

static PyObject *py_bce(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return loss(LOSS_BCE, args, kwds);
}

static PyObject *py_squared_error(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return loss(LOSS_SSE, args, kwds);
}

static PyObject *py_half_squared_error(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return loss(LOSS_HALF_SSE, args, kwds);
}

/* ------------------------------------------------------------------------ */
/* sgd_update                                                                */

PyDoc_STRVAR(sgd_update_doc,
"sgd_update(param, grad, lr)\n--\n\n"
"One step of gradient descent, in place; returns param itself.\n\n"
"NumPy: param -= lr * grad\n\n"
"param is a writeable float32 or float64 array (up to 2-D) and keeps its\n"
"identity and its data pointer. grad has param's shape; a grad of another\n"
"dtype is cast to param's dtype first (a copy). lr must be finite. Seeds 001 and 003 step with\n"
"+= and -=; here the sign is always descent: pass the gradient of the loss.");

static PyObject *py_sgd_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"param", "grad", "lr", NULL};
    const char *fn = "sgd_update";
    PyObject *param_obj, *grad_obj, *lr_obj;
    PyArrayObject *param, *grad = NULL;
    double lr;
    int typenum;
    char sp[64], sg[64];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:sgd_update", kwlist, &param_obj,
                                     &grad_obj, &lr_obj)) {
        return NULL;
    }
    lr = PyFloat_AsDouble(lr_obj);
    if (lr == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "%s: lr must be a real number, got %s", fn,
                         Py_TYPE(lr_obj)->tp_name);
        }
        else {
            add_context(fn, "lr");
        }
        return NULL;
    }
    if (!isfinite(lr)) {
        PyObject *v = PyFloat_FromDouble(lr);
        if (v != NULL) {
            PyErr_Format(PyExc_ValueError, "%s: lr must be a finite number, got %R", fn, v);
            Py_DECREF(v);
        }
        return NULL;
    }
    if (!PyArray_Check(param_obj)) {
        PyErr_Format(PyExc_TypeError, "%s: param must be a NumPy array (it is updated in "
                     "place), got %s", fn, Py_TYPE(param_obj)->tp_name);
        return NULL;
    }
    param = (PyArrayObject *)param_obj;
    typenum = PyArray_TYPE(param);
    if ((typenum != NPY_FLOAT && typenum != NPY_DOUBLE) || !PyArray_ISNOTSWAPPED(param)) {
        PyErr_Format(PyExc_TypeError, "%s: param has dtype %S; it must be float32 or float64 "
                     "to be updated in place", fn, (PyObject *)PyArray_DESCR(param));
        return NULL;
    }
    if (!PyArray_ISWRITEABLE(param)) {
        RP_SHAPE(param, sp);
        PyErr_Format(PyExc_ValueError, "%s: param %s is read-only", fn, sp);
        return NULL;
    }
    if (PyArray_NDIM(param) > 2 || !PyArray_ISALIGNED(param)) {
        RP_SHAPE(param, sp);
        PyErr_Format(PyExc_ValueError, "%s: param must be an aligned array of at most 2 "
                     "dimensions, got shape %s", fn, sp);
        return NULL;
    }
    if ((grad = to_array(grad_obj, fn, "grad")) == NULL) {
        return NULL;
    }
    if (!(PyArray_NDIM(grad) == PyArray_NDIM(param) &&
          PyArray_CompareLists(PyArray_DIMS(grad), PyArray_DIMS(param), PyArray_NDIM(param)))) {
        RP_SHAPE(param, sp);
        RP_SHAPE(grad, sg);
        PyErr_Format(PyExc_ValueError, "%s: grad has shape %s but param has shape %s; they "
                     "must match", fn, sg, sp);
        goto error;
    }
    if (cast_in_place(&grad, typenum) < 0) {
        goto error;
    }
    /* grad may be param itself, but not another view of its memory */
    if (may_overlap(param, grad) &&
        !(PyArray_BYTES(param) == PyArray_BYTES(grad) &&
          PyArray_CompareLists(PyArray_STRIDES(param), PyArray_STRIDES(grad),
                               PyArray_NDIM(param)))) {
        PyErr_Format(PyExc_ValueError, "%s: grad shares memory with param", fn);
        goto error;
    }
    {
        rp_view pv = view_of(param, 1);
        rp_cview gv = cview_of(grad, 1);
        RP_RUN(PyArray_SIZE(param), RP_DISPATCH(typenum, rp_sgd_update, (lr, pv, gv)));
    }
    Py_DECREF(grad);
    Py_INCREF(param);
    return (PyObject *)param;
error:
    Py_XDECREF(grad);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The network entry points behind retroprop.MLP (network.py). Private: the  */
/* class validates and documents; these check again before touching memory. */
/* Each takes the network's whole configuration as one dict, read once by   */
/* net_setup: net_forward(weights, biases, X, config), net_gradients(weights,*/
/* biases, X, Y, dweights, dbiases, config), net_fit(weights, biases, X, Y,  */
/* config, state).                                                           */

/* A network's parameters as rp_views with samples as rows, its fit's
 * configuration, and the references that keep its arrays alive while the
 * GIL is released. */
typedef struct {
    rp_net net;
    rp_fit fit;
    rp_index *sizes;
    rp_view *views; /* W, b, vW, vb, sW, sb: 6 * nlayers */
    PyArrayObject **held;
    int nheld;
    int typenum;
    int cols;
} net_args;

static void net_args_free(net_args *na)
{
    int i;
    for (i = 0; i < na->nheld; i++) {
        Py_DECREF(na->held[i]);
    }
    PyMem_Free(na->sizes);
    PyMem_Free(na->views);
    PyMem_Free(na->held);
}

static int parse_loss(const char *name, rp_loss *loss)
{
    if (strcmp(name, "bce") == 0) {
        *loss = RP_LOSS_BCE;
    }
    else if (strcmp(name, "ce") == 0) {
        *loss = RP_LOSS_CE;
    }
    else if (strcmp(name, "mse") == 0) {
        *loss = RP_LOSS_MSE;
    }
    else {
        PyErr_Format(PyExc_ValueError, "unknown loss '%s'; expected 'bce', 'ce' or 'mse'", name);
        return -1;
    }
    return 0;
}

/* The entry points a configuration key is for. */
enum { FOR_FORWARD = 1, FOR_GRADIENTS = 2, FOR_FIT = 4 };

/* Every key of a configuration dict and the calls that read it: anything
 * else (a misspelt key) is an error, not silently ignored. */
static const struct {
    const char *key;
    int calls;
} net_keys[] = {
    {"layout", 7}, {"activation", 7}, {"output_activation", 7},
    {"loss", 6}, {"average", 6}, {"l2", 6}, {"l2_per_batch", 6}, {"decay_biases", 6},
    {"lr", 4}, {"optimizer", 4}, {"momentum", 4}, {"nesterov", 4}, {"beta1", 4},
    {"beta2", 4}, {"adam_eps", 4}, {"weight_decay", 4}, {"schedule", 4}, {"gamma", 4},
    {"step_size", 4}, {"lr_decay", 4}, {"epochs", 4}, {"batching", 4}, {"batch_size", 4},
    {"seed", 4}, {"batch_indices", 4}, {"batch_bounds", 4},
};

/* config[key], borrowed; NULL (no error set) when absent and not required. */
static PyObject *config_item(PyObject *config, const char *fn, const char *key, int required)
{
    PyObject *v = PyDict_GetItemString(config, key);
    if (v == NULL && required) {
        PyErr_Format(PyExc_ValueError, "%s: the configuration has no '%s'", fn, key);
    }
    return v;
}

/* config[key] as a UTF-8 string (borrowed from the dict), or dflt if absent. */
static int config_str(PyObject *config, const char *fn, const char *key, const char *dflt,
                      const char **out)
{
    PyObject *v = config_item(config, fn, key, dflt == NULL);
    if (v == NULL) {
        *out = dflt;
        return dflt == NULL ? -1 : 0;
    }
    if (!PyUnicode_Check(v) || (*out = PyUnicode_AsUTF8(v)) == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: '%s' must be a str, got %s", fn, key,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    return 0;
}

/* config[key] as a finite double >= lo (a float or an int: no Python code
 * runs), or dflt if absent (NAN: required). */
static int config_double(PyObject *config, const char *fn, const char *key, double dflt,
                         double lo, double *out)
{
    PyObject *v = config_item(config, fn, key, isnan(dflt));
    if (v == NULL) {
        *out = dflt;
        return isnan(dflt) ? -1 : 0;
    }
    if (PyBool_Check(v) || !(PyFloat_Check(v) || PyLong_Check(v))) {
        PyErr_Format(PyExc_TypeError, "%s: '%s' must be a number, got %s", fn, key,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    *out = PyFloat_Check(v) ? PyFloat_AS_DOUBLE(v) : PyLong_AsDouble(v);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (!isfinite(*out) || *out < lo) {
        PyErr_Format(PyExc_ValueError, "%s: '%s' must be finite and >= %g, got %R", fn, key, lo,
                     v);
        return -1;
    }
    return 0;
}

/* config[key] as an integer >= lo (an int or a bool), or dflt if absent
 * (dflt < lo: required). */
static int config_index(PyObject *config, const char *fn, const char *key, rp_index dflt,
                        rp_index lo, rp_index *out)
{
    PyObject *v = config_item(config, fn, key, dflt < lo);
    if (v == NULL) {
        *out = dflt;
        return dflt < lo ? -1 : 0;
    }
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s: '%s' must be an int, got %s", fn, key,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    *out = PyLong_AsSsize_t(v);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (*out < lo) {
        PyErr_Format(PyExc_ValueError, "%s: '%s' must be at least %zd, got %zd", fn, key,
                     (Py_ssize_t)lo, (Py_ssize_t)*out);
        return -1;
    }
    return 0;
}

/* name's position in the NULL-terminated names, or -1 with a ValueError. */
static int config_choice(PyObject *config, const char *fn, const char *key, const char *dflt,
                         const char *const *names)
{
    const char *name;
    int i;
    if (config_str(config, fn, key, dflt, &name) < 0) {
        return -1;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    PyErr_Format(PyExc_ValueError, "%s: unknown %s '%s'", fn, key, name);
    return -1;
}

/* The optimiser, penalty, schedule and batching of the configuration into
 * na->net and na->fit (`calls`: the entry point's FOR_ flag). */
static int net_config(net_args *na, PyObject *config, const char *fn, int calls, rp_index n)
{
    /* in the order of the C enums */
    static const char *const optimizers[] = {"sgd", "sgd_keras", "adam", NULL};
    static const char *const schedules[] = {"constant", "step", "exponential", "inverse_time",
                                            NULL};
    static const char *const batchings[] = {"in_order", "shuffled", "replacement", "given",
                                            NULL};
    rp_net *net = &na->net;
    rp_fit *fit = &na->fit;
    rp_index flag, i;
    int k;
    if (calls & (FOR_GRADIENTS | FOR_FIT)) {
        if (config_index(config, fn, "average", -1, 0, &flag) < 0 ||
            config_double(config, fn, "l2", 0.0, 0.0, &net->l2) < 0 ||
            config_double(config, fn, "l2_per_batch", 0.0, 0.0, &net->l2_per_batch) < 0 ||
            config_index(config, fn, "decay_biases", 0, 0, &i) < 0) {
            return -1;
        }
        net->average = flag != 0;
        net->decay_biases = i != 0;
    }
    if (!(calls & FOR_FIT)) {
        return 0;
    }
    if ((k = config_choice(config, fn, "optimizer", "sgd", optimizers)) < 0) {
        return -1;
    }
    net->optimizer = (rp_optimizer)k;
    if (config_double(config, fn, "lr", NAN, 0.0, &net->lr) < 0 ||
        config_double(config, fn, "momentum", 0.0, 0.0, &net->momentum) < 0 ||
        config_index(config, fn, "nesterov", 0, 0, &flag) < 0 ||
        config_double(config, fn, "weight_decay", 0.0, 0.0, &net->weight_decay) < 0) {
        return -1;
    }
    net->nesterov = flag != 0;
    if (net->momentum >= 1.0) {
        PyErr_Format(PyExc_ValueError, "%s: 'momentum' must be in [0, 1), got %g", fn,
                     net->momentum);
        return -1;
    }
    if (net->optimizer == RP_OPT_ADAM &&
        (config_double(config, fn, "beta1", NAN, 0.0, &net->beta1) < 0 ||
         config_double(config, fn, "beta2", NAN, 0.0, &net->beta2) < 0 ||
         config_double(config, fn, "adam_eps", NAN, 0.0, &net->adam_eps) < 0)) {
        return -1;
    }
    if (net->optimizer == RP_OPT_ADAM && (net->beta1 >= 1.0 || net->beta2 >= 1.0)) {
        PyErr_Format(PyExc_ValueError, "%s: 'beta1' and 'beta2' must be in [0, 1), got %g "
                     "and %g", fn, net->beta1, net->beta2);
        return -1;
    }
    if ((k = config_choice(config, fn, "schedule", "constant", schedules)) < 0) {
        return -1;
    }
    fit->schedule = (rp_schedule)k;
    if (config_double(config, fn, "gamma", 1.0, 0.0, &fit->gamma) < 0 ||
        config_index(config, fn, "step_size", 1, 1, &fit->step_size) < 0 ||
        config_double(config, fn, "lr_decay", 0.0, 0.0, &fit->decay) < 0 ||
        config_index(config, fn, "epochs", -1, 0, &fit->epochs) < 0 ||
        config_index(config, fn, "batch_size", 0, 0, &fit->batch) < 0) {
        return -1;
    }
    {
        PyObject *seed = config_item(config, fn, "seed", 0);
        if (seed != NULL) {
            if (!PyLong_Check(seed)) {
                PyErr_Format(PyExc_TypeError, "%s: 'seed' must be an int, got %s", fn,
                             Py_TYPE(seed)->tp_name);
                return -1;
            }
            fit->seed = (uint64_t)PyLong_AsUnsignedLongLongMask(seed);
            if (PyErr_Occurred()) {
                return -1;
            }
        }
    }
    if ((k = config_choice(config, fn, "batching", "in_order", batchings)) < 0) {
        return -1;
    }
    fit->batching = (rp_batching)k;
    if (fit->batching == RP_BATCH_GIVEN) {
        /* one intp array of indices, batch after batch, and nbatches + 1 bounds */
        PyObject *ind = config_item(config, fn, "batch_indices", 1);
        PyObject *bnd = config_item(config, fn, "batch_bounds", 1);
        const rp_index *idx, *bounds;
        rp_index nb, total;
        if (ind == NULL || bnd == NULL) {
            return -1;
        }
        if (!PyArray_CheckExact(ind) || !PyArray_CheckExact(bnd) ||
            PyArray_TYPE((PyArrayObject *)ind) != NPY_INTP ||
            PyArray_TYPE((PyArrayObject *)bnd) != NPY_INTP ||
            PyArray_NDIM((PyArrayObject *)ind) != 1 || PyArray_NDIM((PyArrayObject *)bnd) != 1 ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)ind) ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)bnd) ||
            PyArray_DIM((PyArrayObject *)bnd, 0) < 2) {
            PyErr_Format(PyExc_TypeError, "%s: 'batch_indices' and 'batch_bounds' must be "
                         "contiguous 1-D intp arrays, the bounds at least 2 long", fn);
            return -1;
        }
        idx = (const rp_index *)PyArray_DATA((PyArrayObject *)ind);
        bounds = (const rp_index *)PyArray_DATA((PyArrayObject *)bnd);
        nb = PyArray_DIM((PyArrayObject *)bnd, 0) - 1;
        total = PyArray_DIM((PyArrayObject *)ind, 0);
        if (bounds[0] != 0 || bounds[nb] != total) {
            PyErr_Format(PyExc_ValueError, "%s: 'batch_bounds' must run from 0 to the %zd "
                         "indices", fn, (Py_ssize_t)total);
            return -1;
        }
        for (i = 0; i < nb; i++) {
            if (bounds[i + 1] <= bounds[i]) {
                PyErr_Format(PyExc_ValueError, "%s: batches[%zd] is empty", fn, (Py_ssize_t)i);
                return -1;
            }
        }
        for (i = 0; i < total; i++) {
            if (idx[i] < 0 || idx[i] >= n) {
                rp_index b = 0;
                while (bounds[b + 1] <= i) {
                    b++;
                }
                PyErr_Format(PyExc_ValueError, "%s: batches[%zd] holds the index %zd, not a "
                             "sample of the %zd in X", fn, (Py_ssize_t)b, (Py_ssize_t)idx[i],
                             (Py_ssize_t)n);
                return -1;
            }
        }
        fit->indices = idx;
        fit->bounds = bounds;
        fit->nbatches = nb;
    }
    return 0;
}

/* One parameter (or gradient, velocity) array: 2-D, or 1-D for a bias, of the
 * network's dtype, aligned and (when `writeable`) writeable; its rows-view. */
static int net_array(net_args *na, PyObject *obj, const char *what, int l, int is_bias,
                     rp_index in, rp_index out, int writeable, rp_view *v)
{
    PyArrayObject *a;
    int ok;
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s[%d] must be a NumPy array, got %s", what, l,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    a = (PyArrayObject *)obj;
    if (na->typenum < 0) {
        na->typenum = PyArray_TYPE(a);
    }
    if ((PyArray_TYPE(a) != NPY_FLOAT && PyArray_TYPE(a) != NPY_DOUBLE) ||
        PyArray_TYPE(a) != na->typenum || !PyArray_ISNOTSWAPPED(a) || !PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_TypeError, "%s[%d] has dtype %S; every parameter must be float32, "
                     "or every one float64", what, l, (PyObject *)PyArray_DESCR(a));
        return -1;
    }
    if (writeable && !PyArray_ISWRITEABLE(a)) {
        PyErr_Format(PyExc_ValueError, "%s[%d] is read-only", what, l);
        return -1;
    }
    if (is_bias) {
        /* rows: (out,) or (1, out); cols: (out, 1) or (out,) */
        ok = (PyArray_NDIM(a) == 1 && PyArray_DIM(a, 0) == out) ||
             (PyArray_NDIM(a) == 2 && PyArray_DIM(a, na->cols ? 0 : 1) == out &&
              PyArray_DIM(a, na->cols ? 1 : 0) == 1);
        v->rows = 1;
        v->cols = out;
        v->s0 = 0;
        v->s1 = PyArray_NDIM(a) == 1 ? PyArray_STRIDE(a, 0) : PyArray_STRIDE(a, na->cols ? 0 : 1);
    }
    else {
        ok = PyArray_NDIM(a) == 2 && PyArray_DIM(a, na->cols ? 1 : 0) == in &&
             PyArray_DIM(a, na->cols ? 0 : 1) == out;
        v->rows = in;
        v->cols = out;
        v->s0 = ok ? PyArray_STRIDE(a, na->cols ? 1 : 0) : 0;
        v->s1 = ok ? PyArray_STRIDE(a, na->cols ? 0 : 1) : 0;
    }
    if (!ok) {
        char got[64];
        RP_SHAPE(a, got);
        if (is_bias) {
            PyErr_Format(PyExc_ValueError, "%s[%d] has shape %s; layer %d maps %zd inputs to "
                         "%zd outputs, so it must be (%zd,) or %s%zd, %zd%s for layout='%s'",
                         what, l, got, l, (Py_ssize_t)in, (Py_ssize_t)out, (Py_ssize_t)out,
                         "(", na->cols ? (Py_ssize_t)out : 1, na->cols ? 1 : (Py_ssize_t)out,
                         ")", na->cols ? "cols" : "rows");
        }
        else {
            PyErr_Format(PyExc_ValueError, "%s[%d] has shape %s; layer %d maps %zd inputs to "
                         "%zd outputs, so it must be (%zd, %zd) for layout='%s'", what, l, got,
                         l, (Py_ssize_t)in, (Py_ssize_t)out,
                         na->cols ? (Py_ssize_t)out : (Py_ssize_t)in,
                         na->cols ? (Py_ssize_t)in : (Py_ssize_t)out, na->cols ? "cols" : "rows");
        }
        return -1;
    }
    v->data = PyArray_BYTES(a);
    Py_INCREF(a);
    na->held[na->nheld++] = a;
    return 0;
}

/* A list of `L` arrays (or None when `optional`), the state or gradients
 * shaped like the weights or the biases. */
static int net_list(PyObject *list, Py_ssize_t L, const char *what, int optional)
{
    if ((optional && list == Py_None) || (PyList_Check(list) && PyList_GET_SIZE(list) == L)) {
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be a list of %zd arrays%s", what, L,
                 optional ? " or None" : "");
    return -1;
}

/* Everything the three entry points share, before any work: the
 * configuration (read once from the dict), the parameters, and the extra
 * arrays shaped like them: `extra` holds 0, 2 or 4 lists (gradients; or
 * velocities, then Adam's second moments), written into vW, vb, sW, sb. */
static int net_setup(net_args *na, const char *fn, int calls, PyObject *weights,
                     PyObject *biases, PyObject *config, PyObject *const *extra, int nextra,
                     const char *const *extra_names)
{
    const char *layout, *activation, *output_activation, *loss = NULL;
    Py_ssize_t L, l, pos = 0;
    PyObject *key, *value;
    int i, writeable = calls == FOR_FIT;
    memset(na, 0, sizeof(*na));
    na->typenum = -1;
    if (!PyDict_Check(config)) {
        PyErr_Format(PyExc_TypeError, "%s: config must be a dict, got %s", fn,
                     Py_TYPE(config)->tp_name);
        return -1;
    }
    while (PyDict_Next(config, &pos, &key, &value)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        size_t k;
        if (name == NULL) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: the configuration's keys must be str", fn);
            return -1;
        }
        for (k = 0; k < sizeof(net_keys) / sizeof(net_keys[0]); k++) {
            if (strcmp(name, net_keys[k].key) == 0 && (net_keys[k].calls & calls)) {
                break;
            }
        }
        if (k == sizeof(net_keys) / sizeof(net_keys[0])) {
            PyErr_Format(PyExc_ValueError, "%s: unknown configuration key '%s'", fn, name);
            return -1;
        }
    }
    if (config_str(config, fn, "layout", NULL, &layout) < 0 ||
        config_str(config, fn, "activation", NULL, &activation) < 0 ||
        config_str(config, fn, "output_activation", NULL, &output_activation) < 0) {
        return -1;
    }
    if (calls == FOR_FORWARD) {
        /* any loss that goes with the output activation: forward does not use it */
        loss = strcmp(output_activation, "softmax") == 0   ? "ce"
               : strcmp(output_activation, "sigmoid") == 0 ? "bce" : "mse";
    }
    else if (config_str(config, fn, "loss", NULL, &loss) < 0) {
        return -1;
    }
    if (parse_layout(layout, "MLP", &na->cols) < 0 ||
        parse_activation(activation, "MLP", &na->net.hidden) < 0) {
        return -1;
    }
    if (strcmp(output_activation, "softmax") == 0) {
        na->net.output = RP_ACT_SOFTMAX;
    }
    else if (parse_activation(output_activation, "MLP", &na->net.output) < 0) {
        return -1;
    }
    if (parse_loss(loss, &na->net.loss) < 0) {
        return -1;
    }
    if (!((na->net.loss == RP_LOSS_BCE && na->net.output == RP_ACT_SIGMOID) ||
          (na->net.loss == RP_LOSS_CE && na->net.output == RP_ACT_SOFTMAX) ||
          (na->net.loss == RP_LOSS_MSE && na->net.output != RP_ACT_SOFTMAX))) {
        PyErr_Format(PyExc_ValueError, "loss '%s' does not go with output activation '%s': "
                     "'bce' needs 'sigmoid', 'ce' needs 'softmax', 'mse' takes any but "
                     "'softmax'", loss, output_activation);
        return -1;
    }
    if (!PyList_Check(weights) || PyList_GET_SIZE(weights) < 1) {
        PyErr_SetString(PyExc_TypeError, "weights must be a non-empty list of arrays");
        return -1;
    }
    L = PyList_GET_SIZE(weights);
    if (biases != Py_None && (!PyList_Check(biases) || PyList_GET_SIZE(biases) != L)) {
        PyErr_Format(PyExc_TypeError, "biases must be None or a list of %zd arrays", L);
        return -1;
    }
    for (i = 0; i < nextra; i++) {
        if (net_list(extra[i], L, extra_names[i], i % 2 == 1) < 0) {
            return -1;
        }
    }
    na->net.nlayers = (int)L;
    na->sizes = PyMem_Calloc((size_t)L + 1, sizeof(rp_index));
    na->views = PyMem_Calloc(6 * (size_t)L, sizeof(rp_view));
    na->held = PyMem_Calloc(6 * (size_t)L, sizeof(PyArrayObject *));
    if (na->sizes == NULL || na->views == NULL || na->held == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    na->net.sizes = na->sizes;
    na->net.W = na->views;
    na->net.b = na->views + L;
    na->net.vW = na->views + 2 * L;
    na->net.vb = na->views + 3 * L;
    na->net.sW = na->views + 4 * L;
    na->net.sb = na->views + 5 * L;
    for (l = 0; l < L; l++) {
        PyObject *w = PyList_GET_ITEM(weights, l);
        rp_index n_in;
        if (!PyArray_Check(w) || PyArray_NDIM((PyArrayObject *)w) != 2) {
            PyErr_Format(PyExc_ValueError, "weights[%zd] must be a 2-D array", l);
            return -1;
        }
        n_in = PyArray_DIM((PyArrayObject *)w, na->cols ? 1 : 0);
        if (l > 0 && n_in != na->sizes[l]) {
            char prev[64], cur[64];
            RP_SHAPE((PyArrayObject *)PyList_GET_ITEM(weights, l - 1), prev);
            RP_SHAPE((PyArrayObject *)w, cur);
            PyErr_Format(PyExc_ValueError, "the sizes do not chain: weights[%zd] %s has %zd "
                         "outputs but weights[%zd] %s has %zd inputs (layout='%s')", l - 1,
                         prev, (Py_ssize_t)na->sizes[l], l, cur, (Py_ssize_t)n_in, layout);
            return -1;
        }
        na->sizes[l] = n_in;
        na->sizes[l + 1] = PyArray_DIM((PyArrayObject *)w, na->cols ? 0 : 1);
    }
    for (l = 0; l < L; l++) {
        PyObject *b = biases == Py_None ? Py_None : PyList_GET_ITEM(biases, l);
        const rp_index in = na->sizes[l], out = na->sizes[l + 1];
        if (net_array(na, PyList_GET_ITEM(weights, l), "weights", (int)l, 0, in, out, writeable,
                      &na->net.W[l]) < 0) {
            return -1;
        }
        if (b != Py_None && net_array(na, b, "biases", (int)l, 1, in, out, writeable,
                                      &na->net.b[l]) < 0) {
            return -1;
        }
        for (i = 0; i < nextra; i += 2) {
            rp_view *vw = i == 0 ? na->net.vW : na->net.sW, *vb = i == 0 ? na->net.vb : na->net.sb;
            if (net_array(na, PyList_GET_ITEM(extra[i], l), extra_names[i], (int)l, 0, in, out,
                          1, &vw[l]) < 0) {
                return -1;
            }
            /* without biases (seeds 001, 002) there are no bias gradients or state */
            if (b != Py_None && extra[i + 1] == Py_None) {
                PyErr_Format(PyExc_TypeError, "%s must be a list of %zd arrays", extra_names[i + 1],
                             L);
                return -1;
            }
            if (b != Py_None && net_array(na, PyList_GET_ITEM(extra[i + 1], l), extra_names[i + 1],
                                          (int)l, 1, in, out, 1, &vb[l]) < 0) {
                return -1;
            }
        }
    }
    /* what is written must not share memory with anything else */
    for (i = 0; i < na->nheld; i++) {
        int j;
        for (j = i + 1; j < na->nheld; j++) {
            if (may_overlap(na->held[i], na->held[j])) {
                PyErr_SetString(PyExc_ValueError, "two of the network's arrays share memory");
                return -1;
            }
        }
    }
    return 0;
}

/* X and Y of the data set as rows-views of the network's dtype (a cast copy
 * for other dtypes), checked against the network's sizes; held in `in`. */
static int net_data(net_args *na, PyObject *X_obj, PyObject *Y_obj, PyArrayObject **in,
                    rp_cview *X, rp_cview *Y)
{
    const rp_index n_in = na->sizes[0], n_out = na->sizes[na->net.nlayers];
    const char *names[2] = {"X", "Y"};
    rp_cview *views[2];
    rp_index widths[2];
    int k, i;
    views[0] = X;
    views[1] = Y;
    widths[0] = n_in;
    widths[1] = n_out;
    for (k = 0; k < (Y_obj != NULL ? 2 : 1); k++) {
        PyArrayObject *a;
        if ((in[k] = to_array(k == 0 ? X_obj : Y_obj, "MLP", names[k])) == NULL ||
            cast_in_place(&in[k], na->typenum) < 0) {
            return -1;
        }
        a = in[k];
        if (PyArray_NDIM(a) != 2 || PyArray_DIM(a, na->cols ? 0 : 1) != widths[k] ||
            (k == 1 && PyArray_DIM(a, na->cols ? 1 : 0) != PyArray_DIM(in[0], na->cols ? 1 : 0))) {
            char got[64], want[64];
            const char *sample = na->cols ? "column" : "row";
            const char *feature = na->cols ? "row" : "column";
            if (k == 0) {
                snprintf(want, sizeof(want), na->cols ? "(%zd, n)" : "(n, %zd)",
                         (Py_ssize_t)widths[k]);
            }
            else {
                const Py_ssize_t n = PyArray_DIM(in[0], na->cols ? 1 : 0);
                snprintf(want, sizeof(want), "(%zd, %zd)", na->cols ? (Py_ssize_t)widths[k] : n,
                         na->cols ? n : (Py_ssize_t)widths[k]);
            }
            RP_SHAPE(a, got);
            PyErr_Format(PyExc_ValueError, "%s has shape %s; the network expects %s of shape %s: "
                         "a %s per sample%s, a %s per %s (layout='%s')", names[k], got, names[k],
                         want, sample, k == 1 ? " of X" : "", feature, k == 1 ? "output" : "input",
                         na->cols ? "cols" : "rows");
            return -1;
        }
        *views[k] = cview_of(a, 1);
        if (na->cols) {
            *views[k] = transposed(*views[k]);
        }
        for (i = 0; i < na->nheld; i++) {
            if (may_overlap(a, na->held[i])) {
                PyErr_Format(PyExc_ValueError, "%s shares memory with the network's arrays",
                             names[k]);
                return -1;
            }
        }
    }
    if (X->rows == 0) {
        PyErr_SetString(PyExc_ValueError, "X has no samples");
        return -1;
    }
    return 0;
}

/* With the GIL released, take it back now and then to look for Ctrl-C. */
static int check_signals(void *ctx)
{
    PyThreadState **tstate = (PyThreadState **)ctx;
    int interrupted;
    PyEval_RestoreThread(*tstate);
    interrupted = PyErr_CheckSignals() < 0;
    *tstate = PyEval_SaveThread();
    return interrupted;
}

/* A small state array of the fit: exact ndarray, 1-D, `n` values of `typenum`,
 * C-contiguous, writeable, sharing no memory with the network or the data. */
static int fit_state_array(net_args *na, PyArrayObject **in, PyObject *state, const char *key,
                           int typenum, rp_index n, void **out)
{
    PyObject *obj = PyDict_GetItemString(state, key);
    PyArrayObject *a = (PyArrayObject *)obj;
    int k;
    *out = NULL;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    if (!PyArray_CheckExact(obj) || PyArray_TYPE(a) != typenum || PyArray_NDIM(a) != 1 ||
        PyArray_DIM(a, 0) != n || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a)) {
        PyErr_Format(PyExc_ValueError, "MLP.fit: state['%s'] must be a writeable C-contiguous "
                     "%s array of %zd values", key, typenum == NPY_INTP ? "intp" : "uint64",
                     (Py_ssize_t)n);
        return -1;
    }
    for (k = 0; k < na->nheld + 2; k++) {
        if (may_overlap(a, k < na->nheld ? na->held[k] : in[k - na->nheld])) {
            PyErr_Format(PyExc_ValueError, "MLP.fit: state['%s'] shares memory with the "
                         "network's arrays or the data", key);
            return -1;
        }
    }
    *out = PyArray_DATA(a);
    return 0;
}

static PyObject *py_net_fit(PyObject *self, PyObject *args)
{
    static const char *const extra_names[] = {"velocities of the weights",
                                              "velocities of the biases",
                                              "second moments of the weights",
                                              "second moments of the biases"};
    static const char *const state_keys[] = {"vweights", "vbiases", "sweights", "sbiases"};
    PyObject *weights, *biases, *X_obj, *Y_obj, *config, *state, *extra[4];
    int nextra = 0, status, i;
    net_args na;
    PyArrayObject *in[2] = {NULL, NULL};
    PyObject *history = NULL;
    rp_cview X, Y;
    npy_intp hdim;
    void *counters, *resume;
    (void)self;
    memset(&na, 0, sizeof(na));
    if (!PyArg_ParseTuple(args, "OOOOO!O!:net_fit", &weights, &biases, &X_obj, &Y_obj,
                          &PyDict_Type, &config, &PyDict_Type, &state)) {
        return NULL;
    }
    /* the optimiser's state: velocities (or Adam's first moments), then its second moments */
    for (i = 0; i < 4; i++) {
        extra[i] = PyDict_GetItemString(state, state_keys[i]);
        if (extra[i] == NULL) {
            extra[i] = Py_None;
        }
    }
    nextra = extra[2] != Py_None ? 4 : extra[0] != Py_None ? 2 : 0;
    if (net_setup(&na, "MLP.fit", FOR_FIT, weights, biases, config, extra, nextra,
                  extra_names) < 0 ||
        net_data(&na, X_obj, Y_obj, in, &X, &Y) < 0 ||
        net_config(&na, config, "MLP.fit", FOR_FIT, X.rows) < 0 ||
        fit_state_array(&na, in, state, "counters", NPY_INTP, 2, &counters) < 0 ||
        fit_state_array(&na, in, state, "resume", NPY_UINT64, X.rows + 1, &resume) < 0) {
        goto error;
    }
    if (((na.net.momentum != 0.0 || na.net.optimizer == RP_OPT_ADAM) && nextra < 2) ||
        (na.net.optimizer == RP_OPT_ADAM && nextra < 4)) {
        PyErr_SetString(PyExc_ValueError, "MLP.fit: the optimiser needs its state: velocity "
                        "(and for Adam second-moment) lists shaped like the weights and biases");
        goto error;
    }
    if (resume != NULL) {
        const uint64_t *r = (const uint64_t *)resume;
        rp_index k;
        for (k = 1; k <= X.rows; k++) {
            if (r[k] >= (uint64_t)X.rows) {
                PyErr_Format(PyExc_ValueError, "MLP.fit: state['resume'][%zd] is %llu, not a "
                             "sample index in [0, %zd)", (Py_ssize_t)k, (unsigned long long)r[k],
                             (Py_ssize_t)X.rows);
                goto error;
            }
        }
    }
    na.fit.counters = (rp_index *)counters;
    na.fit.resume = (uint64_t *)resume;
    hdim = na.fit.epochs;
    if ((history = PyArray_ZEROS(1, &hdim, NPY_DOUBLE, 0)) == NULL) {
        add_context("MLP.fit", "cannot allocate the loss history of every epoch");
        goto error;
    }
    na.fit.history = (double *)PyArray_DATA((PyArrayObject *)history);
    {
        PyThreadState *tstate = PyEval_SaveThread();
        na.fit.stop = check_signals;
        na.fit.ctx = &tstate;
        status = na.typenum == NPY_FLOAT ? rp_net_fit_f32(&na.net, X, Y, &na.fit)
                                         : rp_net_fit_f64(&na.net, X, Y, &na.fit);
        PyEval_RestoreThread(tstate);
    }
    if (status == RP_NOMEM) {
        PyErr_Format(PyExc_MemoryError, "MLP.fit: out of memory for the scratch arrays of "
                     "a batch of %zd samples", (Py_ssize_t)(na.fit.batch > 0 &&
                                                            na.fit.batch < X.rows
                                                            ? na.fit.batch : X.rows));
        goto error;
    }
    if (status == RP_INTERRUPTED) {
        goto error; /* KeyboardInterrupt is set; the last update was complete */
    }
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    net_args_free(&na);
    return history;
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    Py_XDECREF(history);
    net_args_free(&na);
    return NULL;
}

static PyObject *py_net_gradients(PyObject *self, PyObject *args)
{
    static const char *const extra_names[] = {"dweights", "dbiases"};
    PyObject *weights, *biases, *X_obj, *Y_obj, *extra[2], *config;
    int grads;
    net_args na;
    PyArrayObject *in[2] = {NULL, NULL};
    rp_cview X, Y;
    rp_net_work *w = NULL;
    double value = 0.0;
    (void)self;
    memset(&na, 0, sizeof(na));
    if (!PyArg_ParseTuple(args, "OOOOOOO!:net_gradients", &weights, &biases, &X_obj, &Y_obj,
                          &extra[0], &extra[1], &PyDict_Type, &config)) {
        return NULL;
    }
    grads = extra[0] != Py_None;
    /* the gradients take the velocities' place in na */
    if (net_setup(&na, "MLP", FOR_GRADIENTS, weights, biases, config, extra, grads ? 2 : 0,
                  extra_names) < 0 ||
        net_data(&na, X_obj, Y_obj, in, &X, &Y) < 0 ||
        net_config(&na, config, "MLP", FOR_GRADIENTS, X.rows) < 0) {
        goto error;
    }
    w = rp_net_work_new(&na.net, X.rows, 0, na.typenum == NPY_FLOAT);
    if (w == NULL) {
        PyErr_Format(PyExc_MemoryError, "MLP: out of memory for the scratch arrays of a "
                     "batch of %zd samples", (Py_ssize_t)X.rows);
        goto error;
    }
    {
        rp_view *dW = grads ? na.net.vW : NULL, *db = na.net.vb;
        RP_RUN((double)X.rows * (double)na.sizes[0] * (double)na.sizes[1],
               value = na.typenum == NPY_FLOAT ? rp_net_gradients_f32(&na.net, X, Y, dW, db, w)
                                               : rp_net_gradients_f64(&na.net, X, Y, dW, db, w));
    }
    rp_net_work_free(w);
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    net_args_free(&na);
    return PyFloat_FromDouble(value);
error:
    rp_net_work_free(w);
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    net_args_free(&na);
    return NULL;
}

static PyObject *py_net_forward(PyObject *self, PyObject *args)
{
    PyObject *weights, *biases, *X_obj, *config, *result = NULL;
    net_args na;
    PyArrayObject *in[2] = {NULL, NULL};
    rp_cview X, Y;
    rp_view *A = NULL;
    int l;
    (void)self;
    memset(&na, 0, sizeof(na));
    if (!PyArg_ParseTuple(args, "OOOO!:net_forward", &weights, &biases, &X_obj, &PyDict_Type,
                          &config)) {
        return NULL;
    }
    if (net_setup(&na, "MLP", FOR_FORWARD, weights, biases, config, NULL, 0, NULL) < 0 ||
        net_data(&na, X_obj, NULL, in, &X, &Y) < 0) {
        goto error;
    }
    A = PyMem_Calloc((size_t)na.net.nlayers, sizeof(rp_view));
    result = PyList_New(na.net.nlayers);
    if (A == NULL || result == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (l = 0; l < na.net.nlayers; l++) {
        npy_intp dims[2];
        PyArrayObject *a;
        dims[na.cols ? 1 : 0] = X.rows;
        dims[na.cols ? 0 : 1] = na.sizes[l + 1];
        a = new_result("MLP.forward", 2, dims, na.typenum);
        if (a == NULL) {
            goto error;
        }
        PyList_SET_ITEM(result, l, (PyObject *)a);
        A[l] = view_of(a, 1);
        if (na.cols) {
            rp_index t = A[l].rows;
            A[l].rows = A[l].cols;
            A[l].cols = t;
            t = A[l].s0;
            A[l].s0 = A[l].s1;
            A[l].s1 = t;
        }
    }
    RP_RUN((double)X.rows * (double)na.sizes[0] * (double)na.sizes[1],
           RP_DISPATCH(na.typenum, rp_net_forward, (&na.net, X, A)));
    PyMem_Free(A);
    Py_XDECREF(in[0]);
    net_args_free(&na);
    return result;
error:
    PyMem_Free(A);
    Py_XDECREF(result);
    Py_XDECREF(in[0]);
    net_args_free(&na);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* _simd: which instruction set the elementwise maths runs on (for tests)    */

static PyObject *py_simd(PyObject *self, PyObject *args)
{
    const char *name = NULL;
    PyObject *previous;
    (void)self;
    if (!PyArg_ParseTuple(args, "|z:_simd", &name)) {
        return NULL;
    }
    previous = PyUnicode_FromString(rp_simd_name());
    if (previous != NULL && name != NULL && rp_simd_select(name) < 0) {
        Py_DECREF(previous);
        PyErr_Format(PyExc_ValueError, "_simd: '%s' is not an instruction set this "
                     "processor runs, or not one this build has", name);
        return NULL;
    }
    return previous;
}

/* ------------------------------------------------------------------------ */
/* module                                                                    */

#define RP_METHOD(name) \
    {#name, (PyCFunction)(void (*)(void))py_##name, METH_VARARGS | METH_KEYWORDS, name##_doc}

static PyMethodDef methods[] = {
    RP_METHOD(matmul),
    RP_METHOD(dense_forward),
    RP_METHOD(dense_backward),
    RP_METHOD(bce),
    RP_METHOD(squared_error),
    RP_METHOD(half_squared_error),
    RP_METHOD(sgd_update),
    {"net_forward", (PyCFunction)(void (*)(void))py_net_forward, METH_VARARGS,
     "Private: the activations of every layer of an MLP (see retroprop.MLP.forward)."},
    {"net_gradients", (PyCFunction)(void (*)(void))py_net_gradients, METH_VARARGS,
     "Private: an MLP's loss and gradients (see retroprop.MLP.backward)."},
    {"net_fit", (PyCFunction)(void (*)(void))py_net_fit, METH_VARARGS,
     "Private: an MLP's whole training loop in C (see retroprop.MLP.fit)."},
    {"_simd", py_simd, METH_VARARGS,
     "Private: _simd(name=None) -> the name of the instruction set the elementwise maths "
     "ran on before the call (\"baseline\", \"avx2\", \"avx512f\"); with a name, run "
     "on that one from now on. Every choice gives the same bits; the tests check it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_core",
    "retroprop's C kernels (see the retroprop package for the documented API).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m = NULL;
    size_t i;
    import_array();
    import_umath();
    rp_simd_select(NULL);
    m = PyModule_Create(&module_def);
    if (m == NULL) {
        return NULL;
    }
    for (i = 0; i < sizeof(ufunc_specs) / sizeof(ufunc_specs[0]); i++) {
        const rp_ufunc_spec *u = &ufunc_specs[i];
        PyObject *f = PyUFunc_FromFuncAndData(
            (PyUFuncGenericFunction *)u->loops, no_loop_data,
            u->nin == 1 ? unary_types : binary_types, 2, u->nin, 1, PyUFunc_None, u->name,
            u->doc, 0);
        if (f == NULL || PyModule_AddObject(m, u->name, f) < 0) {
            Py_XDECREF(f);
            goto error;
        }
    }
    if (PyModule_AddIntConstant(m, "SMALL_GEMM_WORK", RP_SMALL_GEMM_WORK) < 0) {
        goto error;
    }
    return m;
error:
    Py_DECREF(m);
    return NULL;
}
