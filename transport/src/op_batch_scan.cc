#include "op_batch_scan.h"

#include <cstdint>
#include <string_view>

namespace weft::transport {
namespace {

constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kStartGroup = 3;
constexpr uint32_t kEndGroup = 4;
constexpr uint32_t kFixed32 = 5;

// Frame.body's members are fields 100..111 (weft.proto), OpBatch is 105.
constexpr uint32_t kFirstBody = 100;
constexpr uint32_t kLastBody = 111;
constexpr uint32_t kOpBatchField = 105;
constexpr uint32_t kDocField = 1;
constexpr uint32_t kUpdateField = 2;
// protobuf's default recursion limit: nested messages and groups.
constexpr int kMaxDepth = 100;

// Reads protobuf wire format with the limits protobuf's parser applies.
class WireReader {
 public:
  explicit WireReader(std::span<const std::byte> in) : in_(in) {}
  bool done() const { return at_ == in_.size(); }

  // A varint of at most `max_bytes` bytes.
  bool ReadVarint(uint64_t* v, int max_bytes = 10) {
    *v = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (at_ == in_.size()) return false;
      uint8_t b = static_cast<uint8_t>(in_[at_++]);
      *v |= uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  // A field tag: at most 5 bytes, read as 32 bits (protobuf drops the
  // rest), with a field number other than 0 and a wire type that exists.
  bool ReadTag(uint32_t* field, uint32_t* wire_type) {
    uint64_t v;
    if (!ReadVarint(&v, 5)) return false;
    auto tag = static_cast<uint32_t>(v);
    *field = tag >> 3;
    *wire_type = tag & 7;
    return *field != 0 && *wire_type <= kFixed32;
  }
  // A length-delimited value: a length of at most 5 bytes below 2^31.
  bool ReadLengthDelimited(std::span<const std::byte>* out) {
    uint64_t len;
    if (!ReadVarint(&len, 5) || len > INT32_MAX || len > in_.size() - at_) return false;
    *out = in_.subspan(at_, len);
    at_ += len;
    return true;
  }
  // Skips the value of a field of `wire_type` (its tag already read). A
  // group is skipped through its matching end, `depth` levels deep at most.
  bool Skip(uint32_t field, uint32_t wire_type, int depth) {
    uint64_t v;
    std::span<const std::byte> s;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&v);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return ReadLengthDelimited(&s);
      case kStartGroup:
        return SkipGroup(field, depth);
      case kFixed32:
        return Advance(4);
      default:  // an end group with no start
        return false;
    }
  }

 private:
  bool SkipGroup(uint32_t field, int depth) {
    if (depth <= 0) return false;
    while (true) {
      uint32_t f, wt;
      if (!ReadTag(&f, &wt)) return false;
      if (wt == kEndGroup) return f == field;
      if (!Skip(f, wt, depth - 1)) return false;
    }
  }
  bool Advance(size_t n) {
    if (n > in_.size() - at_) return false;
    at_ += n;
    return true;
  }

  std::span<const std::byte> in_;
  size_t at_ = 0;
};

// Merges one occurrence of the op_batch member into `batch`: the fields it
// holds overwrite those of earlier occurrences.
bool MergeOpBatch(std::span<const std::byte> bytes, OpBatch* batch) {
  WireReader r(bytes);
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.ReadTag(&field, &wire_type)) return false;
    if ((field == kDocField || field == kUpdateField) && wire_type == kLengthDelimited) {
      std::span<const std::byte> value;
      if (!r.ReadLengthDelimited(&value)) return false;
      if (field == kDocField) {
        batch->doc = std::string_view(reinterpret_cast<const char*>(value.data()), value.size());
      } else {
        batch->update = value;
      }
    } else if (!r.Skip(field, wire_type, kMaxDepth - 1)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<OpBatchScan> ScanOpBatch(std::span<const std::byte> body) {
  OpBatchScan scan;
  WireReader r(body);
  uint32_t body_case = 0;  // the oneof member seen last
  bool other_bodies = false;
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.ReadTag(&field, &wire_type)) return Status::Corruption("frame: bad field tag");
    if (field < kFirstBody || field > kLastBody || wire_type != kLengthDelimited) {
      if (!r.Skip(field, wire_type, kMaxDepth)) return Status::Corruption("frame: bad field");
      continue;
    }
    std::span<const std::byte> value;
    if (!r.ReadLengthDelimited(&value)) return Status::Corruption("frame: truncated field");
    if (field != kOpBatchField) {
      other_bodies = true;
    } else {
      if (body_case != kOpBatchField) scan.batch = OpBatch{};
      if (!MergeOpBatch(value, &scan.batch)) return Status::Corruption("op batch: bad field");
    }
    body_case = field;
  }
  scan.is_op_batch = body_case == kOpBatchField;
  scan.replaced_other_bodies = scan.is_op_batch && other_bodies;
  return scan;
}

}  // namespace weft::transport
