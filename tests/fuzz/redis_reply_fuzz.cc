// Arbitrary bytes as a Redis server's replies, read through the store's
// capped reply functions and then its entry and snapshot checks: what a
// damaged or hostile Redis could send. Replies past the caps are refused
// while parsing; every entry comes out good, bad (with a reason) or an
// unreadable id; nothing crashes or leaks.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cstddef>
#include <cstdint>

#include "entry_codec.h"
#include "reply_limits.h"

namespace {

using weft::redis::detail::ParseEntry;
using weft::redis::detail::ParseSnapshot;

constexpr size_t kMaxUpdate = 4096;

void Check(const redisReply* r, int depth) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || depth > 4) return;
  (void)ParseSnapshot(r, kMaxUpdate);
  for (size_t i = 0; i < r->elements; ++i) {
    weft::Result<weft::redis::detail::ParsedEntry> e = ParseEntry(r->element[i], kMaxUpdate);
    if (e.ok() && e->entry && e->entry->update.size() > kMaxUpdate) __builtin_trap();
    if (e.ok() && !e->entry && e->bad.empty()) __builtin_trap();
    Check(r->element[i], depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  redisReader* reader = redisReaderCreate();
  weft::redis::detail::ReplyLimits limits;
  limits.max_bytes = 64 << 10;
  limits.max_elements = 4096;
  weft::redis::detail::InstallReplyLimits(reader, &limits);
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) == REDIS_OK) {
    for (int n = 0; n < 64; ++n) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader, &reply) != REDIS_OK || reply == nullptr) break;
      Check(static_cast<redisReply*>(reply), 0);
      freeReplyObject(reply);
    }
  }
  redisReaderFree(reader);
  return 0;
}
