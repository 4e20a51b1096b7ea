#include <string.h>
#include "src/wrap.h"

void wrap_text(FILE *out, const char *text, int col, int indent) {
  while (*text) {
    int w = (int)strcspn(text, " ");
    if (col + w + 1 > 100) {
      fprintf(out, "\n%*s", indent, "");
      col = indent;
    }
    fprintf(out, " %.*s", w, text);
    col += w + 1;
    text += w;
    while (*text == ' ') text++;
  }
  fputc('\n', out);
}
