// Trace loading: gzip (or plain) JSON into a Trace, validated.
#include "weft/engine/trace.h"

#include <zlib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace weft::engine {
namespace {

Result<std::string> ReadMaybeGzip(const std::string& path) {
  // gzread reads plain files unchanged, so one path covers .json and .json.gz.
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IoError("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      gzclose(f);
      return Status::IoError("cannot read " + path + " (bad gzip data)");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  gzclose(f);
  return out;
}

Status ParsePatches(const nlohmann::json& txn, TraceTxn* out, uint64_t* count) {
  const auto it = txn.find("patches");
  if (it == txn.end() || !it->is_array()) return Status::Corruption("txn without patches array");
  for (const auto& p : *it) {
    if (!p.is_array() || p.size() != 3 || !p[0].is_number_unsigned() ||
        !p[1].is_number_unsigned() || !p[2].is_string()) {
      return Status::Corruption("patch is not [pos, numDeleted, \"text\"]");
    }
    out->patches.push_back(
        TracePatch{p[0].get<uint64_t>(), p[1].get<uint64_t>(), p[2].get<std::string>()});
    ++*count;
  }
  return Status::Ok();
}

Result<Trace> Parse(const std::string& data) {
  nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("not valid JSON");
  if (!j.is_object()) return Status::Corruption("trace is not a JSON object");
  Trace t;
  auto kind = j.find("kind");
  if (kind != j.end()) {
    if (!kind->is_string()) return Status::Corruption("kind is not a string");
    if (*kind == "concurrent") {
      t.concurrent = true;
    } else if (*kind != "sequential") {
      return Status::Corruption("unknown kind '" + kind->get<std::string>() + "'");
    }
  }
  auto end = j.find("endContent");
  if (end == j.end() || !end->is_string()) return Status::Corruption("missing endContent");
  t.end_content = end->get<std::string>();
  auto start = j.find("startContent");
  if (start != j.end()) {
    if (!start->is_string()) return Status::Corruption("startContent is not a string");
    t.start_content = start->get<std::string>();
  }
  auto txns = j.find("txns");
  if (txns == j.end() || !txns->is_array()) return Status::Corruption("missing txns array");
  if (t.concurrent) {
    auto na = j.find("numAgents");
    if (na == j.end() || !na->is_number_unsigned() || na->get<uint64_t>() == 0 ||
        na->get<uint64_t>() > (1u << 20)) {
      return Status::Corruption("numAgents missing or out of range");
    }
    t.num_agents = static_cast<uint32_t>(na->get<uint64_t>());
    if (!t.start_content.empty()) return Status::Corruption("concurrent trace with startContent");
  }
  t.txns.reserve(txns->size());
  for (const auto& tx : *txns) {
    if (!tx.is_object()) return Status::Corruption("txn is not an object");
    TraceTxn txn;
    if (t.concurrent) {
      auto parents = tx.find("parents");
      auto agent = tx.find("agent");
      if (parents == tx.end() || !parents->is_array())
        return Status::Corruption("txn without parents");
      if (agent == tx.end() || !agent->is_number_unsigned() ||
          agent->get<uint64_t>() >= t.num_agents) {
        return Status::Corruption("txn agent missing or out of range");
      }
      txn.agent = static_cast<uint32_t>(agent->get<uint64_t>());
      for (const auto& p : *parents) {
        if (!p.is_number_unsigned() || p.get<uint64_t>() >= t.txns.size()) {
          return Status::Corruption("txn " + std::to_string(t.txns.size()) +
                                    " names a parent that is not an earlier txn");
        }
        txn.parents.push_back(p.get<uint64_t>());
      }
    }
    WEFT_RETURN_IF_ERROR(ParsePatches(tx, &txn, &t.patches));
    t.txns.push_back(std::move(txn));
  }
  return t;
}

}  // namespace

Result<Trace> LoadTrace(const std::string& path) {
  Result<std::string> data = ReadMaybeGzip(path);
  if (!data.ok()) return data.status();
  return Parse(*data);
}

}  // namespace weft::engine
