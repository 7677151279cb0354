/*
 * args.c - argument conversion and checks shared by every entry point:
 * arrays from arguments, the result dtype and the one cast copy, out=
 * validation, memory overlap, error messages that name the function and the
 * argument, and the strided views the kernels take.
 */
#include "binding.h" /* first: it includes Python.h */

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "(4, 3)" for an array of shape (4, 3); "(3,)" for a 1-D one. */
void rpb_shape_str(int ndim, const npy_intp *dims, char *buf, size_t size)
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

/* Put "fn: what: " before the message of the pending ValueError, TypeError,
 * OverflowError or MemoryError that NumPy raised (a ragged list, an array too
 * big to allocate), so that it names the function and the argument. Other
 * exceptions are left as they are. */
void rpb_add_context(const char *fn, const char *what)
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
PyArrayObject *rpb_new_result(const char *fn, int ndim, const npy_intp *dims, int typenum)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(ndim, (npy_intp *)dims, typenum);
    if (a == NULL) {
        char shape[64], what[128];
        rpb_shape_str(ndim, dims, shape, sizeof(shape));
        snprintf(what, sizeof(what), "cannot allocate a %s result of shape %s",
                 typenum == NPY_FLOAT ? "float32" : "float64", shape);
        rpb_add_context(fn, what);
    }
    return a;
}

/* 0 if a product of (m, k) and (k, n) has a countable number of multiply-adds,
 * m * n * k <= NPY_MAX_INTP; else -1 with a ValueError naming the arrays a
 * and b. Only arrays made with stride tricks (zero strides) are that large. */
int rpb_check_work(const char *fn, npy_intp m, npy_intp n, npy_intp k, const char *a_name,
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
PyArrayObject *rpb_to_array(PyObject *obj, const char *fn, const char *arg)
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
            rpb_add_context(fn, arg);
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
int rpb_result_typenum(PyArrayObject **arrs, int n)
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
int rpb_cast_in_place(PyArrayObject **arr, int typenum)
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
static void rpb_extent(PyArrayObject *a, char **lo, char **hi)
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
int rpb_may_overlap(PyArrayObject *a, PyArrayObject *b)
{
    char *alo, *ahi, *blo, *bhi;
    if (a == NULL || b == NULL || PyArray_SIZE(a) == 0 || PyArray_SIZE(b) == 0) {
        return 0;
    }
    rpb_extent(a, &alo, &ahi);
    rpb_extent(b, &blo, &bhi);
    return alo < bhi && blo < ahi;
}

/* Validate one out= array: an aligned, native, writeable ndarray of dtype
 * typenum and shape dims (or the alternative shape alt_dims, if given).
 * Returns a new reference, or NULL with an error. */
static PyArrayObject *rpb_check_out(PyObject *obj, const char *fn, const char *what,
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
        rpb_shape_str(ndim, dims, want, sizeof(want));
        RP_SHAPE(out, got);
        if (alt_dims != NULL) {
            rpb_shape_str(alt_ndim, alt_dims, alt, sizeof(alt));
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
PyObject *rpb_out_entry(PyObject *out, Py_ssize_t i, Py_ssize_t n, const char *fn,
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
PyArrayObject *rpb_output(PyObject *given, const char *fn, const char *what,
                             int typenum, int ndim, const npy_intp *dims,
                             int alt_ndim, const npy_intp *alt_dims,
                             PyArrayObject **inputs, int ninputs)
{
    PyArrayObject *out;
    int i;
    if (given == NULL) {
        return rpb_new_result(fn, ndim, dims, typenum);
    }
    out = rpb_check_out(given, fn, what, typenum, ndim, dims, alt_ndim, alt_dims);
    if (out == NULL) {
        return NULL;
    }
    for (i = 0; i < ninputs; i++) {
        if (rpb_may_overlap(out, inputs[i])) {
            PyErr_Format(PyExc_ValueError,
                         "%s: %s shares memory with an input; pass a separate array",
                         fn, what);
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

int rpb_parse_layout(const char *name, const char *fn, int *cols)
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

int rpb_parse_activation(const char *name, const char *fn, rp_activation *act)
{
    const rp_activation_info *info = rp_activation_find(name);
    char names[256] = "";
    size_t used = 0;
    int i;
    if (info != NULL) {
        *act = info->id;
        return 0;
    }
    for (i = 0; i < rp_nactivations && used < sizeof(names); i++) {
        used += (size_t)snprintf(names + used, sizeof(names) - used, "%s'%s'",
                                 i == 0 ? "" : i == rp_nactivations - 1 ? " or " : ", ",
                                 rp_activations[i].name);
    }
    PyErr_Format(PyExc_ValueError, "%s: unknown activation '%s'; expected %s", fn, name, names);
    return -1;
}

/* 2-D views of an array of ndim <= 2. A 1-D array is one row (as_row) or
 * one column; a 0-d array is 1x1. */
rp_cview rpb_cview_of(PyArrayObject *a, int as_row)
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

rp_view rpb_view_of(PyArrayObject *a, int as_row)
{
    rp_cview c = rpb_cview_of(a, as_row);
    rp_view v;
    v.data = PyArray_BYTES(a);
    v.rows = c.rows;
    v.cols = c.cols;
    v.s0 = c.s0;
    v.s1 = c.s1;
    return v;
}

rp_cview rpb_transposed(rp_cview v)
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
void rpb_product(double alpha, rp_cview A, rp_cview B, rp_view C, int typenum)
{
    RP_RUN((double)C.rows * (double)C.cols * (double)A.cols,
           RP_DISPATCH(typenum, rp_gemm, (alpha, A, B, C)));
}
