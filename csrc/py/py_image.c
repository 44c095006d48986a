/* py_image.c: Python wrappers of the image core (csrc/image/). */
#include "py_util.h"

PyMethodDef sai_py_image_methods[] = {
    {NULL, NULL, 0, NULL},
};

int sai_py_image_init(PyObject *m) { return 0; }
