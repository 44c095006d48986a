/* py_scores.c: Python wrappers of the scores core (csrc/scores/). */
#include "py_util.h"

PyMethodDef sai_py_scores_methods[] = {
    {NULL, NULL, 0, NULL},
};

int sai_py_scores_init(PyObject *m) { return 0; }
