/*
 * module.c - the module _core: the ufuncs (thin loops over the elementwise
 * kernels; three per activation of the registry), _simd, _registry, and
 * PyInit__core, which imports NumPy's C API for every
 * binding file (see binding.h) and adds each file's functions.
 */
#define RP_BINDING_MODULE /* this file calls import_array / import_umath */
#include "binding.h"

/* ------------------------------------------------------------------------ */
/* ufunc loops: thin adapters from NumPy's loop signature to the kernels.   */

/* One loop for every unary ufunc: data points at the kernel, an entry of
 * the activation registry (rp_registry.c). */
static void loop_unary(char **args, npy_intp const *dims, npy_intp const *steps, void *data)
{
    (*(const rp_unary_fn *)data)(dims[0], args[0], steps[0], args[1], steps[1]);
}

static PyUFuncGenericFunction unary_loops[2] = {loop_unary, loop_unary};

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

RP_BINARY_UFUNC_LOOPS(sigmoid_bce_delta)
RP_BINARY_UFUNC_LOOPS(sigmoid_squared_error_delta)

/* The binary ufuncs: the output deltas of a sigmoid output. (The unary ones,
 * three per elementwise activation, come from the registry.) */
typedef struct {
    const char *name;
    PyUFuncGenericFunction loops[2]; /* float32, float64 */
    const char *doc;
} rp_ufunc_spec;

#define RP_LOOPS(name) { loop_##name##_f32, loop_##name##_f64 }

static rp_ufunc_spec ufunc_specs[] = {
    {"sigmoid_bce_delta", RP_LOOPS(sigmoid_bce_delta),
     "Output-layer delta dL/dz for a sigmoid output under binary "
     "cross-entropy (seed 000's dS2).\n\nNumPy: a - y"},
    {"sigmoid_squared_error_delta", RP_LOOPS(sigmoid_squared_error_delta),
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
/* _registry: the C tables of activations and losses, for the test that holds */
/* python/retroprop/registry.py to them                                       */

static PyObject *py_registry(PyObject *self, PyObject *args)
{
    PyObject *acts = PyTuple_New(rp_nactivations), *losses = PyTuple_New(rp_nlosses);
    int i;
    (void)self;
    (void)args;
    if (acts == NULL || losses == NULL) {
        goto error;
    }
    for (i = 0; i < rp_nactivations; i++) {
        const rp_activation_info *a = &rp_activations[i];
        PyObject *d = Py_BuildValue("{sssisOszsz}", "name", a->name, "id", (int)a->id,
                                    "elementwise", a->f[0] != NULL ? Py_True : Py_False,
                                    "prime", a->prime_name, "prime_from_activation",
                                    a->prime_from_activation_name);
        if (d == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(acts, i, d);
    }
    for (i = 0; i < rp_nlosses; i++) {
        const rp_loss_info *l = &rp_losses[i];
        PyObject *eps = l->eps >= 0 ? PyFloat_FromDouble(l->eps) : (Py_INCREF(Py_None), Py_None);
        PyObject *d = eps == NULL ? NULL
                      : Py_BuildValue("{sssssisdsOsN}", "name", l->name, "function",
                                      l->function, "id", (int)l->id, "squared_factor",
                                      l->squared_factor, "mean_over_entries",
                                      l->mean_over_entries ? Py_True : Py_False, "eps", eps);
        if (d == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(losses, i, d);
    }
    return Py_BuildValue("{sNsN}", "activations", acts, "losses", losses);
error:
    Py_XDECREF(acts);
    Py_XDECREF(losses);
    return NULL;
}

/* The three ufuncs of every elementwise activation of the registry. */
static int add_activation_ufuncs(PyObject *m)
{
    int i, k;
    for (i = 0; i < rp_nactivations; i++) {
        const rp_activation_info *a = &rp_activations[i];
        const rp_unary_fn *kernels[3];
        const char *names[3], *docs[3];
        if (a->f[0] == NULL) {
            continue; /* softmax: not elementwise */
        }
        kernels[0] = a->f, kernels[1] = a->prime, kernels[2] = a->prime_from_activation;
        names[0] = a->name, names[1] = a->prime_name, names[2] = a->prime_from_activation_name;
        docs[0] = a->doc, docs[1] = a->prime_doc, docs[2] = a->prime_from_activation_doc;
        for (k = 0; k < 3; k++) {
            /* data: the float32 and float64 kernels themselves, in the registry */
            void **data = (void **)PyMem_Malloc(2 * sizeof(void *));
            PyObject *f;
            if (data == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            data[0] = (void *)&kernels[k][0];
            data[1] = (void *)&kernels[k][1];
            /* the ufunc keeps data for the life of the process */
            f = PyUFunc_FromFuncAndData(unary_loops, data, unary_types, 2, 1, 1, PyUFunc_None,
                                        names[k], docs[k], 0);
            if (f == NULL || PyModule_AddObject(m, names[k], f) < 0) {
                Py_XDECREF(f);
                return -1;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* module                                                                    */

static PyMethodDef module_methods[] = {
    {"_registry", py_registry, METH_NOARGS,
     "Private: the C registry of activations and losses (rp_registry.c) as dicts, which "
     "tests/test_registry.py holds retroprop.registry to."},
    {"_simd", py_simd, METH_VARARGS,
     "Private: _simd(name=None) -> the name of the instruction set the elementwise maths "
     "ran on before the call (\"baseline\", \"avx2\", \"avx512f\"); with a name, run "
     "on that one from now on. Every choice gives the same bits; the tests check it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_core",
    "retroprop's C kernels (see the retroprop package for the documented API).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m = NULL;
    const char *large;
    size_t i;
    import_array();
    import_umath();
    rp_simd_select(NULL);
    m = PyModule_Create(&module_def);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddFunctions(m, rpb_layer_methods) < 0 ||
        PyModule_AddFunctions(m, rpb_loss_methods) < 0 ||
        PyModule_AddFunctions(m, rpb_network_methods) < 0 ||
        PyModule_AddFunctions(m, rpb_program_methods) < 0 ||
        PyModule_AddFunctions(m, module_methods) < 0 || rpb_add_losses(m) < 0 ||
        add_activation_ufuncs(m) < 0) {
        goto error;
    }
    for (i = 0; i < sizeof(ufunc_specs) / sizeof(ufunc_specs[0]); i++) {
        const rp_ufunc_spec *u = &ufunc_specs[i];
        PyObject *f = PyUFunc_FromFuncAndData(
            (PyUFuncGenericFunction *)u->loops, no_loop_data, binary_types, 2, 2, 1,
            PyUFunc_None, u->name, u->doc, 0);
        if (f == NULL || PyModule_AddObject(m, u->name, f) < 0) {
            Py_XDECREF(f);
            goto error;
        }
    }
    if (PyModule_AddIntConstant(m, "SMALL_GEMM_WORK", RP_SMALL_GEMM_WORK) < 0) {
        goto error;
    }
    /* large products on NumPy's own matmul loop (numpy_gemm.c) */
    large = rpb_register_numpy_gemm();
    if (large == NULL || PyModule_AddStringConstant(m, "LARGE_GEMM", large) < 0) {
        goto error;
    }
    return m;
error:
    Py_DECREF(m);
    return NULL;
}
