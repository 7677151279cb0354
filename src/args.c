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

/* 1 if obj is a numpy.ma.MaskedArray (or a subclass of it). numpy.ma is
 * looked up among the loaded modules, without running Python code: when it
 * is not loaded, nothing can be a masked array. */
int rpb_is_masked(PyObject *obj)
{
    PyObject *mod, *cls;
    if (!PyArray_Check(obj) || PyArray_CheckExact(obj)) {
        return 0;
    }
    mod = PyDict_GetItemString(PyImport_GetModuleDict(), "numpy.ma.core");
    if (mod == NULL || !PyModule_Check(mod)) {
        return 0;
    }
    cls = PyDict_GetItemString(PyModule_GetDict(mod), "MaskedArray");
    return cls != NULL && PyType_Check(cls) && PyObject_TypeCheck(obj, (PyTypeObject *)cls);
}

/* -1 with a TypeError when obj is a masked array: its mask would be ignored
 * (and written through), so retroprop refuses it rather than guess. */
int rpb_refuse_masked(PyObject *obj, const char *fn, const char *what)
{
    if (rpb_is_masked(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: %s is a masked array (numpy.ma.MaskedArray); retroprop would ignore "
                     "its mask, so it refuses it: pass %s.filled(value) for the values with "
                     "the masked ones replaced, or %s.data to ignore the mask", fn, what, what,
                     what);
        return -1;
    }
    return 0;
}

/* The same for an array retroprop writes (out=, sgd_update's param). */
int rpb_refuse_masked_output(PyObject *obj, const char *fn, const char *what)
{
    if (rpb_is_masked(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: %s is a masked array (numpy.ma.MaskedArray); retroprop would write "
                     "through its mask, so it refuses it: pass a plain array (%s.data is the "
                     "same memory, unmasked)", fn, what, what);
        return -1;
    }
    return 0;
}

/* obj as a base-class ndarray of a real numeric dtype (no cast yet): a new
 * reference. An ndarray subclass is seen through a plain ndarray view of the
 * same memory, so that no subclass code runs when it is cast later. */
PyArrayObject *rpb_to_array(PyObject *obj, const char *fn, const char *arg)
{
    PyArrayObject *arr;
    PyArray_Descr *d;
    if (PyArray_CheckExact(obj)) {
        Py_INCREF(obj);
        arr = (PyArrayObject *)obj;
    }
    else if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an array, got None", fn, arg);
        return NULL;
    }
    else if (PyArray_Check(obj)) {
        if (rpb_refuse_masked(obj, fn, arg) < 0) {
            return NULL;
        }
        arr = (PyArrayObject *)PyArray_View((PyArrayObject *)obj, NULL, &PyArray_Type);
        if (arr == NULL) {
            return NULL;
        }
    }
    else {
        arr = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, NPY_ARRAY_ENSUREARRAY, NULL);
        if (arr == NULL) {
            rpb_add_context(fn, arg);
            return NULL;
        }
    }
    d = PyArray_DESCR(arr);
    if (d->type_num == NPY_LONGDOUBLE) {
        PyErr_Format(PyExc_TypeError,
                     "%s: %s has dtype %S (long double); retroprop computes in float32 or "
                     "float64: pass %s.astype(np.float64)", fn, arg, (PyObject *)d, arg);
        Py_DECREF(arr);
        return NULL;
    }
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
        NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED | NPY_ARRAY_FORCECAST | NPY_ARRAY_ENSUREARRAY);
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

/* 1 if two elements of a may share memory: a zero stride along an axis of
 * more than one element, or strides that interleave (as_strided). A test on
 * the strides sorted by size: each must step past everything the smaller
 * ones span; arrays from slicing, transposing and reshaping always pass. */
int rpb_self_overlaps(PyArrayObject *a)
{
    npy_intp st[NPY_MAXDIMS], n[NPY_MAXDIMS], span;
    int nd = 0, i, j;
    /* contiguous (NumPy's flags): distinct elements, the common case */
    if (PyArray_IS_C_CONTIGUOUS(a) || PyArray_IS_F_CONTIGUOUS(a) || PyArray_SIZE(a) == 0) {
        return 0;
    }
    for (i = 0; i < PyArray_NDIM(a); i++) {
        if (PyArray_DIM(a, i) > 1) {
            npy_intp s = PyArray_STRIDE(a, i);
            st[nd] = s < 0 ? -s : s;
            n[nd++] = PyArray_DIM(a, i);
        }
    }
    for (i = 1; i < nd; i++) { /* insertion sort by stride */
        for (j = i; j > 0 && st[j - 1] > st[j]; j--) {
            npy_intp t = st[j];
            st[j] = st[j - 1];
            st[j - 1] = t;
            t = n[j];
            n[j] = n[j - 1];
            n[j - 1] = t;
        }
    }
    span = PyArray_ITEMSIZE(a);
    for (i = 0; i < nd; i++) {
        if (st[i] < span) {
            return 1;
        }
        if (n[i] - 1 > (NPY_MAX_INTP - span) / st[i]) {
            return 1; /* spans more bytes than can be counted: only with zero strides */
        }
        span += st[i] * (n[i] - 1);
    }
    return 0;
}

/* -1 with a ValueError when a writeable array's elements share memory: the
 * result would depend on the order of the writes. */
int rpb_refuse_self_overlap(PyArrayObject *a, const char *fn, const char *what)
{
    char shape[64], strides[64];
    if (!rpb_self_overlaps(a)) {
        return 0;
    }
    RP_SHAPE(a, shape);
    rpb_shape_str(PyArray_NDIM(a), PyArray_STRIDES(a), strides, sizeof(strides));
    PyErr_Format(PyExc_ValueError,
                 "%s: %s %s has elements that share memory (strides %s, a zero or "
                 "overlapping stride): writing it would depend on the order of the writes; "
                 "pass an array of distinct elements (np.empty(%s) or a .copy())", fn, what,
                 shape, strides, shape);
    return -1;
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
    if (rpb_refuse_masked_output(obj, fn, what) < 0) {
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
    if (rpb_refuse_self_overlap(out, fn, what) < 0) {
        return NULL;
    }
    Py_INCREF(out);
    return out;
}

/* The n items of a tuple or list (a subclass is read through
 * PySequence_Fast, by its own size and not its __len__) as owned references
 * in a PyMem array, or NULL with a TypeError (n_want >= 0: exactly n_want
 * items). Python code of a subclass (__iter__) runs here and never after:
 * the items are ours, whatever later code does to the container. */
PyObject **rpb_unpack(PyObject *seq, Py_ssize_t n_want, const char *fn, const char *what,
                      const char *expected, Py_ssize_t *n)
{
    PyObject *fast, **items;
    Py_ssize_t i, size;
    if (!(PyTuple_Check(seq) || PyList_Check(seq))) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be %s, got %s", fn, what, expected,
                     Py_TYPE(seq)->tp_name);
        return NULL;
    }
    fast = PySequence_Fast(seq, "a sequence");
    if (fast == NULL) {
        rpb_add_context(fn, what);
        return NULL;
    }
    size = PySequence_Fast_GET_SIZE(fast);
    if (n_want >= 0 && size != n_want) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be %s, got %zd", fn, what, expected, size);
        Py_DECREF(fast);
        return NULL;
    }
    items = PyMem_Calloc((size_t)(size > 0 ? size : 1), sizeof(PyObject *));
    if (items == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (i = 0; i < size; i++) {
        items[i] = PySequence_Fast_GET_ITEM(fast, i);
        Py_INCREF(items[i]);
    }
    Py_DECREF(fast);
    *n = size;
    return items;
}

/* Releases what rpb_unpack returned (NULL allowed). */
void rpb_unpack_free(PyObject **items, Py_ssize_t n)
{
    Py_ssize_t i;
    if (items == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        Py_XDECREF(items[i]);
    }
    PyMem_Free(items);
}

int rpb_convert(rpb_args *a, const char *fn, int nin, PyObject *const *objs,
                const char *const *names, PyObject *out, int nout)
{
    int i;
    memset(a, 0, sizeof(*a));
    a->fn = fn;
    a->nin = nin;
    a->nout = nout;
    for (i = 0; i < nin; i++) {
        if (objs[i] != NULL && (a->in[i] = rpb_to_array(objs[i], fn, names[i])) == NULL) {
            return -1;
        }
    }
    if (out == NULL || out == Py_None) {
        return 0;
    }
    if (nout == 1) {
        Py_INCREF(out);
        a->out[0] = out;
        return 0;
    }
    {
        /* as rpb_unpack, into a->out without an allocation (the common case) */
        PyObject *fast = NULL;
        Py_ssize_t n = -1;
        if (PyTuple_Check(out) || PyList_Check(out)) {
            if ((fast = PySequence_Fast(out, "out")) == NULL) {
                rpb_add_context(fn, "out");
                return -1;
            }
            n = PySequence_Fast_GET_SIZE(fast);
        }
        if (n != nout) {
            /* the message is formatted only here: snprintf costs as much as a call */
            PyErr_Format(PyExc_TypeError, "%s: out must be None or a tuple of %d arrays (None "
                         "entries allowed)", fn, nout);
            Py_XDECREF(fast);
            return -1;
        }
        for (i = 0; i < nout; i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
            if (item != Py_None) {
                Py_INCREF(item);
                a->out[i] = item;
            }
        }
        Py_DECREF(fast);
    }
    return 0;
}

void rpb_release(rpb_args *a)
{
    int i;
    for (i = 0; i < RPB_MAX_ARGS; i++) {
        Py_CLEAR(a->in[i]);
        Py_CLEAR(a->out[i]);
    }
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

/* C = alpha * (A @ B): our loop for small products, BLAS for large ones,
 * with the GIL released when the work is large. */
void rpb_product(double alpha, rp_cview A, rp_cview B, rp_view C, int typenum)
{
    RP_RUN((double)C.rows * (double)C.cols * (double)A.cols,
           RP_DISPATCH(typenum, rp_gemm, (alpha, A, B, C)));
}
