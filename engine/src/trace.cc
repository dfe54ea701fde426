// Trace loading: gzip (or plain) JSON into a Trace, validated. The JSON is
// read with a SAX handler straight into the Trace: a DOM of a trace with
// millions of edits would take many times the trace's size.
#include "weft/engine/trace.h"

#include <zlib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// Builds a Trace from SAX events. Where a value sits is tracked by a stack of
// contexts; anything the trace format does not name is skipped.
class TraceHandler : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit TraceHandler(Trace* trace) : t_(trace) {}

  const Status& status() const { return status_; }
  bool saw_kind() const { return saw_kind_; }
  bool saw_end() const { return saw_end_; }
  bool saw_txns() const { return saw_txns_; }
  bool saw_num_agents() const { return saw_num_agents_; }

  bool null() override { return Scalar("null"); }
  bool boolean(bool) override { return Scalar("a boolean"); }
  bool number_integer(number_integer_t v) override {
    if (v < 0) return Scalar("a negative number");
    return number_unsigned(static_cast<number_unsigned_t>(v));
  }
  bool number_float(number_float_t, const string_t&) override { return Scalar("a fraction"); }
  bool binary(binary_t&) override { return Scalar("binary"); }

  bool number_unsigned(number_unsigned_t v) override {
    switch (Top()) {
      case Where::kTop:
        if (key_ == "numAgents") {
          if (v == 0 || v > (1u << 16)) return Fail("numAgents out of range");
          t_->num_agents = static_cast<uint32_t>(v);
          saw_num_agents_ = true;
        }
        return true;
      case Where::kTxn:
        if (key_ == "agent") {
          if (v > UINT32_MAX) return Fail("txn agent out of range");
          t_->txns.back().agent = static_cast<uint32_t>(v);
          saw_agent_ = true;
        }
        return true;
      case Where::kParents:
        t_->txns.back().parents.push_back(v);
        return true;
      case Where::kPatch:
        if (field_ == 0) {
          t_->txns.back().patches.back().pos = v;
        } else if (field_ == 1) {
          t_->txns.back().patches.back().del = v;
        } else {
          return Fail("patch is not [pos, numDeleted, \"text\"]");
        }
        ++field_;
        return true;
      default:
        return Scalar("a number");
    }
  }

  bool string(string_t& v) override {
    switch (Top()) {
      case Where::kTop:
        if (key_ == "kind") {
          if (v == "concurrent") {
            t_->concurrent = true;
          } else if (v != "sequential") {
            return Fail("unknown kind '" + v + "'");
          }
          saw_kind_ = true;
        } else if (key_ == "endContent") {
          t_->end_content = std::move(v);
          saw_end_ = true;
        } else if (key_ == "startContent") {
          t_->start_content = std::move(v);
        }
        return true;
      case Where::kPatch:
        if (field_ != 2) return Fail("patch is not [pos, numDeleted, \"text\"]");
        t_->txns.back().patches.back().text = std::move(v);
        ++field_;
        return true;
      default:
        return Scalar("a string");
    }
  }

  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }

  bool start_object(std::size_t) override {
    Where parent = stack_.empty() ? Where::kRoot : Top();
    if (parent == Where::kRoot) return Push(Where::kTop);
    if (parent == Where::kTxns) {
      t_->txns.emplace_back();
      saw_agent_ = false;
      saw_patches_ = false;
      return Push(Where::kTxn);
    }
    if (parent == Where::kTop && (key_ == "txns")) return Fail("txns is not an array");
    if (parent == Where::kPatches || parent == Where::kParents || parent == Where::kPatch) {
      return Fail("unexpected object in a txn");
    }
    return Push(Where::kIgnore);
  }

  bool end_object() override {
    if (Top() == Where::kTxn) {
      if (!saw_patches_) return Fail("txn without patches array");
      if (t_->concurrent && !saw_agent_) {
        // The kind may come after txns; checked again at the end.
        missing_agent_ = true;
      }
    }
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t) override {
    Where parent = stack_.empty() ? Where::kRoot : Top();
    if (parent == Where::kRoot) return Fail("trace is not a JSON object");
    if (parent == Where::kTop && key_ == "txns") {
      saw_txns_ = true;
      return Push(Where::kTxns);
    }
    if (parent == Where::kTxn && key_ == "parents") return Push(Where::kParents);
    if (parent == Where::kTxn && key_ == "patches") {
      saw_patches_ = true;
      return Push(Where::kPatches);
    }
    if (parent == Where::kPatches) {
      t_->txns.back().patches.emplace_back();
      ++t_->patches;
      field_ = 0;
      return Push(Where::kPatch);
    }
    if (parent == Where::kTxns || parent == Where::kParents || parent == Where::kPatch) {
      return Fail("unexpected array in a txn");
    }
    return Push(Where::kIgnore);
  }

  bool end_array() override {
    if (Top() == Where::kPatch && field_ != 3)
      return Fail("patch is not [pos, numDeleted, \"text\"]");
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    if (status_.ok()) {
      status_ = Status::Corruption("not valid JSON (at byte " + std::to_string(position) + ")");
    }
    return false;
  }

  bool missing_agent() const { return missing_agent_; }

 private:
  enum class Where { kRoot, kTop, kTxns, kTxn, kParents, kPatches, kPatch, kIgnore };

  Where Top() const { return stack_.empty() ? Where::kRoot : stack_.back(); }
  bool Push(Where w) {
    stack_.push_back(Top() == Where::kIgnore ? Where::kIgnore : w);
    return true;
  }
  // A scalar where the format has none is an error; elsewhere it is skipped.
  bool Scalar(const char* what) {
    Where w = Top();
    if (w == Where::kParents || w == Where::kPatch || w == Where::kTxns || w == Where::kPatches) {
      return Fail(std::string("unexpected ") + what + " in a txn");
    }
    if (w == Where::kRoot) return Fail("trace is not a JSON object");
    return true;
  }
  bool Fail(std::string msg) {
    if (status_.ok()) status_ = Status::Corruption(std::move(msg));
    return false;
  }

  Trace* t_;
  Status status_;
  std::vector<Where> stack_;
  std::string key_;
  int field_ = 0;
  bool saw_kind_ = false, saw_end_ = false, saw_txns_ = false, saw_num_agents_ = false;
  bool saw_agent_ = false, saw_patches_ = false, missing_agent_ = false;
};

Result<Trace> Parse(const std::string& data) {
  Trace t;
  TraceHandler handler(&t);
  bool parsed = nlohmann::json::sax_parse(data, &handler);
  if (!handler.status().ok()) return handler.status();
  if (!parsed) return Status::Corruption("not valid JSON");
  if (!handler.saw_end()) return Status::Corruption("missing endContent");
  if (!handler.saw_txns()) return Status::Corruption("missing txns array");
  if (!t.concurrent) return t;
  if (!handler.saw_num_agents()) return Status::Corruption("numAgents missing or out of range");
  if (!t.start_content.empty()) return Status::Corruption("concurrent trace with startContent");
  if (handler.missing_agent()) return Status::Corruption("txn agent missing or out of range");
  for (size_t i = 0; i < t.txns.size(); ++i) {
    if (t.txns[i].agent >= t.num_agents)
      return Status::Corruption("txn agent missing or out of range");
    for (uint64_t p : t.txns[i].parents) {
      if (p >= i) {
        return Status::Corruption("txn " + std::to_string(i) +
                                  " names a parent that is not an earlier txn");
      }
    }
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
