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

}  // namespace

Result<std::vector<std::string>> EncodeChunks(const engine::Doc& doc,
                                              const engine::VersionVector& since,
                                              size_t max_bytes) {
  std::vector<std::string> out;
  if (since.Includes(doc.version())) return out;
  std::string all = doc.EncodeOpsSince(since);
  if (all.size() <= max_bytes) {
    out.push_back(std::move(all));
    return out;
  }
  Result<engine::Ops> ops = engine::Doc::DecodeUpdate(all);
  if (!ops.ok()) return ops.status();
  engine::VersionVector from = since;
  size_t i = 0;         // the first op not fully sent
  uint64_t offset = 0;  // code points of ops[i] already sent
  size_t budget = max_bytes / 2;
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
        until.Set(op.id.agent, op.id.seq + off + take);
        off += take;
      }
      break;
    }
    std::string chunk = doc.EncodeOpsSince(from, &until);
    if (chunk.size() > max_bytes) {
      // The estimate was low (text that does not compress): retry smaller.
      if (budget <= 2 * kOpOverhead) return Status::Internal("cannot split an op under the limit");
      budget /= 2;
      continue;
    }
    out.push_back(std::move(chunk));
    from = until;
    i = j;
    offset = off;
  }
  return out;
}

}  // namespace weft::transport
