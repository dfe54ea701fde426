#include "weft/transport/chunking.h"

#include <algorithm>

namespace weft::transport {
namespace {

// A guess at an op's encoded bytes per code point (deletes carry no text).
size_t BytesPerCodePoint(const engine::Op& op) {
  if (op.kind != engine::Op::Kind::kInsert || op.len == 0) return 1;
  return std::max<size_t>(1, op.text.size() / op.len);
}

constexpr size_t kOpOverhead = 24;  // ids, origins, lengths
// What a chunk should fill of the limit: room for the estimate to be off
// by a tenth before a chunk must be encoded again, smaller.
constexpr double kFill = 0.85;
// The budget never grows past this many estimated bytes: a history that
// compresses extremely well (one text pasted over and over) still comes in
// chunks that decode to a bounded size.
constexpr size_t kMaxBudget = size_t{4} << 20;

Result<std::vector<std::string>> Chunks(const engine::Doc& doc, const engine::VersionVector& since,
                                        const engine::VersionVector* cut, size_t max_bytes) {
  std::vector<std::string> out;
  if (since.Includes(cut ? *cut : doc.version())) return out;
  // Sized uncompressed first: an upper bound on the compressed size that
  // costs no text compression, and whose ops decode without decompressing.
  std::string raw = doc.EncodeOpsSince(since, cut, /*compress=*/false);
  if (raw.size() <= max_bytes) {
    out.push_back(doc.EncodeOpsSince(since, cut));
    return out;
  }
  Result<engine::Ops> ops = engine::Doc::DecodeUpdate(raw);
  if (!ops.ok()) return ops.status();
  engine::VersionVector from = since;
  size_t i = 0;         // the first op not fully sent
  uint64_t offset = 0;  // code points of ops[i] already sent
  // In estimated bytes (kOpOverhead per op, the text's bytes). The first
  // chunk is sized as if nothing compressed (the uncompressed encoding's
  // bytes per estimated byte); each next one by what the last really took,
  // so chunks come out near kFill of the limit whatever the history
  // compresses to.
  size_t total = 0;
  for (const engine::Op& op : *ops) total += kOpOverhead + op.len * BytesPerCodePoint(op);
  size_t budget = std::clamp<size_t>(
      static_cast<size_t>(kFill * static_cast<double>(max_bytes) * static_cast<double>(total) /
                          static_cast<double>(raw.size())),
      4 * kOpOverhead, kMaxBudget);
  // Below the smallest budget that gave an oversized chunk: text that
  // compresses past what a decoder accepts is stored as it is, so growing
  // back past that point would only fail again.
  size_t ceiling = kMaxBudget;
  while (i < ops->size()) {
    // Take whole ops while the estimate fits; an op larger than the whole
    // budget is cut (ids are consecutive, so a version can end inside it).
    engine::VersionVector until = from;
    size_t cost = 0;
    size_t j = i;
    uint64_t off = offset;
    while (j < ops->size()) {
      const engine::Op& op = (*ops)[j];
      size_t per = BytesPerCodePoint(op);
      size_t whole = kOpOverhead + (op.len - off) * per;
      if (cost + whole <= budget) {
        cost += whole;
        until.Set(op.id.agent, op.id.seq + op.len);
        ++j;
        off = 0;
        continue;
      }
      if (cost == 0) {
        uint64_t take = std::max<uint64_t>(1, (budget - std::min(budget, kOpOverhead)) / per);
        cost = kOpOverhead + take * per;
        until.Set(op.id.agent, op.id.seq + off + take);
        off += take;
      }
      break;
    }
    std::string chunk = doc.EncodeOpsSince(from, &until);
    if (chunk.size() > max_bytes) {
      // The estimate was low (text that does not compress): retry smaller.
      if (budget <= 2 * kOpOverhead) return Status::Internal("cannot split an op under the limit");
      ceiling = std::min(ceiling, budget / 4 * 3);
      budget /= 2;
      continue;
    }
    if (j < ops->size() || off != 0) {
      // What this chunk cost per estimated byte sets the next budget.
      const double scale = kFill * static_cast<double>(max_bytes) /
                           static_cast<double>(std::max<size_t>(chunk.size(), 1));
      // At most four times the last per chunk, and never back to what failed.
      const size_t most = std::max<size_t>(4 * kOpOverhead, std::min(4 * budget, ceiling));
      budget = std::clamp<size_t>(static_cast<size_t>(static_cast<double>(cost) * scale),
                                  4 * kOpOverhead, most);
    }
    out.push_back(std::move(chunk));
    from = until;
    i = j;
    offset = off;
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> EncodeChunks(const engine::Doc& doc,
                                              const engine::VersionVector& since,
                                              size_t max_bytes) {
  return Chunks(doc, since, nullptr, max_bytes);
}

Result<std::vector<std::string>> EncodeChunksUntil(const engine::Doc& doc,
                                                   const engine::VersionVector& since,
                                                   const engine::VersionVector& until,
                                                   size_t max_bytes) {
  return Chunks(doc, since, &until, max_bytes);
}

}  // namespace weft::transport
