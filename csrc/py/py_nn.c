/* py_nn.c: Python wrappers of the nn core (csrc/nn/). */
#include "py_util.h"

PyMethodDef sai_py_nn_methods[] = {
    {NULL, NULL, 0, NULL},
};

int sai_py_nn_init(PyObject *m) { return 0; }
