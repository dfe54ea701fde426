// Uses the installed engine, ringbuf, transport and node headers and
// libraries: two replicas converge, a slot pool hands out an event, an
// address parses and a node's default budget holds. Exit 0 when all of
// that works.
#include <cstdio>

#include "weft/engine/doc.h"
#include "weft/node/node.h"
#include "weft/ringbuf/ringbuf.h"

int main() {
  weft::engine::Doc a(1), b(2);
  if (!a.Insert(0, "hello").ok()) return 1;
  if (!b.ApplyUpdate(a.EncodeOpsSince({})).ok()) return 1;
  if (!b.Insert(5, " world").ok()) return 1;
  if (!a.ApplyUpdate(b.EncodeOpsSince(a.version())).ok()) return 1;
  weft::ringbuf::EventAllocator alloc;
  if (!alloc.AllocateForSize(10).ok()) return 1;
  if (!weft::transport::ParseHostPort("127.0.0.1:7000").ok()) return 1;
  if (!weft::node::NodeBudget{}.Validate().ok()) return 1;
  std::printf("%s\n", a.Text().c_str());
  return a.Text() == "hello world" && b.Text() == a.Text() ? 0 : 1;
}
