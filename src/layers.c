/*
 * layers.c - the layer entry points: matmul, dense_forward, dense_backward,
 * and sgd_update. Each converts its arguments (args.c), checks them, allocates or validates its
 * outputs, and only then runs a kernel of src/kernels/.
 */
#include "binding.h" /* first: it includes Python.h */

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* matmul                                                                    */

PyDoc_STRVAR(matmul_doc,
"matmul(A, B, *, out=None)\n--\n\n"
"Matrix product of 1-D or 2-D arrays, read in place whatever their strides.\n\n"
"NumPy: np.matmul(A, B)  (that is, A @ B)\n\n"
"As np.matmul: a 1-D A is a row (n,) -> (1, n) and a 1-D B a column, and the\n"
"added dimension is removed from the result. Tiny products (the seeds' 2x2 to\n"
"4x4) run in a plain C loop without NumPy's per-call cost; large ones run\n"
"on np.matmul's own loop (NumPy's BLAS, the same bits as A @ B) with the GIL\n"
"released. int inputs are cast to float64 (a copy).\n\n"
"out : array of the result's shape and dtype, written in place and returned.");

static PyObject *py_matmul(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"A", "B", "out", NULL};
    const char *fn = "matmul";
    static const char *const names[] = {"A", "B"};
    PyObject *objs[2], *out_obj = Py_None;
    rpb_args a;
    PyArrayObject **arrs = a.in, *C = NULL;
    char sa[64], sb[64];
    npy_intp dims[2];
    int ndim = 0, typenum;
    rp_index k_a, k_b;
    (void)self;
    memset(&a, 0, sizeof(a));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$O:matmul", kwlist, &objs[0], &objs[1],
                                     &out_obj)) {
        return NULL;
    }
    if (rpb_convert(&a, fn, 2, objs, names, out_obj, 1) < 0) {
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
    if (rpb_check_work(fn, PyArray_NDIM(arrs[0]) == 2 ? PyArray_DIM(arrs[0], 0) : 1,
                   PyArray_NDIM(arrs[1]) == 2 ? PyArray_DIM(arrs[1], 1) : 1, k_a, "A", arrs[0],
                   "B", arrs[1]) < 0) {
        goto error;
    }
    if ((typenum = rpb_result_typenum(arrs, 2)) < 0 || rpb_cast_in_place(&arrs[0], typenum) < 0 ||
        rpb_cast_in_place(&arrs[1], typenum) < 0) {
        goto error;
    }
    C = rpb_output(a.out[0], fn, "out", typenum, ndim, dims, -1, NULL, arrs, 2);
    if (C == NULL) {
        goto error;
    }
    {
        rp_view cv = rpb_view_of(C, PyArray_NDIM(arrs[0]) == 1);
        rpb_product(1.0, rpb_cview_of(arrs[0], 1), rpb_cview_of(arrs[1], 0), cv, typenum);
    }
    if (a.out[0] != NULL) {
        rpb_release(&a);
        return (PyObject *)C;
    }
    rpb_release(&a);
    return PyArray_Return(C); /* 1-D @ 1-D is a scalar, as in NumPy */
error:
    rpb_release(&a);
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
    return rpb_check_work(fn, L->n, L->n_out, L->n_in, "X", X, "W", W);
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
"activation : \"sigmoid\", \"tanh\", \"relu\", \"identity\" (A is then a copy of Z)\n"
"    or \"softmax\" (over each sample's outputs: softmax(Z, axis=-1) for rows,\n"
"    axis=0 for cols).\n"
"out : (Z_out, A_out), arrays of the result's shape and dtype written in\n"
"    place and returned; either may be None for a fresh array.\n\n"
"float32 and float64 inputs are read in place whatever their strides; the\n"
"result is float32 when NumPy's result type of the inputs is float32, else\n"
"float64 (int inputs, as in seeds 001 and 003, are cast: a copy).");

static PyObject *py_dense_forward(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"X", "W", "b", "activation", "layout", "out", NULL};
    const char *fn = "dense_forward";
    static const char *const names[] = {"X", "W", "b"};
    PyObject *objs[3] = {NULL, NULL, NULL}, *b_obj = Py_None, *out_obj = Py_None;
    const char *act_name = "sigmoid", *layout_name = "rows";
    rpb_args a;
    PyArrayObject **in = a.in; /* X, W, b */
    PyArrayObject *X, *W, *b, *Z = NULL, *A = NULL;
    char sw[64], sbias[64];
    rp_layer L;
    rp_activation act;
    int cols, typenum, ninputs;
    npy_intp n_out;
    (void)self;
    memset(&a, 0, sizeof(a));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|Os$sO:dense_forward", kwlist, &objs[0],
                                     &objs[1], &b_obj, &act_name, &layout_name, &out_obj)) {
        return NULL;
    }
    if (rpb_parse_layout(layout_name, fn, &cols) < 0 || rpb_parse_activation(act_name, fn, &act) < 0) {
        return NULL;
    }
    objs[2] = b_obj == Py_None ? NULL : b_obj;
    if (rpb_convert(&a, fn, 3, objs, names, out_obj, 2) < 0) {
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
    if ((typenum = rpb_result_typenum(in, ninputs)) < 0 || rpb_cast_in_place(&in[0], typenum) < 0 ||
        rpb_cast_in_place(&in[1], typenum) < 0 || rpb_cast_in_place(&in[2], typenum) < 0) {
        goto error;
    }
    X = in[0];
    W = in[1];
    b = in[2];
    if ((Z = rpb_output(a.out[0], fn, "out[0] (Z)", typenum, L.zndim, L.zdims, -1, NULL, in, ninputs)) == NULL ||
        (A = rpb_output(a.out[1], fn, "out[1] (A)", typenum, L.zndim, L.zdims, -1, NULL, in, ninputs)) == NULL) {
        goto error;
    }
    if (rpb_may_overlap(Z, A)) {
        PyErr_Format(PyExc_ValueError, "%s: out[0] (Z) and out[1] (A) share memory", fn);
        goto error;
    }
    {
        /* a 1-D X is one sample: a row in 'rows', a column in 'cols' */
        rp_cview xv = rpb_cview_of(X, !cols), wv = rpb_cview_of(W, 0), bv;
        rp_view zv = rpb_view_of(Z, !cols), av = rpb_view_of(A, !cols);
        if (cols) {
            rpb_product(1.0, wv, xv, zv, typenum);
        }
        else {
            rpb_product(1.0, xv, wv, zv, typenum);
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
        if (act == RP_ACT_SOFTMAX && cols) {
            /* softmax runs along rows: give it each sample's outputs as a row */
            rp_index t;
            t = zv.rows, zv.rows = zv.cols, zv.cols = t;
            t = zv.s0, zv.s0 = zv.s1, zv.s1 = t;
            t = av.rows, av.rows = av.cols, av.cols = t;
            t = av.s0, av.s0 = av.s1, av.s1 = t;
            t = bv.rows, bv.rows = bv.cols, bv.cols = t;
            t = bv.s0, bv.s0 = bv.s1, bv.s1 = t;
        }
        RP_RUN(zv.rows * zv.cols, RP_DISPATCH(typenum, rp_bias_activate, (zv, bv, act, av)));
    }
    rpb_release(&a);
    return Py_BuildValue("(NN)", Z, A);
error:
    rpb_release(&a);
    Py_XDECREF(Z);
    Py_XDECREF(A);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* dense_backward                                                            */

PyDoc_STRVAR(dense_backward_doc,
"dense_backward(delta, X, W, *, layout=\"rows\", average=False, need_dX=True, out=None)\n--\n\n"
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
"need_dX : False skips dX (returned as None): the first layer's dX, the\n"
"    gradient of the inputs, is never needed, and is a third of the work.\n"
"    NumPy: the same dW and db, without dX = delta @ W.T.\n"
"out : (dW_out, db_out, dX_out), written in place and returned; entries may\n"
"    be None (dX_out must be, with need_dX=False). db_out may have either bias\n"
"    shape of the layout.\n\n"
"dX is what the layer below needs: its delta is dX * f'(its Z).");

static PyObject *py_dense_backward(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"delta", "X", "W", "layout", "average", "need_dX", "out", NULL};
    const char *fn = "dense_backward";
    PyObject *objs[3], *out_obj = Py_None;
    const char *layout_name = "rows";
    static const char *const names[] = {"delta", "X", "W"};
    int average = 0, need_dx = 1, cols, typenum, i;
    rpb_args a;
    PyArrayObject **in = a.in; /* delta, X, W */
    PyArrayObject *dW = NULL, *db = NULL, *dX = NULL, *delta, *X, *W;
    rp_layer L;
    npy_intp db_dims[2], db_alt[2];
    char sd[64], sz[64], sx[64], sw[64];
    (void)self;
    memset(&a, 0, sizeof(a));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|$sppO:dense_backward", kwlist,
                                     &objs[0], &objs[1], &objs[2], &layout_name, &average,
                                     &need_dx, &out_obj)) {
        return NULL;
    }
    if (rpb_parse_layout(layout_name, fn, &cols) < 0) {
        return NULL;
    }
    if (rpb_convert(&a, fn, 3, objs, names, out_obj, 3) < 0) {
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
        rpb_shape_str(L.zndim, L.zdims, sz, sizeof(sz));
        PyErr_Format(PyExc_ValueError, "%s: delta has shape %s but this layer's Z has shape %s "
                     "(X %s, W %s, layout='%s'); delta is dL/dZ", fn, sd, sz, sx, sw,
                     layout_name);
        goto error;
    }
    if (!need_dx && a.out[2] != NULL) {
        PyErr_Format(PyExc_ValueError, "%s: out[2] (dX) is given but need_dX=False computes no "
                     "dX: pass None there, or need_dX=True", fn);
        goto error;
    }
    if (average && L.n == 0) {
        PyErr_Format(PyExc_ValueError, "%s: average=True needs at least one sample, X has "
                     "none", fn);
        goto error;
    }
    if ((typenum = rpb_result_typenum(in, 3)) < 0) {
        goto error;
    }
    for (i = 0; i < 3; i++) {
        if (rpb_cast_in_place(&in[i], typenum) < 0) {
            goto error;
        }
    }
    delta = in[0];
    X = in[1];
    W = in[2];
    /* db: (out,) for rows, (out, 1) for cols; out= may take the other form */
    db_dims[0] = L.n_out;
    db_dims[1] = 1;
    db_alt[0] = cols ? L.n_out : 1;
    db_alt[1] = L.n_out;
    if ((dW = rpb_output(a.out[0], fn, "out[0] (dW)", typenum, 2, PyArray_DIMS(W), -1, NULL, in, 3)) == NULL ||
        (db = rpb_output(a.out[1], fn, "out[1] (db)", typenum, cols ? 2 : 1, db_dims,
                     cols ? 1 : 2, db_alt, in, 3)) == NULL ||
        (need_dx && (dX = rpb_output(a.out[2], fn, "out[2] (dX)", typenum, PyArray_NDIM(X),
                                     PyArray_DIMS(X), -1, NULL, in, 3)) == NULL)) {
        goto error;
    }
    if (rpb_may_overlap(dW, db) ||
        (dX != NULL && (rpb_may_overlap(dW, dX) || rpb_may_overlap(db, dX)))) {
        PyErr_Format(PyExc_ValueError, "%s: the arrays of out share memory", fn);
        goto error;
    }
    {
        double scale = average ? 1.0 / (double)L.n : 1.0;
        rp_cview dv = rpb_cview_of(delta, !cols), xv = rpb_cview_of(X, !cols), wv = rpb_cview_of(W, 0);
        rp_view dwv = rpb_view_of(dW, 0), dxv;
        /* the stride of db along the outputs, whichever form it has */
        rp_index db_stride = PyArray_NDIM(db) == 1 ? PyArray_STRIDE(db, 0)
                                                   : PyArray_STRIDE(db, cols ? 0 : 1);
        if (cols) {
            /* dW = delta @ X.T;  dX = W.T @ delta */
            rpb_product(scale, dv, rp_cview_transposed(xv), dwv, typenum);
            if (dX != NULL) {
                dxv = rpb_view_of(dX, !cols);
                rpb_product(1.0, rp_cview_transposed(wv), dv, dxv, typenum);
            }
        }
        else {
            /* dW = X.T @ delta;  dX = delta @ W.T */
            rpb_product(scale, rp_cview_transposed(xv), dv, dwv, typenum);
            if (dX != NULL) {
                dxv = rpb_view_of(dX, !cols);
                rpb_product(1.0, dv, rp_cview_transposed(wv), dxv, typenum);
            }
        }
        /* db = sum over the samples: the column sums of delta in 'rows' */
        RP_RUN(dv.rows * dv.cols,
               RP_DISPATCH(typenum, rp_colsum,
                           (scale, cols ? rp_cview_transposed(dv) : dv, PyArray_BYTES(db), db_stride)));
    }
    rpb_release(&a);
    if (dX == NULL) {
        return Py_BuildValue("(NNO)", dW, db, Py_None);
    }
    return Py_BuildValue("(NNN)", dW, db, dX);
error:
    rpb_release(&a);
    Py_XDECREF(dW);
    Py_XDECREF(db);
    Py_XDECREF(dX);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* sgd_update                                                                */

PyDoc_STRVAR(sgd_update_doc,
"sgd_update(param, grad, lr)\n--\n\n"
"One step of gradient descent, in place; returns param itself.\n\n"
"NumPy: param -= lr * grad\n\n"
"param is a writeable float32 or float64 array (up to 2-D) and keeps its\n"
"identity and its data pointer. grad has param's shape. The result is what\n"
"the NumPy expression gives for every combination of dtypes: lr * grad in\n"
"NumPy's result type of the two (a Python float lr takes a float grad's\n"
"dtype; a NumPy scalar lr keeps its own), then param minus that in their\n"
"result type, rounded to param's dtype. lr, grad and param of one dtype\n"
"(float32 or float64) run in C in place; other combinations run NumPy's own\n"
"multiply and subtract (a temporary for lr * grad). lr must be a finite real\n"
"number (not a bool). Seeds 001 and 003 step with += and -=; here the sign\n"
"is always descent: pass the gradient of the loss.");

/* lr as a finite double and as the number NumPy would multiply by: a Python
 * float or int stays one (a "weak" scalar that takes grad's dtype), a NumPy
 * scalar or 0-d array becomes an exact NumPy scalar of its dtype (*lr_type;
 * -1 for a Python number). Other objects with __float__ become a Python
 * float. All their Python code (__float__, __index__) runs here. */
static int sgd_lr(PyObject *lr_obj, const char *fn, double *lr, PyObject **lr_num,
                  int *lr_type)
{
    *lr_num = NULL;
    *lr_type = -1;
    if (PyBool_Check(lr_obj) || PyArray_IsScalar(lr_obj, Bool)) {
        PyErr_Format(PyExc_TypeError, "%s: lr must be a real number, got bool %R", fn, lr_obj);
        return -1;
    }
    if (PyArray_IsScalar(lr_obj, Generic) || PyArray_Check(lr_obj)) {
        PyArrayObject *a0 = (PyArrayObject *)PyArray_FromAny(lr_obj, NULL, 0, 0,
                                                             NPY_ARRAY_ENSUREARRAY, NULL);
        if (a0 == NULL) {
            return -1;
        }
        if (PyArray_NDIM(a0) != 0 || !(PyTypeNum_ISINTEGER(PyArray_TYPE(a0)) ||
                                       PyTypeNum_ISFLOAT(PyArray_TYPE(a0)))) {
            char shape[64];
            RP_SHAPE(a0, shape);
            PyErr_Format(PyExc_TypeError, "%s: lr must be a real number, got an array of "
                         "shape %s and dtype %S", fn, shape, (PyObject *)PyArray_DESCR(a0));
            Py_DECREF(a0);
            return -1;
        }
        *lr_type = PyArray_TYPE(a0);
        *lr = PyFloat_AsDouble((PyObject *)a0);
        if (*lr == -1.0 && PyErr_Occurred()) {
            rpb_add_context(fn, "lr");
            Py_DECREF(a0);
            return -1;
        }
        *lr_num = PyArray_Return(a0); /* an exact NumPy scalar: no subclass code */
    }
    else {
        *lr = PyFloat_AsDouble(lr_obj);
        if (*lr == -1.0 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Format(PyExc_TypeError, "%s: lr must be a real number, got %s", fn,
                             Py_TYPE(lr_obj)->tp_name);
            }
            else {
                rpb_add_context(fn, "lr");
            }
            return -1;
        }
        /* an int stays an int (NumPy multiplies an int grad by it exactly); an
         * exact float or int is used as it is, a subclass as its value */
        if (PyFloat_CheckExact(lr_obj) || PyLong_CheckExact(lr_obj)) {
            Py_INCREF(lr_obj);
            *lr_num = lr_obj;
        }
        else {
            *lr_num = PyLong_Check(lr_obj) ? PyNumber_Long(lr_obj) : PyFloat_FromDouble(*lr);
        }
    }
    if (*lr_num == NULL) {
        return -1;
    }
    if (!isfinite(*lr)) {
        PyObject *v = PyFloat_FromDouble(*lr);
        if (v != NULL) {
            PyErr_Format(PyExc_ValueError, "%s: lr must be a finite number, got %R", fn, v);
            Py_DECREF(v);
        }
        Py_CLEAR(*lr_num);
        return -1;
    }
    return 0;
}

static PyObject *py_sgd_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"param", "grad", "lr", NULL};
    static const char *const names[] = {"grad"};
    const char *fn = "sgd_update";
    PyObject *param_obj, *objs[1], *lr_obj, *lr_num = NULL;
    rpb_args a;
    PyArrayObject *param, *grad;
    double lr;
    int typenum, lr_type;
    char sp[64], sg[64];
    (void)self;
    memset(&a, 0, sizeof(a));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:sgd_update", kwlist, &param_obj,
                                     &objs[0], &lr_obj)) {
        return NULL;
    }
    /* lr, then grad and param: all the Python code of the arguments, first */
    if (sgd_lr(lr_obj, fn, &lr, &lr_num, &lr_type) < 0 ||
        rpb_convert(&a, fn, 1, objs, names, param_obj, 1) < 0) {
        goto error;
    }
    if (!PyArray_Check(param_obj)) {
        PyErr_Format(PyExc_TypeError, "%s: param must be a NumPy array (it is updated in "
                     "place), got %s", fn, Py_TYPE(param_obj)->tp_name);
        goto error;
    }
    if (rpb_refuse_masked_output(param_obj, fn, "param") < 0) {
        goto error;
    }
    param = (PyArrayObject *)a.out[0];
    grad = a.in[0];
    typenum = PyArray_TYPE(param);
    if ((typenum != NPY_FLOAT && typenum != NPY_DOUBLE) || !PyArray_ISNOTSWAPPED(param)) {
        PyErr_Format(PyExc_TypeError, "%s: param has dtype %S; it must be float32 or float64 "
                     "to be updated in place", fn, (PyObject *)PyArray_DESCR(param));
        goto error;
    }
    if (!PyArray_ISWRITEABLE(param)) {
        RP_SHAPE(param, sp);
        PyErr_Format(PyExc_ValueError, "%s: param %s is read-only", fn, sp);
        goto error;
    }
    if (PyArray_NDIM(param) > 2 || !PyArray_ISALIGNED(param)) {
        RP_SHAPE(param, sp);
        PyErr_Format(PyExc_ValueError, "%s: param must be an aligned array of at most 2 "
                     "dimensions, got shape %s", fn, sp);
        goto error;
    }
    if (rpb_refuse_self_overlap(param, fn, "param") < 0) {
        goto error;
    }
    if (!(PyArray_NDIM(grad) == PyArray_NDIM(param) &&
          PyArray_CompareLists(PyArray_DIMS(grad), PyArray_DIMS(param), PyArray_NDIM(param)))) {
        RP_SHAPE(param, sp);
        RP_SHAPE(grad, sg);
        PyErr_Format(PyExc_ValueError, "%s: grad has shape %s but param has shape %s; they "
                     "must match", fn, sg, sp);
        goto error;
    }
    /* grad may be param itself, but not another view of its memory */
    if (rpb_may_overlap(param, grad) &&
        !(PyArray_BYTES(param) == PyArray_BYTES(grad) && PyArray_TYPE(param) == PyArray_TYPE(grad) &&
          PyArray_CompareLists(PyArray_STRIDES(param), PyArray_STRIDES(grad),
                               PyArray_NDIM(param)))) {
        PyErr_Format(PyExc_ValueError, "%s: grad shares memory with param", fn);
        goto error;
    }
    if (PyArray_TYPE(grad) == typenum && PyArray_ISALIGNED(grad) && PyArray_ISNOTSWAPPED(grad) &&
        (lr_type < 0 || lr_type == typenum)) {
        /* one dtype throughout: lr * grad and the subtraction in it, in C */
        rp_view pv = rpb_view_of(param, 1);
        rp_cview gv = rpb_cview_of(grad, 1);
        RP_RUN(PyArray_SIZE(param), RP_DISPATCH(typenum, rp_sgd_update, (lr, pv, gv)));
    }
    else {
        /* mixed dtypes: NumPy's own ufuncs on plain ndarrays (no Python code) */
        PyObject *pview = NULL, *step = NULL, *res = NULL;
        pview = PyArray_View(param, NULL, &PyArray_Type);
        step = pview != NULL ? PyNumber_Multiply(lr_num, (PyObject *)grad) : NULL;
        res = step != NULL ? PyNumber_InPlaceSubtract(pview, step) : NULL;
        Py_XDECREF(pview);
        Py_XDECREF(step);
        if (res == NULL) {
            rpb_add_context(fn, "param -= lr * grad");
            goto error;
        }
        Py_DECREF(res);
    }
    Py_DECREF(lr_num);
    rpb_release(&a);
    Py_INCREF(param_obj);
    return param_obj;
error:
    Py_XDECREF(lr_num);
    rpb_release(&a);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* This file's functions (module.c adds them to the module)                  */

#define RP_METHOD(name) \
    {#name, (PyCFunction)(void (*)(void))py_##name, METH_VARARGS | METH_KEYWORDS, name##_doc}

PyMethodDef rpb_layer_methods[] = {
    RP_METHOD(matmul),
    RP_METHOD(dense_forward),
    RP_METHOD(dense_backward),
    RP_METHOD(sgd_update),
    {NULL, NULL, 0, NULL},
};
