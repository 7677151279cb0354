/*
 * network.c - the network entry points behind retroprop.MLP (network.py):
 * net_fit, net_gradients and net_forward marshal the lists of parameters
 * and one configuration dict into an rp_net and rp_fit (rp_net.h) and run
 * its C loops:
 *
 *   net_forward(weights, biases, X, config)
 *   net_gradients(weights, biases, X, Y, dweights, dbiases, config)
 *   net_fit(weights, biases, X, Y, config, state)
 *
 * config holds every setting by name (net_keys below lists them and which
 * call reads each); state the optimiser's arrays, which fit updates.
 */
#include "binding.h" /* first: it includes Python.h */

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A network's parameters as rp_views with samples as rows, its fit's
 * configuration, and the references that keep its arrays alive while the
 * GIL is released. */
typedef struct {
    rp_net net;
    rp_fit fit;
    rp_index *sizes;
    rp_view *views; /* W, b, vW, vb, sW, sb: 6 * nlayers */
    rp_activation *acts; /* nlayers */
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
    PyMem_Free(na->acts);
    PyMem_Free(na->held);
}

/* The registry's entry of a loss (the rules of which loss goes with which
 * output live in python/retroprop/registry.py, the one place; here only the
 * name is looked up). */
static int parse_loss(const char *name, const rp_loss_info **loss)
{
    *loss = rp_loss_find(name);
    if (*loss == NULL) {
        PyErr_Format(PyExc_ValueError, "unknown loss '%s' (the losses are those of "
                     "retroprop.registry.LOSSES)", name);
        return -1;
    }
    return 0;
}

/* 1 if every weight is a 2-D array and each layer's outputs are the next
 * one's inputs in the layout `cols` (0 rows, 1 cols). */
static int weights_chain(PyObject *const *W, Py_ssize_t n, int cols)
{
    Py_ssize_t l;
    for (l = 0; l < n; l++) {
        if (!PyArray_Check(W[l]) || PyArray_NDIM((PyArrayObject *)W[l]) != 2) {
            return 0;
        }
        if (l > 0 && PyArray_DIM((PyArrayObject *)W[l], cols ? 1 : 0) !=
                         PyArray_DIM((PyArrayObject *)W[l - 1], cols ? 0 : 1)) {
            return 0;
        }
    }
    return 1;
}

/* "; did you mean layout='cols'?" when the weights chain in the other layout. */
static const char *other_layout_hint(PyObject *const *W, Py_ssize_t n, int cols)
{
    if (!weights_chain(W, n, !cols)) {
        return "";
    }
    return cols ? "; they would chain with samples as rows (W (in, out)): did you mean "
                  "layout='rows'?"
                : "; they would chain with samples as columns (W (out, in)): did you mean "
                  "layout='cols'?";
}

/* The entry points a configuration key is for. */
enum { FOR_FORWARD = 1, FOR_GRADIENTS = 2, FOR_FIT = 4 };

/* Every key a configuration dict may hold (each call reads the ones it
 * needs): any other (a misspelt key) is an error, not silently ignored. */
static const char *const net_keys[] = {
    /* every call */
    "layout", "activations",
    /* net_gradients and net_fit */
    "loss", "average", "eps", "l2", "l2_per_batch", "decay_biases",
    /* net_fit: the optimiser, its schedule, the batches */
    "lr", "optimizer", "momentum", "nesterov", "beta1", "beta2", "adam_eps", "weight_decay",
    "schedule", "gamma", "step_size", "lr_decay", "epochs", "batching", "batch_size", "seed",
    "batch_indices", "batch_bounds", NULL,
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

/* The configuration's keys checked against net_keys, and its names: the
 * layout, the activations (a list or tuple of names, one per layer,
 * borrowed from the dict) and (but for net_forward) the loss. */
static int config_names(PyObject *config, const char *fn, int calls, const char **layout,
                        PyObject **activations, const char **loss)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(config, &pos, &key, &value)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        int k;
        if (name == NULL) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: the configuration's keys must be str", fn);
            return -1;
        }
        for (k = 0; net_keys[k] != NULL && strcmp(name, net_keys[k]) != 0; k++) {
        }
        if (net_keys[k] == NULL) {
            PyErr_Format(PyExc_ValueError, "%s: unknown configuration key '%s'", fn, name);
            return -1;
        }
    }
    if (config_str(config, fn, "layout", NULL, layout) < 0 ||
        (*activations = config_item(config, fn, "activations", 1)) == NULL) {
        return -1;
    }
    if (!PyList_CheckExact(*activations) && !PyTuple_CheckExact(*activations)) {
        PyErr_Format(PyExc_TypeError, "%s: 'activations' must be a list of names, one per "
                     "layer, got %s", fn, Py_TYPE(*activations)->tp_name);
        return -1;
    }
    if (calls == FOR_FORWARD) {
        *loss = rp_losses[0].name; /* forward does not use it */
        return 0;
    }
    return config_str(config, fn, "loss", NULL, loss);
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
            config_double(config, fn, "eps", 0.0, 0.0, &net->eps) < 0 ||
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
        config_index(config, fn, "epochs", -1, 0, &fit->epochs) < 0) {
        return -1;
    }
    {
        /* batch_size: 0 (all n), or at least 1; more than there can be samples:
         * one batch of all of them */
        PyObject *b = config_item(config, fn, "batch_size", 0);
        if (b != NULL) {
            int overflow = 0;
            long long v;
            if (!PyLong_Check(b) || PyBool_Check(b)) {
                PyErr_Format(PyExc_TypeError, "%s: batch_size must be an int, got %s", fn,
                             Py_TYPE(b)->tp_name);
                return -1;
            }
            v = PyLong_AsLongLongAndOverflow(b, &overflow);
            if (v == -1 && PyErr_Occurred()) {
                return -1;
            }
            if (overflow < 0 || (overflow == 0 && v < 0)) {
                PyErr_Format(PyExc_ValueError, "%s: batch_size must be None or at least 1", fn);
                return -1;
            }
            fit->batch = overflow > 0 || v > (long long)PY_SSIZE_T_MAX ? 0 : (rp_index)v;
        }
    }
    {
        /* an int, in [0, 2**64): no float truncated, nothing reduced mod 2**64 */
        PyObject *seed = config_item(config, fn, "seed", 0);
        if (seed != NULL) {
            if (!PyLong_Check(seed) || PyBool_Check(seed)) {
                PyErr_Format(PyExc_TypeError, "%s: seed must be None or an integer in "
                             "[0, 2**64), got %s", fn, Py_TYPE(seed)->tp_name);
                return -1;
            }
            fit->seed = (uint64_t)PyLong_AsUnsignedLongLong(seed);
            if (fit->seed == (uint64_t)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "%s: seed must be None or an integer in "
                             "[0, 2**64), got %R", fn, seed);
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
        !PyArray_ISNOTSWAPPED(a) || !PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_TypeError, "%s[%d] has dtype %S; the network's arrays are trained "
                     "in place, so each must be an aligned float32 or float64 array of native "
                     "byte order (convert it first, e.g. W.astype(np.float64))", what, l,
                     (PyObject *)PyArray_DESCR(a));
        return -1;
    }
    if (PyArray_TYPE(a) != na->typenum) {
        /* weights[0] sets the network's dtype; name both */
        const char *first = na->typenum == NPY_FLOAT ? "float32" : "float64";
        const char *mine = PyArray_TYPE(a) == NPY_FLOAT ? "float32" : "float64";
        PyErr_Format(PyExc_TypeError, "%s[%d] has dtype %s but weights[0] has dtype %s, which "
                     "sets the network's dtype: every parameter must be %s (convert them all "
                     "with .astype(np.%s), or all with .astype(np.%s))", what, l, mine, first,
                     first, first, mine);
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
    PyObject **W, **b;   /* b NULL without biases */
    PyObject **x[4];     /* extra lists, NULL when absent: gradients or velocities of W
                          * and b, then Adam's second moments of W and b */
    Py_ssize_t nW, nb, nx[4];
} net_lists;

/* Fill na from the unpacked lists of weights and biases (and the extra
 * lists shaped like them, into vW, vb, sW, sb). */
static int parse_net(net_args *na, const net_lists *ls, const char *const *extra_names,
                     const char *layout, PyObject *activations, const char *loss,
                     int writeable)
{
    Py_ssize_t L = ls->nW, l;
    int i;
    na->typenum = -1;
    if (rpb_parse_layout(layout, "MLP", &na->cols) < 0 || parse_loss(loss, &na->net.loss) < 0) {
        return -1;
    }
    if (PySequence_Fast_GET_SIZE(activations) != L) {
        PyErr_Format(PyExc_TypeError, "activations must be a list of %zd names, one per layer",
                     L);
        return -1;
    }
    na->net.nlayers = (int)L;
    na->sizes = PyMem_Calloc((size_t)L + 1, sizeof(rp_index));
    na->views = PyMem_Calloc(6 * (size_t)L, sizeof(rp_view));
    na->acts = PyMem_Calloc((size_t)L, sizeof(rp_activation));
    na->held = PyMem_Calloc(6 * (size_t)L, sizeof(PyArrayObject *));
    if (na->sizes == NULL || na->views == NULL || na->acts == NULL || na->held == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (l = 0; l < L; l++) {
        /* an exact str: PyUnicode_AsUTF8 runs no Python code */
        PyObject *item = PySequence_Fast_GET_ITEM(activations, l);
        const char *name = PyUnicode_CheckExact(item) ? PyUnicode_AsUTF8(item) : NULL;
        if (name == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "activations[%zd] must be a name (str), got %s",
                             l, Py_TYPE(item)->tp_name);
            }
            return -1;
        }
        if (rpb_parse_activation(name, "MLP", &na->acts[l]) < 0) {
            return -1;
        }
    }
    na->net.act = na->acts;
    na->net.sizes = na->sizes;
    na->net.W = na->views;
    na->net.b = na->views + L;
    na->net.vW = na->views + 2 * L;
    na->net.vb = na->views + 3 * L;
    na->net.sW = na->views + 4 * L;
    na->net.sb = na->views + 5 * L;
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
                         "outputs but weights[%zd] %s has %zd inputs (layout='%s')%s", l - 1,
                         prev, (Py_ssize_t)na->sizes[l], l, cur, (Py_ssize_t)n_in, layout,
                         other_layout_hint(ls->W, ls->nW, na->cols));
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
        for (i = 0; i < 4; i++) {
            rp_view *views = i == 0 ? na->net.vW : i == 1 ? na->net.vb : i == 2 ? na->net.sW
                                                                                 : na->net.sb;
            /* without biases (seeds 001, 002) there are no bias gradients or state */
            if (ls->x[i] == NULL || (i % 2 == 1 && b == Py_None)) {
                continue;
            }
            if (net_array(na, ls->x[i][l], extra_names[i], (int)l, i % 2, in, out, 1,
                          &views[l]) < 0) {
                return -1;
            }
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
static int net_data(net_args *na, const net_lists *ls, PyArrayObject **in, rp_cview *X,
                    rp_cview *Y)
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
            /* X would fit the other layout (and the weights chain in it): say so */
            const PyArrayObject *w0 = (PyArrayObject *)ls->W[0];
            const int other_fits = k == 0 && PyArray_NDIM(a) == 2 &&
                                   PyArray_DIM(a, na->cols ? 1 : 0) ==
                                       PyArray_DIM(w0, na->cols ? 0 : 1) &&
                                   weights_chain(ls->W, ls->nW, !na->cols);
            /* or its transpose fits this layout */
            const int transposed_fits = k == 0 && !other_fits && PyArray_NDIM(a) == 2 &&
                                        PyArray_DIM(a, na->cols ? 1 : 0) == widths[0];
            RP_SHAPE(a, got);
            PyErr_Format(PyExc_ValueError, "%s has shape %s; the network expects %s of shape %s: "
                         "a %s per sample%s, a %s per %s (layout='%s')%s", names[k], got, names[k],
                         want, sample, k == 1 ? " of X" : "", feature, k == 1 ? "output" : "input",
                         na->cols ? "cols" : "rows",
                         other_fits ? (na->cols ? "; it fits samples as rows: did you mean "
                                                  "layout='rows'?"
                                                : "; it fits samples as columns: did you "
                                                  "mean layout='cols'?")
                         : transposed_fits ? "; its transpose fits: did you mean X.T?" : "");
            return -1;
        }
        *views[k] = rpb_cview_of(a, 1);
        if (na->cols) {
            *views[k] = rp_cview_transposed(*views[k]);
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

/* What every network entry point takes: the caller's lists and config. */
typedef struct {
    const char *fn;              /* "MLP.fit", "MLP": for messages */
    int calls;                   /* FOR_FORWARD, FOR_GRADIENTS or FOR_FIT */
    PyObject *weights, *biases;  /* lists of arrays (biases may be None) */
    PyObject *config;            /* the dict of settings (net_keys) */
    PyObject *extra[4];          /* NULL, or lists shaped like the weights and biases
                                  * (gradients; or velocities, then second moments) */
    const char *const *extra_names; /* what the extra lists are, for messages */
    const char *extra_msg;       /* the error when they are not shaped like them */
    PyObject *X, *Y;             /* the data; Y NULL when not needed */
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
 * list subclass) has run; then the configuration's names, the parameters,
 * the data and the configuration's numbers are checked. -1 with an error
 * set; call net_end either way. */
static int net_begin(net_call *c, const net_spec *s)
{
    net_lists *ls = &c->lists;
    const char *layout, *loss = NULL;
    PyObject *activations = NULL;
    int i;
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
        ls->b = rpb_unpack(s->biases, -1, "MLP", "biases", "None or a list of arrays", &ls->nb);
        if (ls->b == NULL) {
            return -1;
        }
        if (ls->nb != ls->nW) {
            PyErr_Format(PyExc_TypeError, "biases must be None or a list of %zd arrays, got %zd",
                         ls->nW, ls->nb);
            return -1;
        }
    }
    for (i = 0; i < 4; i += 2) {
        PyObject *ew = s->extra[i], *eb = s->extra[i + 1];
        if (ew == NULL) {
            continue;
        }
        if (!(PyTuple_Check(ew) || PyList_Check(ew)) ||
            (s->biases != Py_None && eb != NULL && !(PyTuple_Check(eb) || PyList_Check(eb)))) {
            PyErr_SetString(PyExc_ValueError, s->extra_msg);
            return -1;
        }
        ls->x[i] = rpb_unpack(ew, -1, "MLP", s->extra_names[i], "a list", &ls->nx[i]);
        if (ls->x[i] == NULL) {
            return -1;
        }
        if (s->biases != Py_None && eb != NULL) {
            ls->x[i + 1] = rpb_unpack(eb, -1, "MLP", s->extra_names[i + 1], "a list",
                                      &ls->nx[i + 1]);
            if (ls->x[i + 1] == NULL) {
                return -1;
            }
        }
        if (ls->nx[i] != ls->nW || (s->biases != Py_None && ls->nx[i + 1] != ls->nW)) {
            PyErr_SetString(PyExc_ValueError, s->extra_msg);
            return -1;
        }
    }
    if ((c->in[0] = rpb_to_array(s->X, "MLP", "X")) == NULL ||
        (s->Y != NULL && (c->in[1] = rpb_to_array(s->Y, "MLP", "Y")) == NULL)) {
        return -1;
    }
    /* no Python code from here on: check what was converted */
    if (config_names(s->config, s->fn, s->calls, &layout, &activations, &loss) < 0 ||
        parse_net(&c->na, ls, s->extra_names, layout, activations, loss, s->calls == FOR_FIT) < 0 ||
        net_data(&c->na, ls, c->in, &c->X, &c->Y) < 0) {
        return -1;
    }
    return net_config(&c->na, s->config, s->fn, s->calls, c->X.rows);
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
    rpb_unpack_free(c->lists.x[0], c->lists.nx[0]);
    rpb_unpack_free(c->lists.x[1], c->lists.nx[1]);
    rpb_unpack_free(c->lists.x[2], c->lists.nx[2]);
    rpb_unpack_free(c->lists.x[3], c->lists.nx[3]);
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

/* A small state array of the fit (counters: [updates, epochs]; shuffle_state:
 * [generator state, order of the n samples], see rp_fit's resume): exact ndarray, 1-D, `n` values of `typenum`,
 * C-contiguous, writeable, sharing no memory with the network or the data. */
static int fit_state_array(net_call *c, PyObject *state, const char *key, int typenum,
                           rp_index n, const char *count, void **out)
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
        PyErr_Format(PyExc_ValueError, "MLP.fit: %s must be a writeable C-contiguous %s "
                     "array of %s%zd values", key, typenum == NPY_INTP ? "intp" : "uint64",
                     count, (Py_ssize_t)n);
        return -1;
    }
    for (k = 0; k < c->na.nheld + 2; k++) {
        if (rpb_may_overlap(a, k < c->na.nheld ? c->na.held[k] : c->in[k - c->na.nheld])) {
            PyErr_Format(PyExc_ValueError, "MLP.fit: %s shares memory with the network's "
                         "arrays or the data", key);
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
    /* the optimiser's state: velocities (or Adam's first moments), then its second moments */
    static const char *const state_keys[] = {"vweights", "vbiases", "sweights", "sbiases"};
    PyObject *config, *state_arg, *state = NULL, *history = NULL;
    net_spec s;
    net_call c;
    int status, i;
    npy_intp hdim;
    void *counters, *resume;
    rp_index done = 0;
    (void)self;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTuple(args, "OOOOO!O!:net_fit", &s.weights, &s.biases, &s.X, &s.Y,
                          &PyDict_Type, &config, &PyDict_Type, &state_arg)) {
        return NULL;
    }
    /* our own copies of the dicts: the arrays the loop uses with the GIL
     * released (counters, shuffle_state, batch_indices, the state's lists)
     * stay referenced whatever other code does to the caller's dicts */
    s.config = PyDict_Copy(config);
    state = PyDict_Copy(state_arg);
    if (s.config == NULL || state == NULL) {
        goto error;
    }
    for (i = 0; i < 4; i++) {
        s.extra[i] = PyDict_GetItemString(state, state_keys[i]);
        s.extra[i] = s.extra[i] != Py_None ? s.extra[i] : NULL;
    }
    s.extra_names = extra_names;
    s.extra_msg = "MLP.fit: the optimiser's state must be lists shaped like the weights and "
                  "biases";
    s.fn = "MLP.fit";
    s.calls = FOR_FIT;
    if (net_begin(&c, &s) < 0 ||
        fit_state_array(&c, state, "counters", NPY_INTP, 2, "", &counters) < 0 ||
        fit_state_array(&c, state, "shuffle_state", NPY_UINT64, c.X.rows + 1, "n + 1 = ",
                        &resume) < 0) {
        goto error;
    }
    if (((c.na.net.momentum != 0.0 || c.na.net.optimizer == RP_OPT_ADAM) && s.extra[0] == NULL) ||
        (c.na.net.optimizer == RP_OPT_ADAM && s.extra[2] == NULL)) {
        PyErr_SetString(PyExc_ValueError, "MLP.fit: the optimiser needs its state: velocity "
                        "(and for Adam second-moment) lists shaped like the weights and biases");
        goto error;
    }
    if (resume != NULL) {
        const uint64_t *r = (const uint64_t *)resume;
        rp_index k;
        for (k = 1; k <= c.X.rows; k++) {
            if (r[k] >= (uint64_t)c.X.rows) {
                PyErr_Format(PyExc_ValueError, "MLP.fit: shuffle_state[%zd] is %llu, not a "
                             "sample index in [0, %zd)", (Py_ssize_t)k, (unsigned long long)r[k],
                             (Py_ssize_t)c.X.rows);
                goto error;
            }
        }
    }
    c.na.fit.counters = (rp_index *)counters;
    c.na.fit.resume = (uint64_t *)resume;
    /* RETROPROP_TRAINER=general or small forces one of the trainer's two
     * paths, for the tests and benchmarks that compare them */
    {
        const char *path = getenv("RETROPROP_TRAINER");
        c.na.net.path = path == NULL                  ? RP_PATH_AUTO
                        : strcmp(path, "general") == 0 ? RP_PATH_GENERAL
                        : strcmp(path, "small") == 0   ? RP_PATH_SMALL
                                                       : RP_PATH_AUTO;
    }
    hdim = c.na.fit.epochs;
    if ((history = PyArray_ZEROS(1, &hdim, NPY_DOUBLE, 0)) == NULL) {
        rpb_add_context("MLP.fit", "cannot allocate the loss history of every epoch");
        goto error;
    }
    c.na.fit.history = (double *)PyArray_DATA((PyArrayObject *)history);
    c.na.fit.epochs_done = &done;
    {
        PyThreadState *tstate = PyEval_SaveThread();
        c.na.fit.stop = check_signals;
        c.na.fit.ctx = &tstate;
        status = c.na.typenum == NPY_FLOAT ? rp_net_fit_f32(&c.na.net, c.X, c.Y, &c.na.fit)
                                           : rp_net_fit_f64(&c.na.net, c.X, c.Y, &c.na.fit);
        PyEval_RestoreThread(tstate);
    }
    if (status == RP_NOMEM) {
        const rp_index batch = c.na.fit.batch;
        const Py_ssize_t nb = (Py_ssize_t)(batch > 0 && batch < c.X.rows ? batch : c.X.rows);
        if (c.na.fit.batching == RP_BATCH_SHUFFLED) {
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
    Py_DECREF(s.config);
    Py_DECREF(state);
    return history;
error:
    Py_XDECREF(history);
    net_end(&c);
    Py_XDECREF(s.config);
    Py_XDECREF(state);
    return NULL;
}

static PyObject *py_net_gradients(PyObject *self, PyObject *args)
{
    static const char *const extra_names[] = {"dweights", "dbiases"};
    net_spec s;
    net_call c;
    int grads;
    rp_net_work *w = NULL;
    double value = 0.0;
    (void)self;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTuple(args, "OOOOOOO!:net_gradients", &s.weights, &s.biases, &s.X, &s.Y,
                          &s.extra[0], &s.extra[1], &PyDict_Type, &s.config)) {
        return NULL;
    }
    /* the gradients take the velocities' place */
    grads = s.extra[0] != Py_None;
    if (!grads) {
        s.extra[0] = s.extra[1] = NULL;
    }
    s.extra_names = extra_names;
    s.extra_msg = "dweights and dbiases must be lists shaped like the weights and biases";
    s.fn = "MLP";
    s.calls = FOR_GRADIENTS;
    if (net_begin(&c, &s) < 0) {
        goto error;
    }
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

static PyObject *py_net_forward(PyObject *self, PyObject *args)
{
    PyObject *result = NULL;
    net_spec s;
    net_call c;
    rp_view *A = NULL;
    int l;
    (void)self;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTuple(args, "OOOO!:net_forward", &s.weights, &s.biases, &s.X, &PyDict_Type,
                          &s.config)) {
        return NULL;
    }
    s.fn = "MLP";
    s.calls = FOR_FORWARD;
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
            A[l] = rp_view_transposed(A[l]);
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
