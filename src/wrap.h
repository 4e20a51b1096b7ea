/* Help text wrapped for a terminal. */
#ifndef BS_WRAP_H
#define BS_WRAP_H
#include <stdio.h>

/* text's words after `col` columns already printed, each after a space, a line broken before a
   word that would pass column 100 and continued after `indent` spaces; then a newline. */
void wrap_text(FILE *out, const char *text, int col, int indent);

#endif
