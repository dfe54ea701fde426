// libFuzzer target: arbitrary bytes from a socket through the frame
// assembler and the frame decoder. Every outcome must be a frame, a clean
// Status or a pause; never a crash, a leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <span>

#include "weft/transport/frame.h"
#include "weft/transport/wire_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static weft::ringbuf::EventAllocator alloc(weft::ringbuf::PoolCapacities{64, 64, 16, 8, 4});
  weft::transport::FrameAssembler assembler(&alloc);
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  // Feed in uneven pieces, as reads would arrive.
  size_t at = 0, step = 1;
  while (at < bytes.size()) {
    size_t n = std::min(step, bytes.size() - at);
    weft::Status s = assembler.Feed(bytes.subspan(at, n), [](weft::transport::FrameRef&& f) {
      weft::Result<weft::transport::Message> m =
          weft::transport::DecodeFrame(weft::ringbuf::PayloadOf(*f));
      if (m.ok()) (void)weft::transport::MessageName(*m);
    });
    if (!s.ok()) break;
    at += n;
    step = step * 3 + 1;
  }
  return 0;
}
