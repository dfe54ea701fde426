// libFuzzer target: arbitrary bytes as an Update. Never crashes; on error the
// Doc is unchanged; on success its invariants hold. When the first byte is
// odd the rest is wrapped in a valid envelope (version, kind, checksum)
// first, so mutations reach the Update decoder instead of stopping at the
// checksum. Ops that decode also go, after the history, into a fresh replica
// in one batch (where a linear history is merged without positions) and must
// give what the usual path gives, or the same error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "envelope.h"
#include "weft/engine/doc.h"

using weft::engine::Doc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string* seed = [] {
    // A small history for the fuzzed ops to refer to (agents 1 and 2).
    Doc a(1), b(2);
    (void)a.Insert(0, "héllo wörld", nullptr);
    (void)b.ApplyUpdate(a.EncodeOpsSince(weft::engine::VersionVector()));
    (void)b.Remove(2, 3, nullptr);
    (void)b.Insert(4, "€𝄞", nullptr);
    return new std::string(b.EncodeOpsSince(weft::engine::VersionVector()));
  }();
  weft::engine::DocOptions options;
  options.max_pending_ops = 64;
  options.max_decoded_bytes = 1 << 20;
  Doc doc(3, options);
  if (!doc.ApplyUpdate(*seed).ok()) std::abort();
  std::string text = doc.Text();
  weft::engine::VersionVector version = doc.version();
  std::string input(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1)) {
    input = weft::engine::detail::Seal(weft::engine::detail::PayloadKind::kUpdate, input.substr(1));
  }
  weft::Status st = doc.ApplyUpdate(input);
  if (!st.ok() && (doc.Text() != text || doc.version() != version)) std::abort();
  if (!doc.CheckInvariants().ok()) std::abort();

  weft::Result<weft::engine::Ops> more = Doc::DecodeUpdate(input, options.max_decoded_bytes);
  if (!more.ok()) return 0;
  static const weft::engine::Ops* base = new weft::engine::Ops(*Doc::DecodeUpdate(*seed));
  weft::engine::Ops all = *base;
  all.insert(all.end(), more->begin(), more->end());
  Doc fresh(3, options), usual(4, options);
  // A change listener keeps the usual, positional path.
  usual.SetChangeListener([](const weft::engine::Delta&) {});
  st = fresh.Apply(all);
  if (usual.Apply(all).ok() != st.ok()) std::abort();
  if (!st.ok() && (!fresh.Text().empty() || fresh.version() != weft::engine::VersionVector())) {
    std::abort();
  }
  if (fresh.Text() != usual.Text() || fresh.version() != usual.version()) std::abort();
  if (!fresh.CheckInvariants().ok()) std::abort();
  return 0;
}
