// Update bytes in and out of a DocState (the encoder is
// DocState::EncodeOpsSince). Grammar: proto/README.md.
#pragma once

#include <cstddef>
#include <string_view>

#include "doc_state.h"
#include "weft/engine/op.h"
#include "weft/status.h"

namespace weft::engine::detail {

// Decodes untrusted Update bytes and applies them as one batch: on any error
// `doc` is unchanged.
Status ApplyUpdateBytes(DocState& doc, std::string_view bytes);

// Decodes untrusted Update bytes into ops without applying them.
Result<Ops> DecodeUpdateBytes(std::string_view bytes, size_t max_bytes);

}  // namespace weft::engine::detail
