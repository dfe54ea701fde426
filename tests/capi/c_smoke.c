/* Built as C99 with -Wpedantic: weft.h must be plain C. Two replicas edit,
 * sync and converge; exits 0 on success. */
#include <stdio.h>
#include <string.h>

#include "weft.h"

#define CHECK(call)                                                                  \
  do {                                                                               \
    weft_status s_ = (call);                                                         \
    if (s_ != WEFT_OK) {                                                             \
      fprintf(stderr, "%s: %s (%s)\n", #call, weft_strerror(s_), weft_last_error()); \
      return 1;                                                                      \
    }                                                                                \
  } while (0)

static int Sync(weft_doc* from, weft_doc* to) {
  uint8_t* version = NULL;
  uint8_t* update = NULL;
  size_t version_len = 0, update_len = 0;
  CHECK(weft_doc_version(to, &version, &version_len));
  CHECK(weft_doc_encode_since(from, version, version_len, &update, &update_len));
  weft_free(version);
  CHECK(weft_doc_apply(to, update, update_len));
  weft_free(update);
  return 0;
}

int main(void) {
  weft_doc* a = NULL;
  weft_doc* b = NULL;
  char* text_a = NULL;
  char* text_b = NULL;
  size_t len_a = 0, len_b = 0;
  uint64_t n = 0;
  int same;
  if (weft_abi_version() != WEFT_ABI_VERSION) return 1;
  CHECK(weft_doc_new(1, &a));
  CHECK(weft_doc_new(2, &b));
  CHECK(weft_doc_insert(a, 0, "h\xc3\xa9llo", 6)); /* "héllo" */
  if (Sync(a, b) != 0) return 1;
  CHECK(weft_doc_insert(a, 5, " world", 6));
  CHECK(weft_doc_insert(b, 0, ">> ", 3));
  if (weft_doc_insert(b, 99, "x", 1) != WEFT_OUT_OF_RANGE) return 1;
  if (Sync(a, b) != 0 || Sync(b, a) != 0) return 1;
  CHECK(weft_doc_len(a, &n));
  CHECK(weft_doc_text(a, &text_a, &len_a));
  CHECK(weft_doc_text(b, &text_b, &len_b));
  same = len_a == len_b && memcmp(text_a, text_b, len_a) == 0 &&
         strcmp(text_a, ">> h\xc3\xa9llo world") == 0 && n == 14;
  printf("%s\n", text_a);
  weft_free(text_a);
  weft_free(text_b);
  weft_doc_free(a);
  weft_doc_free(b);
  return same ? 0 : 1;
}
