/*
 * module.c - the module _core: the ufuncs (thin loops over the elementwise
 * kernels), _simd, and PyInit__core, which imports NumPy's C API for every
 * binding file (see binding.h) and adds each file's functions.
 */
#define RP_BINDING_MODULE /* this file calls import_array / import_umath */
#include "binding.h"

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

static PyMethodDef module_methods[] = {
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
        PyModule_AddFunctions(m, rpb_network_methods) < 0 ||
        PyModule_AddFunctions(m, rpb_program_methods) < 0 ||
        PyModule_AddFunctions(m, module_methods) < 0) {
        goto error;
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
