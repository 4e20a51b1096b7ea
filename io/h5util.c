/* Small HDF5 helpers shared by the results modules: error messages, string attributes,
   hyperslab reads and writes, native types of the schema's value types. Serial, no MPI. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/h5util.h"

static herr_t innermost(unsigned n, const H5E_error2_t *err, void *data) {
  if (n == 0) snprintf((char *)data, 512, "%s (%s)", err->desc, err->func_name);
  return 0;
}

void h5_error_message(char *out, size_t size) {
  char buf[512] = "unknown HDF5 error";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, buf);
  snprintf(out, size, "%s", buf);
}

int h5err(Err *e, const char *fmt, ...) {
  char msg[512], ctx[1400];
  h5_error_message(msg, sizeof msg);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  return errf(e, "%s: %s", ctx, msg);
}

hid_t h5_native(ValueType t) {
  switch (t) {
  case VT_I32: return H5T_NATIVE_INT32;
  case VT_I64: return H5T_NATIVE_INT64;
  case VT_F64: return H5T_NATIVE_DOUBLE;
  case VT_BOOL: return H5T_NATIVE_SCHAR;
  default: return H5T_NATIVE_FLOAT; /* VT_F32; strings have types of their own size */
  }
}

static hid_t vlen_str(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) return -1;
  return t;
}

/* Variable-length UTF-8 string attributes: h5py reads them as str. */
int h5_attr_strs(hid_t obj, const char *name, const char *const *vals, int n, int scalar) {
  hid_t t = vlen_str();
  hsize_t dim = (hsize_t)n;
  hid_t sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
  hid_t a = t >= 0 && sp >= 0 ? H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int rc = a >= 0 && H5Awrite(a, t, vals) >= 0 ? 0 : -1;
  if (a >= 0) H5Aclose(a);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  return rc;
}

int h5_attr_str(hid_t obj, const char *name, const char *value) { return h5_attr_strs(obj, name, &value, 1, 1); }

char *h5_read_str_attr(hid_t obj, const char *name) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t t = vlen_str();
  char *v = NULL, *out = NULL;
  if (H5Aread(a, t, &v) >= 0 && v) {
    out = strdup(v);
    H5free_memory(v);
  }
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

char **h5_read_str_array_attr(hid_t obj, const char *name, int n) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t sp = H5Aget_space(a), t = vlen_str();
  char **v = calloc((size_t)(n ? n : 1), sizeof(char *)), **out = calloc((size_t)(n ? n : 1), sizeof(char *));
  int fits = H5Sget_simple_extent_npoints(sp) == n;
  int ok = v && out && fits && H5Aread(a, t, v) >= 0;
  for (int i = 0; ok && i < n; i++) ok = (out[i] = strdup(v[i] ? v[i] : "")) != NULL;
  if (v && fits) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, v);
  free(v);
  H5Sclose(sp);
  H5Tclose(t);
  H5Aclose(a);
  if (!ok) {
    for (int i = 0; out && i < n; i++) free(out[i]);
    free(out);
    return NULL;
  }
  return out;
}

static int transfer_at(hid_t d, hid_t type, long row, long col0, long n, void *buf, int write) {
  hid_t fs = H5Dget_space(d);
  hsize_t start2[2] = {(hsize_t)row, (hsize_t)col0}, count2[2] = {1, (hsize_t)n};
  hsize_t start1[1] = {(hsize_t)col0}, count1[1] = {(hsize_t)n};
  int ok = fs >= 0 && (row >= 0 ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, start2, NULL, count2, NULL)
                                : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start1, NULL, count1, NULL)) >= 0;
  hsize_t mn = (hsize_t)n;
  hid_t ms = H5Screate_simple(1, &mn, NULL);
  ok = ok && ms >= 0 &&
       (write ? H5Dwrite(d, type, ms, fs, H5P_DEFAULT, buf) : H5Dread(d, type, ms, fs, H5P_DEFAULT, buf)) >= 0;
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return ok ? 0 : -1;
}

hsize_t h5_dim(hid_t f, const char *name, int which) {
  hsize_t dims[2] = {0, 0};
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d >= 0) {
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
  }
  return dims[which];
}

int h5_write_at(hid_t d, hid_t type, long row, long col0, long n, const void *buf) {
  return transfer_at(d, type, row, col0, n, (void *)buf, 1);
}

int h5_read_at(hid_t d, hid_t type, long row, long col0, long n, void *buf) {
  return transfer_at(d, type, row, col0, n, buf, 0);
}

