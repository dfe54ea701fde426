#include "reply_limits.h"

namespace weft::redis::detail {
namespace {

ReplyLimits* LimitsOf(const redisReadTask* task) {
  return static_cast<ReplyLimits*>(task->privdata);
}

// A task without a parent is the first object of a new reply: counting
// starts over.
ReplyLimits* Begin(const redisReadTask* task) {
  ReplyLimits* l = LimitsOf(task);
  if (task->parent == nullptr) {
    l->bytes = 0;
    l->elements = 0;
  }
  return l;
}

bool Charge(ReplyLimits* l, size_t bytes, size_t elements) {
  l->bytes += bytes;
  l->elements += elements + 1;
  if (l->bytes > l->max_bytes || l->elements > l->max_elements) {
    l->exceeded = true;
    return false;
  }
  return true;
}

void* CreateString(const redisReadTask* task, char* str, size_t len) {
  ReplyLimits* l = Begin(task);
  if (!Charge(l, len, 0)) return nullptr;
  return l->base->createString(task, str, len);
}

void* CreateArray(const redisReadTask* task, int elements) {
  ReplyLimits* l = Begin(task);
  if (elements < 0 || !Charge(l, 0, static_cast<size_t>(elements))) return nullptr;
  return l->base->createArray(task, elements);
}

void* CreateInteger(const redisReadTask* task, long long value) {
  ReplyLimits* l = Begin(task);
  if (!Charge(l, 0, 0)) return nullptr;
  return l->base->createInteger(task, value);
}

void* CreateNil(const redisReadTask* task) {
  ReplyLimits* l = Begin(task);
  if (!Charge(l, 0, 0)) return nullptr;
  return l->base->createNil(task);
}

}  // namespace

void InstallReplyLimits(redisReader* reader, ReplyLimits* limits) {
  if (reader->fn == &limits->fns) return;
  limits->base = reader->fn;
  limits->fns = *reader->fn;
  limits->fns.createString = CreateString;
  limits->fns.createArray = CreateArray;
  limits->fns.createInteger = CreateInteger;
  limits->fns.createNil = CreateNil;
  reader->fn = &limits->fns;
  reader->privdata = limits;
}

}  // namespace weft::redis::detail
