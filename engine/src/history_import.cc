// HistoryImporter: the public face of HistoryTracker.
#include "weft/engine/history_import.h"

#include "doc_state.h"
#include "history_tracker.h"

namespace weft::engine {

HistoryImporter::HistoryImporter(Doc& doc)
    : tracker_(std::make_unique<detail::HistoryTracker>(*doc.state_)) {}

HistoryImporter::~HistoryImporter() = default;

Result<uint32_t> HistoryImporter::AddTxn(uint64_t agent, std::span<const uint32_t> parents,
                                         std::span<const PositionalPatch> patches) {
  return tracker_->AddTxn(agent, parents, patches);
}

uint32_t HistoryImporter::txns() const { return tracker_->txns(); }

void HistoryImporter::Finish() { tracker_->Finish(); }

}  // namespace weft::engine
