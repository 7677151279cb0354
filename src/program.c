/*
 * program.c - the binding of the capture interpreter (src/kernels/rp_program.h):
 * _program_new builds a program from a table of operations that
 * retroprop/capture.py wrote, checking every operand against the array it
 * points into; _program_run runs it for a number of iterations with the GIL
 * released.
 */
#include "binding.h" /* first: it includes Python.h */

#include "rp_program.h"

/* The columns of one row of the operations table (capture.py: _TABLE). */
enum {
    COL_KIND = 0,
    COL_NARGS = 1,
    COL_SLOT = 2,      /* 3 columns */
    COL_OFFSET = 5,    /* 3 */
    COL_ITER_STEP = 8, /* 3 */
    COL_PERIOD = 11,
    COL_DIM = 12,      /* 3 */
    COL_STRIDE = 15,   /* 3 x 2 */
    COL_ITEMSIZE = 21,
    NCOLS = 22
};

typedef struct {
    rp_program prog;
    rp_program_op *ops;
    char **base;
    PyObject *keep;        /* (slots, loops): what the program points into */
    rp_index iterations;   /* iteration numbers run may take: [0, iterations) */
    rp_index position;     /* one past the last iteration completed */
} rpb_program;

static const char *capsule_name = "retroprop._program";

static void program_free(PyObject *capsule)
{
    rpb_program *p = (rpb_program *)PyCapsule_GetPointer(capsule, capsule_name);
    if (p == NULL) {
        PyErr_Clear();
        return;
    }
    PyMem_Free(p->ops);
    PyMem_Free(p->base);
    Py_XDECREF(p->keep);
    PyMem_Free(p);
}

/* The byte range [lo, hi) that a view of ndim dims/strides touches from its
 * start; 0 with an empty range when it touches nothing. */
static int extent(int ndim, const rp_index *dims, const rp_index *strides, rp_index itemsize,
                  rp_index *lo, rp_index *hi)
{
    int d;
    *lo = 0;
    *hi = itemsize;
    for (d = 0; d < ndim; d++) {
        if (dims[d] == 0) {
            *hi = 0;
            return 0;
        }
        if (strides[d] < 0) {
            *lo += (dims[d] - 1) * strides[d];
        }
        else {
            *hi += (dims[d] - 1) * strides[d];
        }
    }
    return 1;
}

/* The dims of operand a of op, in order with op->stride[a]; returns ndim. */
static int operand_dims(const rp_program_op *op, int a, rp_index *dims)
{
    switch (op->kind) {
    case RP_PROGRAM_GEMM_F32:
    case RP_PROGRAM_GEMM_F64:
        dims[0] = op->dim[a == 1 ? 1 : 0];
        dims[1] = op->dim[a == 0 ? 1 : 2];
        return 2;
    case RP_PROGRAM_SUM_F32:
    case RP_PROGRAM_SUM_F64:
        dims[0] = op->dim[0];
        dims[1] = op->dim[1];
        return a == 0 ? 2 : 1;
    default:
        dims[0] = op->dim[0];
        dims[1] = op->dim[1];
        return 2;
    }
}

/* The dtype operand a of op must have, or -1 for "any of that itemsize". */
static int operand_type(const rp_program_op *op, PyUFuncObject *uf, Py_ssize_t type_index, int a)
{
    switch (op->kind) {
    case RP_PROGRAM_LOOP:
        return (int)uf->types[type_index * uf->nargs + a];
    case RP_PROGRAM_GEMM_F32:
    case RP_PROGRAM_SUM_F32:
        return NPY_FLOAT;
    case RP_PROGRAM_GEMM_F64:
    case RP_PROGRAM_SUM_F64:
        return NPY_DOUBLE;
    case RP_PROGRAM_CAST_F64_F32:
        return a == 0 ? NPY_DOUBLE : NPY_FLOAT;
    case RP_PROGRAM_CAST_F32_F64:
        return a == 0 ? NPY_FLOAT : NPY_DOUBLE;
    case RP_PROGRAM_ARITH:
        return op->itemsize == 4 ? NPY_FLOAT : NPY_DOUBLE;
    default:
        return -1;
    }
}

static int op_nargs(int kind)
{
    switch (kind) {
    case RP_PROGRAM_GEMM_F32:
    case RP_PROGRAM_GEMM_F64:
        return 3;
    case RP_PROGRAM_COPY:
    case RP_PROGRAM_SUM_F32:
    case RP_PROGRAM_SUM_F64:
    case RP_PROGRAM_CAST_F64_F32:
    case RP_PROGRAM_CAST_F32_F64:
        return 2;
    default:
        return -1; /* RP_PROGRAM_LOOP: the ufunc's; RP_PROGRAM_ARITH: by operation */
    }
}

/* Check operation i (its operands inside their slots, their dtypes, the
 * output writeable); 0, or -1 with a ValueError. */
static int check_op(const rp_program_op *op, Py_ssize_t i, PyObject *slots, PyObject *loop,
                    rp_index iterations)
{
    int a, expected;
    PyUFuncObject *uf = NULL;
    Py_ssize_t type_index = -1;
    if (op->kind < RP_PROGRAM_LOOP || op->kind > RP_PROGRAM_ARITH) {
        PyErr_Format(PyExc_ValueError, "_program_new: operation %zd has no kind %d", i, op->kind);
        return -1;
    }
    if (op->kind == RP_PROGRAM_LOOP) {
        if (!PyTuple_Check(loop) || PyTuple_GET_SIZE(loop) != 2 ||
            !PyObject_TypeCheck(PyTuple_GET_ITEM(loop, 0), &PyUFunc_Type)) {
            PyErr_Format(PyExc_ValueError,
                         "_program_new: operation %zd needs (ufunc, loop index)", i);
            return -1;
        }
        uf = (PyUFuncObject *)PyTuple_GET_ITEM(loop, 0);
        type_index = PyLong_AsSsize_t(PyTuple_GET_ITEM(loop, 1));
        if (type_index == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (type_index < 0 || type_index >= uf->ntypes || uf->functions == NULL ||
            uf->functions[type_index] == NULL || uf->nargs != op->nargs ||
            uf->nargs > RP_PROGRAM_MAXARGS || uf->core_enabled) {
            PyErr_Format(PyExc_ValueError,
                         "_program_new: operation %zd: no elementwise loop %zd with %d operands",
                         i, type_index, op->nargs);
            return -1;
        }
    }
    else if (op->kind == RP_PROGRAM_ARITH) {
        if (op->dim[2] < RP_ARITH_ADD || op->dim[2] > RP_ARITH_NEGATIVE ||
            op->nargs != (op->dim[2] == RP_ARITH_NEGATIVE ? 2 : 3) ||
            (op->itemsize != 4 && op->itemsize != 8)) {
            PyErr_Format(PyExc_ValueError, "_program_new: operation %zd: no arithmetic %zd "
                         "with %d operands", i, (Py_ssize_t)op->dim[2], op->nargs);
            return -1;
        }
    }
    else if (op->nargs != op_nargs(op->kind)) {
        PyErr_Format(PyExc_ValueError, "_program_new: operation %zd has %d operands", i,
                     op->nargs);
        return -1;
    }
    if (op->period < 0 || op->dim[0] < 0 || op->dim[1] < 0 || op->dim[2] < 0) {
        PyErr_Format(PyExc_ValueError, "_program_new: operation %zd: negative size", i);
        return -1;
    }
    for (a = 0; a < op->nargs; a++) {
        PyArrayObject *arr;
        rp_index dims[2], lo, hi, alo, ahi, klast;
        int nd;
        if (op->slot[a] < 0 || op->slot[a] >= PyTuple_GET_SIZE(slots)) {
            PyErr_Format(PyExc_ValueError, "_program_new: operation %zd: no slot %d", i,
                         op->slot[a]);
            return -1;
        }
        arr = (PyArrayObject *)PyTuple_GET_ITEM(slots, op->slot[a]);
        expected = operand_type(op, uf, type_index, a);
        if ((expected >= 0 && PyArray_TYPE(arr) != expected) ||
            (expected < 0 && PyArray_ITEMSIZE(arr) != op->itemsize)) {
            PyErr_Format(PyExc_ValueError,
                         "_program_new: operation %zd: operand %d has the wrong dtype", i, a);
            return -1;
        }
        if (a == op->nargs - 1 && !PyArray_ISWRITEABLE(arr)) {
            PyErr_Format(PyExc_ValueError,
                         "_program_new: operation %zd writes a read-only array", i);
            return -1;
        }
        nd = operand_dims(op, a, dims);
        if (!extent(nd, dims, op->stride[a], PyArray_ITEMSIZE(arr), &lo, &hi)) {
            continue;
        }
        /* the iterations move the operand linearly: check both ends */
        klast = op->period ? op->period - 1 : (iterations > 0 ? iterations - 1 : 0);
        if (op->iter_step[a] < 0) {
            lo += klast * op->iter_step[a];
        }
        else {
            hi += klast * op->iter_step[a];
        }
        lo += op->offset[a];
        hi += op->offset[a];
        extent(PyArray_NDIM(arr), PyArray_DIMS(arr), PyArray_STRIDES(arr),
               PyArray_ITEMSIZE(arr), &alo, &ahi);
        if (lo < alo || hi > ahi) {
            PyErr_Format(PyExc_ValueError,
                         "_program_new: operation %zd: operand %d reaches outside its array", i,
                         a);
            return -1;
        }
    }
    return 0;
}

PyDoc_STRVAR(program_new_doc,
"Private (retroprop.capture): _program_new(slots, table, loops, iterations) -> program.\n\n"
"slots: list of arrays; table: int64 (n, 22) operations; loops: for each\n"
"operation None or (ufunc, index of its loop); iterations: how many\n"
"iteration numbers runs may use.");

static PyObject *py_program_new(PyObject *self, PyObject *args)
{
    PyObject *slot_list, *table_obj, *loop_list, *capsule, *slots = NULL, *loops = NULL;
    PyArrayObject *table = NULL;
    Py_ssize_t iterations, i, n;
    rpb_program *p = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!OO!n:_program_new", &PyList_Type, &slot_list, &table_obj,
                          &PyList_Type, &loop_list, &iterations)) {
        return NULL;
    }
    /* the table first (its conversion may run Python code), then the lists
     * as tuples of their items: what is checked is what the program keeps */
    table = (PyArrayObject *)PyArray_FROMANY(table_obj, NPY_INT64, 2, 2, NPY_ARRAY_CARRAY_RO);
    if (table == NULL) {
        return NULL;
    }
    slots = PyList_AsTuple(slot_list);
    loops = PyList_AsTuple(loop_list);
    if (slots == NULL || loops == NULL) {
        goto error;
    }
    for (i = 0; i < PyTuple_GET_SIZE(slots); i++) {
        if (!PyArray_CheckExact(PyTuple_GET_ITEM(slots, i))) {
            PyErr_Format(PyExc_TypeError, "_program_new: slot %zd is not an ndarray", i);
            goto error;
        }
    }
    n = PyArray_DIM(table, 0);
    if (PyArray_DIM(table, 1) != NCOLS || PyTuple_GET_SIZE(loops) != n || iterations < 0) {
        PyErr_SetString(PyExc_ValueError, "_program_new: table, loops and iterations disagree");
        goto error;
    }
    p = (rpb_program *)PyMem_Calloc(1, sizeof(*p));
    if (p == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    p->ops = (rp_program_op *)PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(rp_program_op));
    p->base = (char **)PyMem_Calloc(PyTuple_GET_SIZE(slots) > 0 ? (size_t)PyTuple_GET_SIZE(slots) : 1,
                                    sizeof(char *));
    if (p->ops == NULL || p->base == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (i = 0; i < n; i++) {
        const npy_int64 *row = (const npy_int64 *)PyArray_GETPTR2(table, i, 0);
        rp_program_op *op = &p->ops[i];
        PyObject *loop = PyTuple_GET_ITEM(loops, i);
        int a;
        op->kind = (int)row[COL_KIND];
        op->nargs = (int)row[COL_NARGS];
        if (op->nargs < 1 || op->nargs > RP_PROGRAM_MAXARGS) {
            PyErr_Format(PyExc_ValueError, "_program_new: operation %zd has %d operands", i,
                         op->nargs);
            goto error;
        }
        for (a = 0; a < RP_PROGRAM_MAXARGS; a++) {
            op->slot[a] = (int)row[COL_SLOT + a];
            op->offset[a] = (rp_index)row[COL_OFFSET + a];
            op->iter_step[a] = (rp_index)row[COL_ITER_STEP + a];
            op->dim[a] = (rp_index)row[COL_DIM + a];
            op->stride[a][0] = (rp_index)row[COL_STRIDE + 2 * a];
            op->stride[a][1] = (rp_index)row[COL_STRIDE + 2 * a + 1];
        }
        op->period = (rp_index)row[COL_PERIOD];
        op->itemsize = (rp_index)row[COL_ITEMSIZE];
        if (check_op(op, i, slots, loop, (rp_index)iterations) < 0) {
            goto error;
        }
        if (op->kind == RP_PROGRAM_LOOP) {
            PyUFuncObject *uf = (PyUFuncObject *)PyTuple_GET_ITEM(loop, 0);
            Py_ssize_t t = PyLong_AsSsize_t(PyTuple_GET_ITEM(loop, 1));
            /* NumPy's loops take npy_intp, which is rp_index (ptrdiff_t) */
            op->loop = (rp_strided_loop)uf->functions[t];
            op->loop_data = uf->data != NULL ? uf->data[t] : NULL;
        }
    }
    for (i = 0; i < PyTuple_GET_SIZE(slots); i++) {
        p->base[i] = PyArray_BYTES((PyArrayObject *)PyTuple_GET_ITEM(slots, i));
    }
    p->prog.nslots = (int)PyTuple_GET_SIZE(slots);
    p->prog.base = p->base;
    p->prog.nops = (int)n;
    p->prog.ops = p->ops;
    rp_program_prepare(&p->prog);
    p->iterations = (rp_index)iterations;
    p->keep = Py_BuildValue("(OO)", slots, loops);
    if (p->keep == NULL) {
        goto error;
    }
    Py_DECREF(table);
    Py_DECREF(slots);
    Py_DECREF(loops);
    capsule = PyCapsule_New(p, capsule_name, program_free);
    if (capsule == NULL) {
        Py_DECREF(p->keep);
        PyMem_Free(p->ops);
        PyMem_Free(p->base);
        PyMem_Free(p);
    }
    return capsule;
error:
    Py_XDECREF(table);
    Py_XDECREF(slots);
    Py_XDECREF(loops);
    if (p != NULL) {
        PyMem_Free(p->ops);
        PyMem_Free(p->base);
        PyMem_Free(p);
    }
    return NULL;
}

PyDoc_STRVAR(program_run_doc,
"Private (retroprop.capture): _program_run(program, begin, end, first, count) -> flags.\n\n"
"Runs operations [begin, end) for iterations first .. first + count - 1 with\n"
"the GIL released; returns the floating-point exceptions raised (bits: 1\n"
"invalid, 2 divide by zero, 4 overflow, 8 underflow). A pending Ctrl-C is\n"
"raised after the run, which always completes.");

static PyObject *py_program_run(PyObject *self, PyObject *args)
{
    PyObject *capsule;
    rpb_program *p;
    int begin, end, flags;
    Py_ssize_t first, count;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oiinn:_program_run", &capsule, &begin, &end, &first, &count)) {
        return NULL;
    }
    p = (rpb_program *)PyCapsule_GetPointer(capsule, capsule_name);
    if (p == NULL) {
        return NULL;
    }
    if (begin < 0 || end > p->prog.nops || begin > end || first < 0 || count < 0 ||
        first + count > p->iterations) {
        PyErr_SetString(PyExc_ValueError, "_program_run: operations or iterations out of range");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    flags = rp_program_run(&p->prog, begin, end, (rp_index)first, (rp_index)count);
    Py_END_ALLOW_THREADS
    if (end == p->prog.nops) {
        p->position = (rp_index)(first + count);
    }
    if (PyErr_CheckSignals() < 0) {
        return NULL;
    }
    return PyLong_FromLong(flags);
}

PyDoc_STRVAR(program_position_doc,
"Private (retroprop.capture): _program_position(program) -> one past the last\n"
"iteration a whole-program run completed.");

static PyObject *py_program_position(PyObject *self, PyObject *capsule)
{
    rpb_program *p = (rpb_program *)PyCapsule_GetPointer(capsule, capsule_name);
    (void)self;
    if (p == NULL) {
        return NULL;
    }
    return PyLong_FromSsize_t((Py_ssize_t)p->position);
}

PyMethodDef rpb_program_methods[] = {
    {"_program_new", py_program_new, METH_VARARGS, program_new_doc},
    {"_program_run", py_program_run, METH_VARARGS, program_run_doc},
    {"_program_position", py_program_position, METH_O, program_position_doc},
    {NULL, NULL, 0, NULL},
};
