/* Small HDF5 helpers shared by the results modules (io/h5util.c). */
#ifndef BS_H5UTIL_H
#define BS_H5UTIL_H
#include <hdf5.h>
#include "io/results_schema.h"
#include "src/err.h"

/* Message of the innermost HDF5 error on the stack, for error contexts. */
void h5_error_message(char *out, size_t size);

/* Small HDF5 helpers shared by the results modules. */
int h5_attr_strs(hid_t obj, const char *name, const char *const *vals, int n, int scalar);
int h5_attr_str(hid_t obj, const char *name, const char *value);
char *h5_read_str_attr(hid_t obj, const char *name);
char **h5_read_str_array_attr(hid_t obj, const char *name, int n);
/* n elements at [row, col0 ..] of a 2-D dataset (or [col0 ..] when row < 0). */
int h5_write_at(hid_t d, hid_t type, long row, long col0, long n, const void *buf);
int h5_read_at(hid_t d, hid_t type, long row, long col0, long n, void *buf);
hid_t h5_native(ValueType t);
/* Dimension which (0 or 1) of dataset name in f; 0 when it cannot be opened. */
hsize_t h5_dim(hid_t f, const char *name, int which);
/* Errors with the innermost HDF5 message appended; return -1. */
int h5err(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
