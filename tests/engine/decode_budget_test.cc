// Decompression bombs: an Update or Snapshot whose compressed payload
// expands (or claims to expand) far beyond its size is refused, and the
// memory spent refusing it follows what arrived, not the size it declares.
// This binary replaces the global operator new to record the largest
// single allocation, which is what a bomb used to inflate.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "weft.pb.h"
#include "weft/engine/doc.h"

namespace {

std::atomic<size_t> g_largest_allocation{0};

void* Allocate(size_t n) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  // Relaxed: a statistic read by the same thread after the call it measures.
  while (n > seen &&
         !g_largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace weft::engine {
namespace {

constexpr size_t kBombBytes = size_t{256} << 20;
// Far above what refusing a few KiB of input needs, far below the bomb.
constexpr size_t kMaxAllocation = size_t{4} << 20;

// A real zstd frame of kBombBytes zero bytes (a few KiB), compressed in
// pieces so the test itself never holds the expanded bytes.
std::string ZeroBombFrame() {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, kBombBytes)));
  std::string zeros(size_t{1} << 20, '\0');
  std::string frame;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  for (size_t done = 0; done < kBombBytes; done += zeros.size()) {
    bool last = done + zeros.size() == kBombBytes;
    ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
    size_t left;
    do {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      left = ZSTD_compressStream2(cctx, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      EXPECT_FALSE(ZSTD_isError(left));
      frame.append(buf.data(), out.pos);
    } while (in.pos < in.size || (last && left != 0));
  }
  ZSTD_freeCCtx(cctx);
  return frame;
}

// An Envelope (proto/README.md) around `frame` that claims `raw_size`.
std::string Envelope(proto::Envelope::Kind kind, const std::string& frame, uint64_t raw_size) {
  proto::Envelope env;
  env.set_format_version(1);
  env.set_kind(kind);
  env.set_codec(proto::Envelope::CODEC_ZSTD);
  env.set_raw_size(raw_size);
  env.set_payload(frame);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>("weft"), 4);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(frame.data()), static_cast<uInt>(frame.size()));
  env.set_crc32(static_cast<uint32_t>(crc));
  return env.SerializeAsString();
}

struct Case {
  const char* name;
  uint64_t claimed;
};
// The envelope tells the truth; claims a billion bytes; claims a little
// (so only the frame itself betrays the bomb).
constexpr Case kCases[] = {
    {"truthful", kBombBytes}, {"claims 1 GB", 1'000'000'000}, {"claims 4 KiB", 4096}};

TEST(DecodeBudget, UpdateBombIsRefusedWithoutAllocatingItsClaim) {
  std::string frame = ZeroBombFrame();
  ASSERT_LT(frame.size(), size_t{64} << 10);
  Doc doc(1);
  ASSERT_TRUE(doc.Insert(0, "kept").ok());
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    std::string bomb = Envelope(proto::Envelope::KIND_UPDATE, frame, c.claimed);
    g_largest_allocation = 0;
    Status s = doc.ApplyUpdate(bomb);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_LT(g_largest_allocation.load(), kMaxAllocation);
    EXPECT_EQ(doc.Text(), "kept");
    g_largest_allocation = 0;
    EXPECT_FALSE(Doc::DecodeUpdate(std::string_view(bomb)).ok());
    EXPECT_LT(g_largest_allocation.load(), kMaxAllocation);
  }
}

TEST(DecodeBudget, SnapshotBombIsRefusedWithoutAllocatingItsClaim) {
  std::string frame = ZeroBombFrame();
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    std::string bomb = Envelope(proto::Envelope::KIND_SNAPSHOT, frame, c.claimed);
    g_largest_allocation = 0;
    EXPECT_FALSE(Doc::LoadSnapshot(bomb, 1).ok());
    EXPECT_LT(g_largest_allocation.load(), kMaxAllocation);
  }
}

TEST(DecodeBudget, HighlyCompressibleTextStillRoundTrips) {
  // What the encoder makes, the decoder takes: a paste that compresses past
  // the expansion budget is sent uncompressed rather than refused later.
  Doc src(1);
  ASSERT_TRUE(src.Insert(0, std::string(size_t{4} << 20, ' ')).ok());
  Doc dst(2);
  ASSERT_TRUE(dst.ApplyUpdate(src.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(dst.Text().size(), size_t{4} << 20);
  Result<Doc> loaded = Doc::LoadSnapshot(src.EncodeSnapshot(), 3);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->Text().size(), size_t{4} << 20);
}

}  // namespace
}  // namespace weft::engine
