/* py_stats.c: Python wrappers of the stats core (csrc/stats/). */
#include "py_util.h"

PyMethodDef sai_py_stats_methods[] = {
    {NULL, NULL, 0, NULL},
};

int sai_py_stats_init(PyObject *m) { return 0; }
