/* The C API from an installed prefix: one document, one insert. */
#include <stdio.h>
#include <string.h>

#include "weft.h"

int main(void) {
  weft_doc* doc = NULL;
  if (weft_doc_new(7, &doc) != WEFT_OK) return 1;
  if (weft_doc_insert(doc, 0, "hi from C", strlen("hi from C")) != WEFT_OK) return 1;
  char* text = NULL;
  size_t len = 0;
  if (weft_doc_text(doc, &text, &len) != WEFT_OK) return 1;
  int ok = len == 9 && memcmp(text, "hi from C", 9) == 0;
  printf("%.*s\n", (int)len, text);
  weft_free(text);
  weft_doc_free(doc);
  return ok ? 0 : 1;
}
