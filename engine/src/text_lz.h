// TextLz: the compressor of an Update's text (engine/FORMAT.md, "Text").
//
// LZ77 over the whole text (matches may reach back to its start) with
// three repeat offsets, written as one symbol section: per sequence a
// literal count, the literals, then (unless the text ends) a match length
// and an offset code. Edited
// text repeats itself (a line deleted and typed again, a paste of what was
// cut), so long matches are common.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "byte_io.h"
#include "symbol_coder.h"
#include "weft/status.h"

namespace weft::engine::detail {

// The most text CompressText takes: its working memory is about 5 bytes per
// byte of text. Larger text is stored as it is.
inline constexpr size_t kMaxCompressedText = size_t{16} << 20;

// Writes `text` compressed (engine/FORMAT.md, "Text"). Returns the symbols
// it coded (see SymbolWriter::Write). REQUIRES: text.size() <=
// kMaxCompressedText.
uint64_t CompressText(std::string_view text, ByteWriter& out);

// Decodes text CompressText wrote into exactly `size` bytes, reading it
// from `in`. Refuses (kCorruption) text whose size is over the expansion
// budget of the bytes it was compressed to, as well as anything
// malformed. Output grows as it is produced, so bytes that claim more
// than they hold cost what they hold.
Result<std::string> DecompressText(ByteReader& in, size_t size);

}  // namespace weft::engine::detail
