/*
 * binding.h - what the binding files share. The binding is the only code
 * that speaks the CPython and NumPy C APIs; it is split by concern:
 *   args.c     argument conversion and checks, error messages, out=, views
 *   layers.c   matmul, dense_forward, dense_backward, sgd_update
 *   losses.c   the losses (one per entry of the loss registry), softmax and
 *              its output delta under the cross-entropy
 *   network.c  net_fit, net_gradients, net_forward (behind retroprop.MLP)
 *   module.c   the ufuncs, the module's init, _simd
 *   numpy_gemm.c  large products on NumPy's own matmul loop
 *
 * Every entry point parses and checks every argument (dtype, ndim, shape,
 * writeability, overlap), allocates outputs or validates the caller's out=,
 * and only then calls the pure kernels of src/kernels/. Nothing is written
 * before every check has passed. float32 and float64 inputs are read in
 * place through their strides; other real dtypes (ints, bools, float16) are
 * cast to the result dtype, which is a copy.
 *
 * NumPy's C API is a table of pointers filled by import_array() and
 * import_umath(). module.c calls them and defines RP_BINDING_MODULE before
 * including this header; every other file sees the same table through
 * PY_ARRAY_UNIQUE_SYMBOL / PY_UFUNC_UNIQUE_SYMBOL with NO_IMPORT_ARRAY /
 * NO_IMPORT_UFUNC.
 */
#ifndef RP_BINDING_H
#define RP_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* NPY_NO_DEPRECATED_API and NPY_TARGET_VERSION come from setup.py, in step
 * with the runtime requirement numpy>=1.24 in pyproject.toml. */
#define PY_ARRAY_UNIQUE_SYMBOL retroprop_ARRAY_API
#define PY_UFUNC_UNIQUE_SYMBOL retroprop_UFUNC_API
#ifndef RP_BINDING_MODULE
#define NO_IMPORT_ARRAY
#define NO_IMPORT_UFUNC
#endif
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#include "rp_kernels.h"
#include "rp_net.h"
#include "rp_registry.h"

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
/* args.c: argument helpers. Each returns NULL / -1 with a Python error set. */

/* "(4, 3)" for an array of shape (4, 3); "(3,)" for a 1-D one. */
void rpb_shape_str(int ndim, const npy_intp *dims, char *buf, size_t size);

#define RP_SHAPE(arr, buf) rpb_shape_str(PyArray_NDIM(arr), PyArray_DIMS(arr), buf, sizeof(buf))

/* Put "fn: what: " before the message of a pending ValueError, TypeError,
 * OverflowError or MemoryError; other exceptions are left as they are. */
void rpb_add_context(const char *fn, const char *what);

/* A fresh result array, or NULL with an error naming fn and the shape. */
PyArrayObject *rpb_new_result(const char *fn, int ndim, const npy_intp *dims, int typenum);

/* 0 if a product of (m, k) and (k, n) has at most NPY_MAX_INTP multiply-adds,
 * else -1 with a ValueError naming the arrays a and b. */
int rpb_check_work(const char *fn, npy_intp m, npy_intp n, npy_intp k, const char *a_name,
                   PyArrayObject *a, const char *b_name, PyArrayObject *b);

/* obj as an ndarray of a real numeric dtype (no cast yet): a new reference. */
PyArrayObject *rpb_to_array(PyObject *obj, const char *fn, const char *arg);

/* The dtype the kernels run in: float32 if NumPy's result type of the inputs
 * is float16 or float32, else float64; -1 with an error. */
int rpb_result_typenum(PyArrayObject **arrs, int n);

/* Replace *arr by itself when it is aligned, native and of dtype typenum,
 * else by a cast copy. */
int rpb_cast_in_place(PyArrayObject **arr, int typenum);

/* 1 if the memory of a and b may overlap (bounds test; empty never does). */
int rpb_may_overlap(PyArrayObject *a, PyArrayObject *b);

/* 1 if obj is a numpy.ma.MaskedArray; -1 with a TypeError naming fn and what
 * if it is one (retroprop would ignore the mask, so it refuses it). */
int rpb_is_masked(PyObject *obj);
int rpb_refuse_masked(PyObject *obj, const char *fn, const char *what);
int rpb_refuse_masked_output(PyObject *obj, const char *fn, const char *what);

/* 1 if two elements of a may share memory (a zero stride, interleaved
 * strides); -1 with a ValueError for such an array that would be written. */
int rpb_self_overlaps(PyArrayObject *a);
int rpb_refuse_self_overlap(PyArrayObject *a, const char *fn, const char *what);

/* The items of a tuple or list as owned references (a PyMem array; a
 * subclass is read by PySequence_Fast with its own size, not its __len__);
 * NULL with a TypeError "fn: what must be <expected>, got ...". n_want >= 0
 * demands that many. Free with rpb_unpack_free. */
PyObject **rpb_unpack(PyObject *seq, Py_ssize_t n_want, const char *fn, const char *what,
                      const char *expected, Py_ssize_t *n);
void rpb_unpack_free(PyObject **items, Py_ssize_t n);

/* Step one of every entry point: every argument as what it will be used as,
 * before anything is checked. Inputs become base-class ndarrays (casts come
 * later and run no Python code); out= (one array, or a tuple/list of nout)
 * becomes owned references. Every piece of Python code an argument can run
 * (__array__, __len__, __iter__, __index__, a list subclass) runs inside
 * rpb_convert and none after it, so what the entry point checks next stays
 * true up to the kernel. Then: check, cast, rpb_output, run, rpb_release. */
#define RPB_MAX_ARGS 4
typedef struct {
    const char *fn;
    int nin, nout;
    PyArrayObject *in[RPB_MAX_ARGS]; /* the inputs; NULL for an absent one */
    PyObject *out[RPB_MAX_ARGS];     /* the out= entries; NULL for None */
} rpb_args;

/* objs[i] NULL: an absent optional input. -1 with an error; call
 * rpb_release either way. */
int rpb_convert(rpb_args *a, const char *fn, int nin, PyObject *const *objs,
                const char *const *names, PyObject *out, int nout);
void rpb_release(rpb_args *a);

/* The out= array if given (validated, checked against the inputs for
 * overlap), else a fresh array; a new reference or NULL. */
PyArrayObject *rpb_output(PyObject *given, const char *fn, const char *what, int typenum,
                          int ndim, const npy_intp *dims, int alt_ndim,
                          const npy_intp *alt_dims, PyArrayObject **inputs, int ninputs);

/* layout 'rows' -> 0, 'cols' -> 1; activation names -> rp_activation (by the
 * registry, rp_registry.h: softmax too). */
int rpb_parse_layout(const char *name, const char *fn, int *cols);
int rpb_parse_activation(const char *name, const char *fn, rp_activation *act);

/* 2-D views of an array of ndim <= 2. A 1-D array is one row (as_row) or
 * one column; a 0-d array is 1x1. */
rp_cview rpb_cview_of(PyArrayObject *a, int as_row);
rp_view rpb_view_of(PyArrayObject *a, int as_row);

/* C = alpha * (A @ B), with the GIL released when the work is large. */
void rpb_product(double alpha, rp_cview A, rp_cview B, rp_view C, int typenum);

/* ------------------------------------------------------------------------ */
/* numpy_gemm.c                                                              */

/* Find np.matmul's float32 and float64 loops and register them with the
 * kernels (rp_set_large_gemm) for large products. module.c calls it once,
 * after import_array(). Returns what large products run on: "numpy.matmul",
 * or "retroprop" when this NumPy's matmul is not the gufunc we know (every
 * product then stays in our loop); NULL with a Python error set if
 * numpy.matmul cannot be looked up. */
const char *rpb_register_numpy_gemm(void);

/* ------------------------------------------------------------------------ */
/* The module's functions, one table per file (module.c adds them).          */

extern PyMethodDef rpb_layer_methods[];   /* layers.c */
extern PyMethodDef rpb_loss_methods[];    /* losses.c */
extern PyMethodDef rpb_network_methods[]; /* network.c */
extern PyMethodDef rpb_program_methods[]; /* program.c: the capture interpreter */

/* losses.c: one function per entry of rp_losses (bce, cross_entropy, mse...). */
int rpb_add_losses(PyObject *module);

#endif /* RP_BINDING_H */
