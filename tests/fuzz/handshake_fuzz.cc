// libFuzzer target: a guarded server's handshake fed an arbitrary sequence
// of frames. Input: repeated [u16 length][body]. Whatever arrives, the
// handshake never completes without a proof made with the secret (which the
// input cannot contain), and never crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "weft/transport/handshake.h"
#include "weft/transport/wire_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weft::transport;
  HandshakeConfig server_config;
  server_config.secret = "fuzz secret";
  server_config.node_secret = "fuzz node secret";
  server_config.node_id = 1;
  Handshake server(server_config);
  HandshakeConfig client_config;
  client_config.client = true;
  client_config.secret = "other secret";
  Handshake client(client_config);
  std::vector<Message> out;
  if (!server.Start(&out).ok() || !client.Start(&out).ok()) return 0;
  size_t at = 0;
  while (at + 2 <= size) {
    size_t len = data[at] | (size_t{data[at + 1]} << 8);
    at += 2;
    len = std::min(len, size - at);
    weft::Result<Message> m =
        DecodeFrame(std::span(reinterpret_cast<const std::byte*>(data + at), len));
    at += len;
    if (!m.ok()) continue;
    out.clear();
    (void)server.OnMessage(*m, &out);
    (void)client.OnMessage(*m, &out);
    // Neither side may be talked into completing: the server needs a proof
    // under "fuzz secret" (or "fuzz node secret" from a Hello saying
    // is_node), the client one under "other secret", and the input has
    // none (HMAC-SHA256 cannot be forged by a fuzzer).
    if (server.done() || client.done()) std::abort();
  }
  return 0;
}
