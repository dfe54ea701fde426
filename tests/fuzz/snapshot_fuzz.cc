// libFuzzer target: arbitrary bytes as a Snapshot. Never crashes; a loaded
// Doc keeps its invariants and can still be edited and encoded. When the
// first byte is odd the rest is wrapped in a valid envelope (version, kind,
// checksum) first.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "envelope.h"
#include "weft/engine/doc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weft::engine::DocOptions options;
  options.max_decoded_bytes = 1 << 20;
  std::string input(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1)) {
    input =
        weft::engine::detail::Seal(weft::engine::detail::PayloadKind::kSnapshot, input.substr(1));
  }
  weft::Result<weft::engine::Doc> doc = weft::engine::Doc::LoadSnapshot(input, 7, options);
  if (!doc.ok()) return 0;
  if (!doc->CheckInvariants().ok()) std::abort();
  if (!doc->Insert(0, "x", nullptr).ok()) std::abort();
  (void)doc->EncodeOpsSince(weft::engine::VersionVector());
  if (!doc->CheckInvariants().ok()) std::abort();
  return 0;
}
