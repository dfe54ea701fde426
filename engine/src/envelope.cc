#include "envelope.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>

#include "weft.pb.h"

namespace weft::engine::detail {

namespace {
constexpr uint32_t kFormatVersion = 1;
// zstd level 3 (its default): most of the gain of higher levels on our
// columns at a fraction of the encode time.
constexpr int kZstdLevel = 3;
constexpr size_t kMinCompressBytes = 512;

// CRC-32 of "weft" followed by the payload: seeded so that an empty payload
// does not check out against an absent (zero) field.
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

uint32_t Crc(const std::string& bytes) {
  uLong seed = crc32(0, reinterpret_cast<const Bytef*>("weft"), 4);
  return static_cast<uint32_t>(
      crc32(seed, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}
}  // namespace

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
    if (!ZSTD_isError(n) && n < raw.size()) {
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
      unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
      if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN ||
          declared != env.raw_size()) {
        return Status::Corruption("zstd frame size mismatch");
      }
      std::string out(env.raw_size(), '\0');
      size_t n =
          ZSTD_decompressDCtx(DecompressContext(), out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n) || n != out.size()) return Status::Corruption("zstd payload is corrupt");
      return out;
    }
    default:
      return Status::Corruption("unknown payload codec");
  }
}

}  // namespace weft::engine::detail
