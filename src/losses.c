/*
 * losses.c - the loss functions, one per entry of the loss registry
 * (rp_losses in rp_registry.c: bce, cross_entropy, mse, sum_squared_error,
 * half_sum_squared_error), and the softmax with its output delta under the
 * cross-entropy. The loss functions are made from the registry at import
 * (rpb_add_losses), so a new loss there is a new function here.
 */
#include "binding.h" /* first: it includes Python.h */

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A and Y as arrays of one float dtype and one shape (ndim <= 2). */
static int loss_inputs(PyObject *A_obj, PyObject *Y_obj, const char *fn, PyArrayObject **in,
                       int *typenum)
{
    char sa[64], sy[64];
    if ((in[0] = rpb_to_array(A_obj, fn, "A")) == NULL ||
        (in[1] = rpb_to_array(Y_obj, fn, "Y")) == NULL) {
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
    if ((*typenum = rpb_result_typenum(in, 2)) < 0 || rpb_cast_in_place(&in[0], *typenum) < 0 ||
        rpb_cast_in_place(&in[1], *typenum) < 0) {
        return -1;
    }
    return 0;
}

static int check_eps(const char *fn, double eps)
{
    if (!(eps >= 0.0) || !isfinite(eps)) {
        char *text = PyOS_double_to_string(eps, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (text != NULL) {
            PyErr_Format(PyExc_ValueError, "%s: eps must be a finite number >= 0, got %s", fn,
                         text);
            PyMem_Free(text);
        }
        return -1;
    }
    return 0;
}

/* The classes' axis of an array of ndim 1 or 2 as 0 or 1 (-1 is the last). */
static int parse_axis(const char *fn, const char *arg, PyArrayObject *a, Py_ssize_t axis,
                      int *out)
{
    const int ndim = PyArray_NDIM(a);
    if (axis < -ndim || axis >= ndim) {
        PyErr_Format(PyExc_ValueError, "%s: axis %zd is out of range for %s of %d "
                     "dimension%s (the classes' axis: -1 for layout 'rows', 0 for 'cols')",
                     fn, axis, arg, ndim, ndim == 1 ? "" : "s");
        return -1;
    }
    *out = (int)(axis < 0 ? axis + ndim : axis);
    return 0;
}

/* A's rows-view with the classes along the rows: 1-D A is one sample. */
static rp_cview classes_view(PyArrayObject *A, int axis)
{
    rp_cview v = rpb_cview_of(A, 1);
    return PyArray_NDIM(A) == 2 && axis == 0 ? rp_cview_transposed(v) : v;
}

/* The cross-entropy's inputs: A (1-D or 2-D, classes along axis) and Y,
 * one-hot (A's shape, cast to A's dtype) or integer labels, one per sample
 * (cast to intp, each checked to be a class). *labels tells which. */
static int ce_inputs(const char *fn, PyObject *A_obj, PyObject *Y_obj, Py_ssize_t axis_arg,
                     PyArrayObject **in, int *typenum, int *axis, int *labels)
{
    char sa[64], sy[64], want[64];
    PyArrayObject *A, *Y;
    npy_intp n, k;
    if ((in[0] = rpb_to_array(A_obj, fn, "A")) == NULL ||
        (in[1] = rpb_to_array(Y_obj, fn, "Y")) == NULL) {
        return -1;
    }
    A = in[0];
    Y = in[1];
    if (PyArray_NDIM(A) < 1 || PyArray_NDIM(A) > 2) {
        RP_SHAPE(A, sa);
        PyErr_Format(PyExc_ValueError, "%s: A must be 2-D (samples and classes) or 1-D (one "
                     "sample), got shape %s", fn, sa);
        return -1;
    }
    if (parse_axis(fn, "A", A, axis_arg, axis) < 0) {
        return -1;
    }
    k = PyArray_DIM(A, *axis);
    n = PyArray_NDIM(A) == 2 ? PyArray_DIM(A, 1 - *axis) : 1;
    *labels = !(PyArray_NDIM(Y) == PyArray_NDIM(A) &&
                PyArray_CompareLists(PyArray_DIMS(Y), PyArray_DIMS(A), PyArray_NDIM(A)));
    if (*labels && !(PyArray_NDIM(Y) == PyArray_NDIM(A) - 1 &&
                     PyTypeNum_ISINTEGER(PyArray_TYPE(Y)) &&
                     (PyArray_NDIM(Y) == 0 || PyArray_DIM(Y, 0) == n))) {
        RP_SHAPE(A, sa);
        RP_SHAPE(Y, sy);
        if (PyArray_NDIM(A) == 2) {
            snprintf(want, sizeof(want), "(%" NPY_INTP_FMT ",)", n);
        }
        else {
            snprintf(want, sizeof(want), "()");
        }
        PyErr_Format(PyExc_ValueError, "%s: Y has shape %s and dtype %S but A has shape %s; Y "
                     "must be one-hot, of A's shape %s, or integer labels, one per sample: "
                     "shape %s%s", fn, sy, (PyObject *)PyArray_DESCR(Y), sa, sa, want,
                     PyArray_NDIM(Y) == 2 && PyArray_SIZE(Y) == n ? " (y.ravel())" : "");
        return -1;
    }
    if ((*typenum = rpb_result_typenum(in, *labels ? 1 : 2)) < 0 ||
        rpb_cast_in_place(&in[0], *typenum) < 0 ||
        rpb_cast_in_place(&in[1], *labels ? NPY_INTP : *typenum) < 0) {
        return -1;
    }
    if (*labels) {
        const npy_intp *lab = (const npy_intp *)PyArray_DATA(in[1]);
        const npy_intp step = PyArray_NDIM(in[1]) ? PyArray_STRIDE(in[1], 0) : 0;
        npy_intp i;
        for (i = 0; i < n; i++) {
            const npy_intp label = *(const npy_intp *)((const char *)lab + i * step);
            if (label < 0 || label >= k) {
                PyErr_Format(PyExc_ValueError, "%s: Y[%" NPY_INTP_FMT "] is %" NPY_INTP_FMT
                             "; labels must be classes in [0, %" NPY_INTP_FMT ")", fn, i,
                             label, k);
                return -1;
            }
        }
    }
    return 0;
}

static PyObject *py_loss(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist_eps[] = {"A", "Y", "eps", NULL};
    static char *kwlist_ce[] = {"A", "Y", "eps", "axis", NULL};
    static char *kwlist[] = {"A", "Y", NULL};
    const rp_loss_info *info = &rp_losses[PyLong_AsLong(self)];
    const char *fn = info->function;
    char format[80];
    PyObject *A_obj, *Y_obj;
    PyArrayObject *in[2] = {NULL, NULL};
    double eps = info->eps, value = 0.0, count;
    Py_ssize_t axis_arg = -1;
    int typenum, ok, axis = 1, labels = 0;
    if (info->id == RP_LOSS_CE) {
        snprintf(format, sizeof(format), "OO|d$n:%s", fn);
        ok = PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist_ce, &A_obj, &Y_obj, &eps,
                                         &axis_arg);
    }
    else if (info->eps >= 0) {
        snprintf(format, sizeof(format), "OO|d:%s", fn);
        ok = PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist_eps, &A_obj, &Y_obj, &eps);
    }
    else {
        snprintf(format, sizeof(format), "OO:%s", fn);
        ok = PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, &A_obj, &Y_obj);
    }
    if (!ok || (info->eps >= 0 && check_eps(fn, eps) < 0)) {
        return NULL;
    }
    if (info->id == RP_LOSS_CE) {
        if (ce_inputs(fn, A_obj, Y_obj, axis_arg, in, &typenum, &axis, &labels) < 0) {
            goto error;
        }
    }
    else if (loss_inputs(A_obj, Y_obj, fn, in, &typenum) < 0) {
        goto error;
    }
    if (info->id == RP_LOSS_CE) {
        const rp_cview av = classes_view(in[0], axis);
        count = (double)av.rows;
        if (labels) {
            const char *lab = PyArray_BYTES(in[1]);
            const rp_index ls = PyArray_NDIM(in[1]) ? PyArray_STRIDE(in[1], 0) : 0;
            RP_RUN(PyArray_SIZE(in[0]),
                   value = typenum == NPY_FLOAT ? rp_cross_entropy_labels_f32(av, lab, ls, eps)
                                                : rp_cross_entropy_labels_f64(av, lab, ls, eps));
        }
        else {
            const rp_cview yv = classes_view(in[1], axis);
            RP_RUN(PyArray_SIZE(in[0]),
                   value = typenum == NPY_FLOAT ? rp_loss_sum_f32(info->id, av, yv, eps)
                                                : rp_loss_sum_f64(info->id, av, yv, eps));
        }
    }
    else {
        const rp_cview av = rpb_cview_of(in[0], 1), yv = rpb_cview_of(in[1], 1);
        count = info->mean_over_entries ? (double)PyArray_SIZE(in[0]) : 1.0;
        RP_RUN(PyArray_SIZE(in[0]),
               value = typenum == NPY_FLOAT ? rp_loss_sum_f32(info->id, av, yv, eps)
                                            : rp_loss_sum_f64(info->id, av, yv, eps));
    }
    /* a mean of nothing is nan, as np.mean's (without its warning) */
    value = count == 0.0 ? NPY_NAN : value / count;
    Py_DECREF(in[0]);
    Py_DECREF(in[1]);
    return PyFloat_FromDouble(value);
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* softmax and its delta under the cross-entropy                             */

PyDoc_STRVAR(softmax_doc,
"softmax(z, axis=-1, *, out=None)\n--\n\n"
"The softmax along axis (the classes), stable for large logits.\n\n"
"NumPy: e = np.exp(z - z.max(axis, keepdims=True)); e / e.sum(axis, keepdims=True)\n\n"
"axis: -1 for layout 'rows' (z is (n, classes)), 0 for 'cols' ((classes, n)); a\n"
"1-D z is one sample. Every exponent is <= 0, so softmax(np.array([1000., 0.]))\n"
"is [1., 0.] with no overflow. float32 and float64 inputs are read in place\n"
"through their strides; out= receives the result.");

static PyObject *py_softmax(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"z", "axis", "out", NULL};
    const char *fn = "softmax";
    PyObject *z_obj, *out_obj = Py_None;
    PyArrayObject *in[1] = {NULL}, *A = NULL;
    Py_ssize_t axis_arg = -1;
    int typenum, axis;
    char sz[64];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n$O:softmax", kwlist, &z_obj, &axis_arg,
                                     &out_obj)) {
        return NULL;
    }
    if ((in[0] = rpb_to_array(z_obj, fn, "z")) == NULL) {
        goto error;
    }
    if (PyArray_NDIM(in[0]) < 1 || PyArray_NDIM(in[0]) > 2) {
        RP_SHAPE(in[0], sz);
        PyErr_Format(PyExc_ValueError, "%s: z must be 2-D (samples and classes) or 1-D (one "
                     "sample), got shape %s", fn, sz);
        goto error;
    }
    if (parse_axis(fn, "z", in[0], axis_arg, &axis) < 0 ||
        (typenum = rpb_result_typenum(in, 1)) < 0 || rpb_cast_in_place(&in[0], typenum) < 0) {
        goto error;
    }
    A = rpb_output(out_obj == Py_None ? NULL : out_obj, fn, "out", typenum, PyArray_NDIM(in[0]),
                   PyArray_DIMS(in[0]), -1, NULL, in, 1);
    if (A == NULL) {
        goto error;
    }
    {
        const rp_cview zv = classes_view(in[0], axis);
        rp_view av = rpb_view_of(A, 1);
        if (PyArray_NDIM(A) == 2 && axis == 0) {
            const rp_cview t = rp_cview_transposed(rpb_cview_of(A, 1));
            av.rows = t.rows;
            av.cols = t.cols;
            av.s0 = t.s0;
            av.s1 = t.s1;
        }
        RP_RUN(PyArray_SIZE(A), RP_DISPATCH(typenum, rp_softmax, (zv, av)));
    }
    Py_DECREF(in[0]);
    return (PyObject *)A;
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(A);
    return NULL;
}

PyDoc_STRVAR(softmax_cross_entropy_delta_doc,
"softmax_cross_entropy_delta(A, Y, *, axis=-1, out=None)\n--\n\n"
"Output-layer delta dL/dZ of a softmax output A under the cross-entropy.\n\n"
"NumPy: A - Y   (Y one-hot; integer labels y: A - np.eye(classes)[y])\n\n"
"As CS231n and nnfs write it: the softmax's Jacobian and the logarithm's\n"
"1/A cancel. Y is one-hot, of A's shape, or integer labels, one per sample;\n"
"axis is the classes' axis of A (-1 for layout 'rows', 0 for 'cols'). Not\n"
"divided by the samples: dense_backward(..., average=True) does that.");

static PyObject *py_softmax_cross_entropy_delta(PyObject *self, PyObject *args,
                                                PyObject *kwds)
{
    static char *kwlist[] = {"A", "Y", "axis", "out", NULL};
    const char *fn = "softmax_cross_entropy_delta";
    PyObject *A_obj, *Y_obj, *out_obj = Py_None;
    PyArrayObject *in[2] = {NULL, NULL}, *D = NULL;
    Py_ssize_t axis_arg = -1;
    int typenum, axis, labels;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$nO:softmax_cross_entropy_delta", kwlist,
                                     &A_obj, &Y_obj, &axis_arg, &out_obj)) {
        return NULL;
    }
    if (ce_inputs(fn, A_obj, Y_obj, axis_arg, in, &typenum, &axis, &labels) < 0) {
        goto error;
    }
    D = rpb_output(out_obj == Py_None ? NULL : out_obj, fn, "out", typenum, PyArray_NDIM(in[0]),
                   PyArray_DIMS(in[0]), -1, NULL, in, 2);
    if (D == NULL) {
        goto error;
    }
    {
        const rp_cview av = classes_view(in[0], axis), dc = classes_view(D, axis);
        rp_view dv;
        dv.data = PyArray_BYTES(D);
        dv.rows = dc.rows;
        dv.cols = dc.cols;
        dv.s0 = dc.s0;
        dv.s1 = dc.s1;
        if (labels) {
            const char *lab = PyArray_BYTES(in[1]);
            const rp_index ls = PyArray_NDIM(in[1]) ? PyArray_STRIDE(in[1], 0) : 0;
            RP_RUN(PyArray_SIZE(D), RP_DISPATCH(typenum, rp_difference_labels, (av, lab, ls, dv)));
        }
        else {
            const rp_cview yv = classes_view(in[1], axis);
            RP_RUN(PyArray_SIZE(D), RP_DISPATCH(typenum, rp_difference, (av, yv, dv)));
        }
    }
    Py_DECREF(in[0]);
    Py_DECREF(in[1]);
    return (PyObject *)D;
error:
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    Py_XDECREF(D);
    return NULL;
}

#define RP_METHOD(name) \
    {#name, (PyCFunction)(void (*)(void))py_##name, METH_VARARGS | METH_KEYWORDS, name##_doc}

PyMethodDef rpb_loss_methods[] = {
    RP_METHOD(softmax),
    RP_METHOD(softmax_cross_entropy_delta),
    {NULL, NULL, 0, NULL},
};

/* One PyMethodDef per entry of rp_losses; they live as long as the process
 * (a function object keeps a pointer to its PyMethodDef). */
#define RP_MAX_LOSSES 16
static PyMethodDef loss_methods[RP_MAX_LOSSES];
static char loss_docs[RP_MAX_LOSSES][2048];

int rpb_add_losses(PyObject *module)
{
    int i;
    if (rp_nlosses > RP_MAX_LOSSES) {
        PyErr_SetString(PyExc_SystemError, "more losses in rp_losses than RP_MAX_LOSSES");
        return -1;
    }
    for (i = 0; i < rp_nlosses; i++) {
        const rp_loss_info *info = &rp_losses[i];
        PyObject *index, *name, *f;
        char eps[64] = "";
        /* the signature line, then the registry's docstring */
        if (info->eps >= 0) {
            snprintf(eps, sizeof(eps), ", eps=%g%s", info->eps,
                     info->id == RP_LOSS_CE ? ", *, axis=-1" : "");
        }
        snprintf(loss_docs[i], sizeof(loss_docs[i]), "%s(A, Y%s)\n--\n\n%s", info->function,
                 eps, info->doc);
        loss_methods[i].ml_name = info->function;
        loss_methods[i].ml_meth = (PyCFunction)(void (*)(void))py_loss;
        loss_methods[i].ml_flags = METH_VARARGS | METH_KEYWORDS;
        loss_methods[i].ml_doc = loss_docs[i];
        index = PyLong_FromLong(i);
        name = PyModule_GetNameObject(module);
        f = index != NULL && name != NULL ? PyCFunction_NewEx(&loss_methods[i], index, name)
                                          : NULL;
        Py_XDECREF(index);
        Py_XDECREF(name);
        if (f == NULL || PyModule_AddObject(module, info->function, f) < 0) {
            Py_XDECREF(f);
            return -1;
        }
    }
    return 0;
}
