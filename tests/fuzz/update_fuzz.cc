// libFuzzer target: arbitrary bytes applied as an update to a live
// document. A rejected update must leave the document exactly as it was; an
// accepted one must leave it consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "weft/engine/doc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using weft::engine::Doc;
  Doc doc(7);
  // A small history with runs, a deletion and a second author.
  if (!doc.Insert(0, "hello world").ok() || !doc.Remove(5, 1).ok() ||
      !doc.Insert(5, "\xc3\xa9").ok()) {
    std::abort();
  }
  Doc other(9);
  if (!other.ApplyUpdate(doc.EncodeOpsSince({})).ok() || !other.Insert(0, ">> ").ok() ||
      !doc.ApplyUpdate(other.EncodeOpsSince(doc.version())).ok()) {
    std::abort();
  }
  std::string text = doc.Text();
  weft::engine::VersionVector version = doc.version();
  weft::Status s = doc.ApplyUpdate(std::span(reinterpret_cast<const std::byte*>(data), size));
  if (!s.ok() && (doc.Text() != text || doc.version() != version)) std::abort();
  if (!doc.CheckInvariants().ok()) std::abort();
  return 0;
}
