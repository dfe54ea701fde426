#include "envelope.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <memory>

#include "weft.pb.h"

namespace weft::engine::detail {

namespace {
constexpr uint32_t kFormatVersion = 1;
// zstd level 3 (its default): most of the gain of higher levels on our
// columns at a fraction of the encode time.
constexpr int kZstdLevel = 3;
constexpr size_t kMinCompressBytes = 512;
// A compressed payload may expand to at most kMaxExpansion times its own
// size, or to kMinExpansionBudget if that is more. Real updates compress
// 3-10x, so this refuses only bombs; Seal never produces a payload past it.
constexpr size_t kMaxExpansion = 256;
constexpr size_t kMinExpansionBudget = size_t{64} << 10;
// Output grows by at least this much at a time while decompressing.
constexpr size_t kDecompressStep = size_t{16} << 10;

// One compression and one decompression context per thread, reused: making
// them per call costs more than compressing a small update.
ZSTD_CCtx* CompressContext() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(),
                                                                      ZSTD_freeCCtx);
  return ctx.get();
}

ZSTD_DCtx* DecompressContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(),
                                                                      ZSTD_freeDCtx);
  return ctx.get();
}

// CRC-32 of "weft" followed by the payload: seeded so that an empty payload
// does not check out against an absent (zero) field.
uint32_t Crc(const std::string& bytes) {
  uLong seed = crc32(0, reinterpret_cast<const Bytef*>("weft"), 4);
  return static_cast<uint32_t>(
      crc32(seed, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Decompresses one zstd frame into at most `limit` bytes. The output grows
// only as bytes are produced: the size a frame declares is never trusted
// for an allocation, so a frame that lies costs what it really expands to.
Result<std::string> Decompress(std::string_view in, size_t limit) {
  ZSTD_DCtx* ctx = DecompressContext();
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::string out;
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= limit) return Status::Corruption("zstd payload larger than the limit");
      out.resize(std::min(limit, out.size() + std::max(out.size(), kDecompressStep)));
    }
    ZSTD_outBuffer dst{out.data(), out.size(), produced};
    size_t r = ZSTD_decompressStream(ctx, &dst, &src);
    produced = dst.pos;
    if (ZSTD_isError(r)) return Status::Corruption("zstd payload is corrupt");
    if (r == 0) break;  // the frame is complete
    if (src.pos == src.size && dst.pos < dst.size) {
      return Status::Corruption("zstd payload is truncated");
    }
  }
  if (src.pos != src.size) return Status::Corruption("bytes after the zstd frame");
  out.resize(produced);
  return out;
}
}  // namespace

size_t ExpansionBudget(size_t compressed_bytes) {
  if (compressed_bytes > SIZE_MAX / kMaxExpansion) return SIZE_MAX;
  return std::max(kMinExpansionBudget, compressed_bytes * kMaxExpansion);
}

std::string Seal(PayloadKind kind, const std::string& raw, bool compress) {
  proto::Envelope env;
  env.set_format_version(kFormatVersion);
  env.set_kind(static_cast<proto::Envelope::Kind>(kind));
  env.set_raw_size(raw.size());
  bool compressed = false;
  // Small updates (live typing, syncs of a few ops) gain little from zstd
  // and would pay its per-call cost on both ends.
  if (compress && raw.size() >= kMinCompressBytes) {
    std::string out(ZSTD_compressBound(raw.size()), '\0');
    size_t n = ZSTD_compressCCtx(CompressContext(), out.data(), out.size(), raw.data(), raw.size(),
                                 kZstdLevel);
    // A payload that would expand past the budget goes uncompressed, so every
    // encoding Seal makes is one Unseal accepts.
    if (!ZSTD_isError(n) && n < raw.size() && raw.size() <= ExpansionBudget(n)) {
      out.resize(n);
      env.set_codec(proto::Envelope::CODEC_ZSTD);
      env.set_payload(std::move(out));
      compressed = true;
    }
  }
  if (!compressed) {
    env.set_codec(proto::Envelope::CODEC_NONE);
    env.set_payload(raw);
  }
  env.set_crc32(Crc(env.payload()));
  return env.SerializeAsString();
}

Result<std::string> Unseal(std::string_view bytes, PayloadKind kind, size_t max_bytes) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return Status::Corruption("message too large");
  proto::Envelope env;
  if (!env.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("envelope does not parse");
  }
  if (env.format_version() != kFormatVersion) {
    return Status::Corruption("unknown format version " + std::to_string(env.format_version()));
  }
  if (env.kind() != static_cast<proto::Envelope::Kind>(kind)) {
    return Status::Corruption("envelope holds another kind of payload");
  }
  if (env.raw_size() > max_bytes) return Status::Corruption("payload larger than the limit");
  if (env.payload().size() > UINT32_MAX || Crc(env.payload()) != env.crc32()) {
    return Status::Corruption("payload checksum mismatch");
  }
  switch (env.codec()) {
    case proto::Envelope::CODEC_NONE:
      if (env.payload().size() != env.raw_size())
        return Status::Corruption("payload size mismatch");
      return std::move(*env.mutable_payload());
    case proto::Envelope::CODEC_ZSTD: {
      const std::string& in = env.payload();
      if (env.raw_size() > ExpansionBudget(in.size())) {
        return Status::Corruption("zstd payload claims more than it may expand to");
      }
      Result<std::string> out = Decompress(in, env.raw_size());
      if (!out.ok()) return out.status();
      if (out->size() != env.raw_size()) return Status::Corruption("zstd payload size mismatch");
      return out;
    }
    default:
      return Status::Corruption("unknown payload codec");
  }
}

}  // namespace weft::engine::detail
