// libFuzzer target: a batch of local edits from arbitrary bytes, applied by
// Doc::ApplyLocal in slices the input chooses and by Insert/Remove one edit
// at a time. Both must stop at the same edit with the same error and leave
// the same text, version, Update bytes, snapshot and undo steps.
//
// Input: records of [flags][pos lo][pos hi][len] then, for an insert, `len`
// bytes of text (any bytes: invalid UTF-8 must be refused alike). flags
// bit 0: delete; bit 1: end the slice after this edit; bit 2: position
// relative to the end of the last insert (typing on); bit 3: position past
// the end allowed (out of range must be refused alike).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/engine/doc.h"

namespace {

using weft::engine::Doc;
using weft::engine::LocalEdit;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Doc single(5);
  Doc batched(5);
  std::vector<LocalEdit> slice;
  std::string slice_text;
  size_t at = 0;
  uint64_t typed_end = 0;  // where the last insert ended
  bool stopped = false;
  while (!stopped && at + 4 <= size && single.size() < 100000) {
    const uint8_t flags = data[at];
    uint64_t pos = data[at + 1] | uint64_t{data[at + 2]} << 8;
    const uint64_t len = data[at + 3];
    at += 4;
    const bool del = flags & 1;
    const uint64_t room = single.size() + ((flags & 8) ? 3 : 1);
    pos = (flags & 4) ? typed_end : pos % room;
    std::string text;
    if (!del) {
      if (size - at < len) break;
      text.assign(reinterpret_cast<const char*>(data + at), len);
      at += len;
    }
    // One edit at a time on `single`, stopping at the first refused.
    const uint64_t before = single.size();
    weft::Status one = del ? single.Remove(pos, len, nullptr) : single.Insert(pos, text, nullptr);
    slice.push_back(
        {del ? LocalEdit::Kind::kDelete : LocalEdit::Kind::kInsert, pos, del ? len : text.size()});
    slice_text += text;
    if (one.ok() && !del) typed_end = pos + (single.size() - before);
    typed_end = std::min<uint64_t>(typed_end, single.size());
    stopped = !one.ok();
    if ((flags & 2) || stopped) {
      size_t applied = 0;
      weft::Status s = batched.ApplyLocal(slice, slice_text, &applied);
      Check(s.code() == one.code());
      Check(applied == (stopped ? slice.size() - 1 : slice.size()));
      slice.clear();
      slice_text.clear();
      Check(batched.size() == single.size());
    }
  }
  if (!slice.empty()) {
    size_t applied = 0;
    Check(batched.ApplyLocal(slice, slice_text, &applied).ok() && applied == slice.size());
  }
  Check(single.Text() == batched.Text());
  Check(single.version() == batched.version());
  Check(single.EncodeOpsSince(weft::engine::VersionVector()) ==
        batched.EncodeOpsSince(weft::engine::VersionVector()));
  Check(single.EncodeSnapshot() == batched.EncodeSnapshot());
  Check(batched.CheckInvariants().ok());
  while (single.CanUndo()) {
    Check(batched.CanUndo());
    Check(single.Undo().ok() && batched.Undo().ok());
    Check(single.Text() == batched.Text());
  }
  Check(!batched.CanUndo());
  return 0;
}
