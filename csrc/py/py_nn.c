/* py_nn.c: Python wrappers of the nn core (csrc/nn/). */
#include "py_util.h"

PyMethodDef sai_py_nn_methods[] = {
    {NULL, NULL, 0, NULL},
};

extern PyMethodDef sai_py_nn_train_methods[]; /* py_nn_train.c */

int sai_py_nn_init(PyObject *m)
{
    if (PyModule_AddFunctions(m, sai_py_nn_train_methods) < 0) return -1;
    return 0;
}
