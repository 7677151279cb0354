/*
 * network.c - the network entry points behind retroprop.MLP (network.py):
 * net_fit, net_gradients and net_forward marshal the lists of parameters
 * into an rp_net (rp_net.h) and run its C loops.
 */
#include "binding.h" /* first: it includes Python.h */

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The network entry points behind retroprop.MLP (network.py). Private: the  */
/* class validates and documents; these check again before touching memory. */

/* A network's parameters as rp_views with samples as rows, and the
 * references that keep its arrays alive while the GIL is released. */
typedef struct {
    rp_net net;
    rp_index *sizes;
    rp_view *views; /* W, b, vW, vb: 4 * nlayers */
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
    if (rpb_is_masked(obj)) {
        PyErr_Format(PyExc_TypeError, "%s[%d] is a masked array (numpy.ma.MaskedArray); the "
                     "network would train through its mask, so it is refused: pass a plain "
                     "array (%s[%d].data, or .filled(value))", what, l, what, l);
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
    if (writeable && rpb_self_overlaps(a)) {
        char got[64], strides[64];
        RP_SHAPE(a, got);
        rpb_shape_str(PyArray_NDIM(a), PyArray_STRIDES(a), strides, sizeof(strides));
        PyErr_Format(PyExc_ValueError, "%s[%d] %s has elements that share memory (strides %s): "
                     "training would write them in turn; pass an array of distinct elements "
                     "(a .copy())", what, l, got, strides);
        return -1;
    }
    v->data = PyArray_BYTES(a);
    Py_INCREF(a);
    na->held[na->nheld++] = a;
    return 0;
}

/* The caller's lists, unpacked (owned items) before anything is checked. */
typedef struct {
    PyObject **W, **b, **eW, **eb; /* b, eW, eb NULL when absent */
    Py_ssize_t nW, nb, neW, neb;
} net_lists;

/* Fill na from the unpacked lists of weights and biases (and velocities or
 * gradients: `extra` lists shaped like the parameters, NULL when absent). */
static int parse_net(net_args *na, const net_lists *ls, const char *extra_name,
                     const char *layout, const char *activation, const char *output_activation,
                     const char *loss, int writeable)
{
    Py_ssize_t L = ls->nW, l;
    int i;
    memset(na, 0, sizeof(*na));
    na->typenum = -1;
    if (rpb_parse_layout(layout, "MLP", &na->cols) < 0 ||
        rpb_parse_activation(activation, "MLP", &na->net.hidden) < 0) {
        return -1;
    }
    if (strcmp(output_activation, "softmax") == 0) {
        na->net.output = RP_ACT_SOFTMAX;
    }
    else if (rpb_parse_activation(output_activation, "MLP", &na->net.output) < 0) {
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
    na->net.nlayers = (int)L;
    na->sizes = PyMem_Calloc((size_t)L + 1, sizeof(rp_index));
    na->views = PyMem_Calloc(4 * (size_t)L, sizeof(rp_view));
    na->held = PyMem_Calloc(4 * (size_t)L, sizeof(PyArrayObject *));
    if (na->sizes == NULL || na->views == NULL || na->held == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    na->net.sizes = na->sizes;
    na->net.W = na->views;
    na->net.b = na->views + L;
    na->net.vW = na->views + 2 * L;
    na->net.vb = na->views + 3 * L;
    for (l = 0; l < L; l++) {
        PyObject *w = ls->W[l];
        rp_index n_in, n_out;
        if (!PyArray_Check(w)) {
            PyErr_Format(PyExc_TypeError, "weights[%zd] must be a NumPy array (it is trained in "
                         "place), got %s", l, Py_TYPE(w)->tp_name);
            return -1;
        }
        if (PyArray_NDIM((PyArrayObject *)w) != 2) {
            PyErr_Format(PyExc_ValueError, "weights[%zd] must be a 2-D array", l);
            return -1;
        }
        n_in = PyArray_DIM((PyArrayObject *)w, na->cols ? 1 : 0);
        n_out = PyArray_DIM((PyArrayObject *)w, na->cols ? 0 : 1);
        if (l > 0 && n_in != na->sizes[l]) {
            char prev[64], cur[64];
            RP_SHAPE((PyArrayObject *)ls->W[l - 1], prev);
            RP_SHAPE((PyArrayObject *)w, cur);
            PyErr_Format(PyExc_ValueError, "the sizes do not chain: weights[%zd] %s has %zd "
                         "outputs but weights[%zd] %s has %zd inputs (layout='%s')", l - 1,
                         prev, (Py_ssize_t)na->sizes[l], l, cur, (Py_ssize_t)n_in, layout);
            return -1;
        }
        if (n_in == 0 || n_out == 0) {
            char cur[64];
            RP_SHAPE((PyArrayObject *)w, cur);
            PyErr_Format(PyExc_ValueError, "weights[%zd] has shape %s: layer %zd has %s; every "
                         "layer needs at least one input and one output (layout='%s')", l, cur,
                         l, n_in == 0 ? "no inputs" : "no outputs", layout);
            return -1;
        }
        na->sizes[l] = n_in;
        na->sizes[l + 1] = n_out;
    }
    for (l = 0; l < L; l++) {
        PyObject *b = ls->b == NULL ? Py_None : ls->b[l];
        /* the inputs of a layer are the outputs of the one before */
        const rp_index in = na->sizes[l], out = na->sizes[l + 1];
        if (net_array(na, ls->W[l], "weights", (int)l, 0, in, out, writeable,
                      &na->net.W[l]) < 0) {
            return -1;
        }
        if (b != Py_None && net_array(na, b, "biases", (int)l, 1, in, out, writeable,
                                      &na->net.b[l]) < 0) {
            return -1;
        }
        if (ls->eW != NULL && net_array(na, ls->eW[l], extra_name, (int)l, 0, in, out, 1,
                                        &na->net.vW[l]) < 0) {
            return -1;
        }
        if (ls->eb != NULL && b != Py_None &&
            net_array(na, ls->eb[l], extra_name, (int)l, 1, in, out, 1, &na->net.vb[l]) < 0) {
            return -1;
        }
    }
    /* what is written must not share memory with anything else */
    for (i = 0; i < na->nheld; i++) {
        int j;
        for (j = i + 1; j < na->nheld; j++) {
            if (rpb_may_overlap(na->held[i], na->held[j])) {
                PyErr_SetString(PyExc_ValueError, "two of the network's arrays share memory");
                return -1;
            }
        }
    }
    return 0;
}

/* X and Y (already arrays, in[0] and in[1]; in[1] NULL without Y) as
 * rows-views of the network's dtype (a cast copy for other dtypes), checked
 * against the network's sizes. */
static int net_data(net_args *na, PyArrayObject **in, rp_cview *X, rp_cview *Y)
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
    for (k = 0; k < (in[1] != NULL ? 2 : 1); k++) {
        PyArrayObject *a;
        if (rpb_cast_in_place(&in[k], na->typenum) < 0) {
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
        *views[k] = rpb_cview_of(a, 1);
        if (na->cols) {
            *views[k] = rpb_transposed(*views[k]);
        }
        for (i = 0; i < na->nheld; i++) {
            if (rpb_may_overlap(a, na->held[i])) {
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

/* What every network entry point takes: the caller's lists and names. */
typedef struct {
    PyObject *weights, *biases;  /* lists of arrays (biases may be None) */
    PyObject *extra_w, *extra_b; /* velocities or gradients shaped like them, or NULL */
    const char *extra_name;      /* what the extra lists are, for messages */
    const char *extra_msg;       /* the error when they are not shaped like them */
    PyObject *X, *Y;             /* the data; Y NULL when not needed */
    const char *layout, *activation, *output_activation, *loss;
    int writeable;               /* the parameters are written (fit) */
} net_spec;

/* What every network entry point holds between net_begin and net_end. */
typedef struct {
    net_lists lists;      /* the unpacked lists: owned references */
    net_args na;
    PyArrayObject *in[2]; /* X and Y, as the network's dtype */
    rp_cview X, Y;        /* their rows-views */
} net_call;

/* The one setup of net_fit, net_gradients and net_forward. First every
 * argument becomes what it is used as (the lists' items as owned references,
 * X and Y as arrays), so that all the Python code they can run (__array__, a
 * list subclass) has run; then the parameters and the data are checked.
 * -1 with an error set; call net_end either way. */
static int net_begin(net_call *c, const net_spec *s)
{
    net_lists *ls = &c->lists;
    memset(c, 0, sizeof(*c));
    ls->W = rpb_unpack(s->weights, -1, "MLP", "weights", "a non-empty list of arrays", &ls->nW);
    if (ls->W == NULL) {
        return -1;
    }
    if (ls->nW < 1 || ls->nW > INT_MAX / 4) {
        PyErr_Format(PyExc_TypeError, "weights must be a non-empty list of arrays, got %zd "
                     "of them", ls->nW);
        return -1;
    }
    if (s->biases != Py_None) {
        char expected[64];
        snprintf(expected, sizeof(expected), "None or a list of %zd arrays", ls->nW);
        if ((ls->b = rpb_unpack(s->biases, ls->nW, "MLP", "biases", expected, &ls->nb)) == NULL) {
            return -1;
        }
    }
    if (s->extra_w != NULL) {
        if (!(PyTuple_Check(s->extra_w) || PyList_Check(s->extra_w)) ||
            (s->biases != Py_None && s->extra_b != NULL &&
             !(PyTuple_Check(s->extra_b) || PyList_Check(s->extra_b)))) {
            PyErr_SetString(PyExc_ValueError, s->extra_msg);
            return -1;
        }
        ls->eW = rpb_unpack(s->extra_w, -1, "MLP", s->extra_name, "a list", &ls->neW);
        if (ls->eW == NULL) {
            return -1;
        }
        if (s->biases != Py_None && s->extra_b != NULL) {
            ls->eb = rpb_unpack(s->extra_b, -1, "MLP", s->extra_name, "a list", &ls->neb);
            if (ls->eb == NULL) {
                return -1;
            }
        }
        if (ls->neW != ls->nW || (s->biases != Py_None && ls->neb != ls->nW)) {
            PyErr_SetString(PyExc_ValueError, s->extra_msg);
            return -1;
        }
    }
    if ((c->in[0] = rpb_to_array(s->X, "MLP", "X")) == NULL ||
        (s->Y != NULL && (c->in[1] = rpb_to_array(s->Y, "MLP", "Y")) == NULL)) {
        return -1;
    }
    /* no Python code from here on: check what was converted */
    if (parse_net(&c->na, ls, s->extra_name, s->layout, s->activation, s->output_activation,
                  s->loss, s->writeable) < 0) {
        return -1;
    }
    return net_data(&c->na, c->in, &c->X, &c->Y);
}

/* The one teardown: releases what net_begin took (safe after a failure). */
static void net_end(net_call *c)
{
    Py_XDECREF(c->in[0]);
    Py_XDECREF(c->in[1]);
    c->in[0] = c->in[1] = NULL;
    net_args_free(&c->na);
    memset(&c->na, 0, sizeof(c->na));
    rpb_unpack_free(c->lists.W, c->lists.nW);
    rpb_unpack_free(c->lists.b, c->lists.nb);
    rpb_unpack_free(c->lists.eW, c->lists.neW);
    rpb_unpack_free(c->lists.eb, c->lists.neb);
    memset(&c->lists, 0, sizeof(c->lists));
}

/* Attach history[:done], the losses of the epochs a fit finished, to the
 * pending exception as its attribute `history` (MLP.fit reads it). */
static void interrupted_history(PyObject *history, rp_index done)
{
    PyObject *type, *value, *tb, *part;
    npy_intp n = done;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    part = PyArray_SimpleNew(1, &n, NPY_DOUBLE);
    if (part != NULL && value != NULL) {
        memcpy(PyArray_DATA((PyArrayObject *)part), PyArray_DATA((PyArrayObject *)history),
               (size_t)n * sizeof(double));
        if (PyObject_SetAttrString(value, "history", part) < 0) {
            PyErr_Clear(); /* an exception that takes no attributes: leave it as it is */
        }
    }
    else {
        PyErr_Clear();
    }
    Py_XDECREF(part);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    PyErr_Restore(type, value, tb);
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

static PyObject *py_net_fit(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"weights", "biases", "vweights", "vbiases", "X", "Y", "layout",
                             "activation", "output_activation", "loss", "lr", "momentum",
                             "average", "epochs", "batch_size", "shuffle", "seed",
                             "shuffle_state", NULL};
    PyObject *vweights, *vbiases, *batch_obj = Py_None, *seed_obj = NULL, *history = NULL;
    PyObject *resume_obj = Py_None;
    uint64_t *resume = NULL;
    net_spec s;
    net_call c;
    double lr, momentum;
    int average, shuffle, status;
    Py_ssize_t epochs;
    unsigned long long seed = 0;
    rp_index batch = 0, done = 0;
    npy_intp hdim;
    (void)self;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO$ssssddpnOpOO:net_fit", kwlist,
                                     &s.weights, &s.biases, &vweights, &vbiases, &s.X, &s.Y,
                                     &s.layout, &s.activation, &s.output_activation, &s.loss,
                                     &lr, &momentum, &average, &epochs, &batch_obj, &shuffle,
                                     &seed_obj, &resume_obj)) {
        return NULL;
    }
    if (!isfinite(lr) || lr < 0 || !isfinite(momentum) || momentum < 0 || epochs < 0) {
        PyErr_SetString(PyExc_ValueError, "lr and momentum must be finite and >= 0, epochs >= 0");
        return NULL;
    }
    /* an int, in [0, 2**64): no float truncated, nothing reduced mod 2**64 */
    if (!PyLong_Check(seed_obj) || PyBool_Check(seed_obj)) {
        PyErr_Format(PyExc_TypeError, "MLP.fit: seed must be None or an integer in [0, 2**64), "
                     "got %s", Py_TYPE(seed_obj)->tp_name);
        return NULL;
    }
    seed = PyLong_AsUnsignedLongLong(seed_obj);
    if (seed == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_ValueError, "MLP.fit: seed must be None or an integer in [0, 2**64), "
                     "got %R", seed_obj);
        return NULL;
    }
    if (batch_obj != Py_None) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(batch_obj, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            rpb_add_context("MLP.fit", "batch_size");
            return NULL;
        }
        if (overflow < 0 || (overflow == 0 && v < 1)) {
            PyErr_SetString(PyExc_ValueError, "MLP.fit: batch_size must be None or at least 1");
            return NULL;
        }
        /* more than there can be samples: one batch of all of them */
        batch = overflow > 0 || v > (long long)PY_SSIZE_T_MAX ? 0 : (rp_index)v;
    }
    /* without biases (seeds 001, 002) there are no bias velocities */
    s.extra_w = momentum != 0.0 ? vweights : NULL;
    s.extra_b = momentum != 0.0 ? vbiases : NULL;
    s.extra_name = "velocities";
    s.extra_msg = "momentum needs velocity lists shaped like the weights and biases";
    s.writeable = 1;
    if (net_begin(&c, &s) < 0) {
        goto error;
    }
    /* shuffle_state: [generator state, order of the n samples], read and
     * written by the loop so that a fit in several calls is one fit */
    if (resume_obj != Py_None) {
        PyArrayObject *r = (PyArrayObject *)resume_obj;
        npy_intp k;
        if (!PyArray_CheckExact(resume_obj) || PyArray_TYPE(r) != NPY_UINT64 ||
            PyArray_NDIM(r) != 1 || PyArray_DIM(r, 0) != c.X.rows + 1 ||
            !PyArray_IS_C_CONTIGUOUS(r) || !PyArray_ISWRITEABLE(r)) {
            PyErr_Format(PyExc_ValueError, "shuffle_state must be a writeable C-contiguous "
                         "uint64 array of n + 1 = %zd values", (Py_ssize_t)c.X.rows + 1);
            goto error;
        }
        resume = (uint64_t *)PyArray_DATA(r);
        for (k = 1; k <= c.X.rows; k++) {
            if (resume[k] >= (uint64_t)c.X.rows) {
                PyErr_Format(PyExc_ValueError, "shuffle_state[%zd] is %llu, not a sample index "
                             "in [0, %zd)", (Py_ssize_t)k, (unsigned long long)resume[k],
                             (Py_ssize_t)c.X.rows);
                goto error;
            }
        }
        for (k = 0; k < c.na.nheld + 2; k++) {
            if (rpb_may_overlap(r, k < c.na.nheld ? c.na.held[k] : c.in[k - c.na.nheld])) {
                PyErr_SetString(PyExc_ValueError, "shuffle_state shares memory with the "
                                                  "network's arrays or the data");
                goto error;
            }
        }
    }
    c.na.net.lr = lr;
    c.na.net.momentum = momentum;
    c.na.net.average = average;
    /* RETROPROP_TRAINER=general or small forces one of the trainer's two
     * paths, for the tests and benchmarks that compare them */
    {
        const char *path = getenv("RETROPROP_TRAINER");
        c.na.net.path = path == NULL                  ? RP_PATH_AUTO
                        : strcmp(path, "general") == 0 ? RP_PATH_GENERAL
                        : strcmp(path, "small") == 0   ? RP_PATH_SMALL
                                                       : RP_PATH_AUTO;
    }
    hdim = epochs;
    if ((history = PyArray_ZEROS(1, &hdim, NPY_DOUBLE, 0)) == NULL) {
        rpb_add_context("MLP.fit", "cannot allocate the loss history of every epoch");
        goto error;
    }
    {
        double *h = (double *)PyArray_DATA((PyArrayObject *)history);
        PyThreadState *tstate = PyEval_SaveThread();
        status = c.na.typenum == NPY_FLOAT
                     ? rp_net_fit_f32(&c.na.net, c.X, c.Y, epochs, batch, shuffle, seed,
                                      resume, h, check_signals, &tstate, &done)
                     : rp_net_fit_f64(&c.na.net, c.X, c.Y, epochs, batch, shuffle, seed,
                                      resume, h, check_signals, &tstate, &done);
        PyEval_RestoreThread(tstate);
    }
    if (status == RP_NOMEM) {
        const Py_ssize_t nb = (Py_ssize_t)(batch > 0 && batch < c.X.rows ? batch : c.X.rows);
        if (shuffle) {
            PyErr_Format(PyExc_MemoryError, "MLP.fit: out of memory for the shuffled order of "
                         "the %zd samples and the scratch arrays of a batch of %zd",
                         (Py_ssize_t)c.X.rows, nb);
        }
        else {
            PyErr_Format(PyExc_MemoryError, "MLP.fit: out of memory for the scratch arrays of "
                         "a batch of %zd samples", nb);
        }
        goto error;
    }
    if (status == RP_INTERRUPTED) {
        /* KeyboardInterrupt (or what the SIGINT handler raised) is set; the last
         * update was complete. The exception carries the finished epochs' losses. */
        interrupted_history(history, done);
        goto error;
    }
    if (status == RP_UNSUPPORTED) {
        PyErr_SetString(PyExc_RuntimeError, "MLP.fit: RETROPROP_TRAINER=small, but this fit "
                                            "does not take the small-network path");
        goto error;
    }
    net_end(&c);
    return history;
error:
    Py_XDECREF(history);
    net_end(&c);
    return NULL;
}

static PyObject *py_net_gradients(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"weights", "biases", "X", "Y", "dweights", "dbiases", "layout",
                             "activation", "output_activation", "loss", "average", NULL};
    PyObject *dweights, *dbiases;
    net_spec s;
    net_call c;
    int average, grads;
    rp_net_work *w = NULL;
    double value = 0.0;
    (void)self;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO$ssssp:net_gradients", kwlist,
                                     &s.weights, &s.biases, &s.X, &s.Y, &dweights, &dbiases,
                                     &s.layout, &s.activation, &s.output_activation, &s.loss,
                                     &average)) {
        return NULL;
    }
    grads = dweights != Py_None;
    /* the gradients take the velocities' place */
    s.extra_w = grads ? dweights : NULL;
    s.extra_b = grads ? dbiases : NULL;
    s.extra_name = "dweights";
    s.extra_msg = "dweights and dbiases must be lists shaped like the weights and biases";
    if (net_begin(&c, &s) < 0) {
        goto error;
    }
    c.na.net.average = average;
    w = rp_net_work_new(&c.na.net, c.X.rows, 0, c.na.typenum == NPY_FLOAT);
    if (w == NULL) {
        PyErr_Format(PyExc_MemoryError, "MLP: out of memory for the scratch arrays of a "
                     "batch of %zd samples", (Py_ssize_t)c.X.rows);
        goto error;
    }
    {
        rp_view *dW = grads ? c.na.net.vW : NULL, *db = c.na.net.vb;
        RP_RUN((double)c.X.rows * (double)c.na.sizes[0] * (double)c.na.sizes[1],
               value = c.na.typenum == NPY_FLOAT
                           ? rp_net_gradients_f32(&c.na.net, c.X, c.Y, dW, db, w)
                           : rp_net_gradients_f64(&c.na.net, c.X, c.Y, dW, db, w));
    }
    rp_net_work_free(w);
    net_end(&c);
    return PyFloat_FromDouble(value);
error:
    rp_net_work_free(w);
    net_end(&c);
    return NULL;
}

static PyObject *py_net_forward(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"weights", "biases", "X", "layout", "activation",
                             "output_activation", NULL};
    PyObject *result = NULL;
    net_spec s;
    net_call c;
    rp_view *A = NULL;
    int l;
    (void)self;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO$sss:net_forward", kwlist, &s.weights,
                                     &s.biases, &s.X, &s.layout, &s.activation,
                                     &s.output_activation)) {
        return NULL;
    }
    /* any loss that goes with the output activation: forward does not use it */
    s.loss = strcmp(s.output_activation, "softmax") == 0   ? "ce"
             : strcmp(s.output_activation, "sigmoid") == 0 ? "bce" : "mse";
    if (net_begin(&c, &s) < 0) {
        goto error;
    }
    A = PyMem_Calloc((size_t)c.na.net.nlayers, sizeof(rp_view));
    result = PyList_New(c.na.net.nlayers);
    if (A == NULL || result == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (l = 0; l < c.na.net.nlayers; l++) {
        npy_intp dims[2];
        PyArrayObject *a;
        dims[c.na.cols ? 1 : 0] = c.X.rows;
        dims[c.na.cols ? 0 : 1] = c.na.sizes[l + 1];
        a = rpb_new_result("MLP.forward", 2, dims, c.na.typenum);
        if (a == NULL) {
            goto error;
        }
        PyList_SET_ITEM(result, l, (PyObject *)a);
        A[l] = rpb_view_of(a, 1);
        if (c.na.cols) {
            rp_index t = A[l].rows;
            A[l].rows = A[l].cols;
            A[l].cols = t;
            t = A[l].s0;
            A[l].s0 = A[l].s1;
            A[l].s1 = t;
        }
    }
    RP_RUN((double)c.X.rows * (double)c.na.sizes[0] * (double)c.na.sizes[1],
           RP_DISPATCH(c.na.typenum, rp_net_forward, (&c.na.net, c.X, A)));
    PyMem_Free(A);
    net_end(&c);
    return result;
error:
    PyMem_Free(A);
    Py_XDECREF(result);
    net_end(&c);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* This file's functions (module.c adds them to the module)                  */

PyMethodDef rpb_network_methods[] = {
    {"net_forward", (PyCFunction)(void (*)(void))py_net_forward, METH_VARARGS | METH_KEYWORDS,
     "Private: the activations of every layer of an MLP (see retroprop.MLP.forward)."},
    {"net_gradients", (PyCFunction)(void (*)(void))py_net_gradients, METH_VARARGS | METH_KEYWORDS,
     "Private: an MLP's loss and gradients (see retroprop.MLP.backward)."},
    {"net_fit", (PyCFunction)(void (*)(void))py_net_fit, METH_VARARGS | METH_KEYWORDS,
     "Private: an MLP's whole training loop in C (see retroprop.MLP.fit)."},
    {NULL, NULL, 0, NULL},
};
