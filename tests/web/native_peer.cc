// native_peer: native replicas (the C API, libweft.so) and native trace
// replays behind a line protocol on stdin/stdout, so tests running the
// WebAssembly engine under Node.js can compare it with the native one.
//
//   new ID AGENT              -> ok
//   insert ID POS HEX         -> ok | err MESSAGE     (POS in code points, HEX = UTF-8)
//   delete ID POS COUNT       -> ok | err MESSAGE
//   text ID                   -> ok HEX
//   version ID                -> ok HEX               (weft.h's version bytes)
//   encode ID SINCE_HEX       -> ok HEX               (SINCE_HEX "-" = empty version)
//   apply ID HEX              -> ok | err MESSAGE
//   snapshot ID               -> ok HEX
//   replay TRACE_PATH         -> ok UPDATE_HEX SNAPSHOT_HEX   (replica 0 / the only one)
//
// One command per line, one answer per line; ends at end of input.
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "weft.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"

namespace {

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Unhex(const std::string& hex) {
  if (hex == "-") return {};
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string Answer(weft_status s, std::string_view payload = {}) {
  if (s != WEFT_OK) return std::string("err ") + weft_last_error();
  return payload.empty() ? "ok" : "ok " + Hex(payload);
}

// Runs a C API call that returns a buffer; answers with it.
template <typename Call>
std::string Buffer(Call call) {
  uint8_t* buf = nullptr;
  size_t len = 0;
  weft_status s = call(&buf, &len);
  std::string out = s == WEFT_OK ? std::string(reinterpret_cast<char*>(buf), len) : "";
  weft_free(buf);
  return s == WEFT_OK ? "ok " + Hex(out) : Answer(s);
}

std::string Replay(const std::string& path) {
  weft::Result<weft::engine::Trace> trace = weft::engine::LoadTrace(path);
  if (!trace.ok()) return "err " + trace.status().ToString();
  std::vector<weft::engine::Doc> replicas;
  if (trace->concurrent) {
    weft::Status s = weft::engine::ReplayConcurrent(*trace, replicas);
    if (!s.ok()) return "err " + s.ToString();
  } else {
    replicas.emplace_back(weft::engine::TraceAgentId(0));
    weft::Status s = weft::engine::ReplaySequential(*trace, replicas[0]);
    if (!s.ok()) return "err " + s.ToString();
  }
  const weft::engine::Doc& doc = replicas[0];
  return "ok " + Hex(doc.EncodeOpsSince({})) + " " + Hex(doc.EncodeSnapshot());
}

}  // namespace

int main() {
  std::map<std::string, weft_doc*> docs;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, id;
    in >> cmd;
    std::string out;
    if (cmd == "replay") {
      std::string path;
      in >> path;
      out = Replay(path);
    } else {
      in >> id;
      if (cmd == "new") {
        uint64_t agent = 0;
        in >> agent;
        weft_doc* d = nullptr;
        weft_status s = weft_doc_new(agent, &d);
        if (s == WEFT_OK) docs[id] = d;
        out = Answer(s);
      } else if (docs.count(id) == 0) {
        out = "err no doc " + id;
      } else {
        weft_doc* d = docs[id];
        std::string a, b;
        in >> a >> b;
        if (cmd == "insert") {
          std::string text = Unhex(b);
          out = Answer(weft_doc_insert(d, std::stoull(a), text.data(), text.size()));
        } else if (cmd == "delete") {
          out = Answer(weft_doc_delete(d, std::stoull(a), std::stoull(b)));
        } else if (cmd == "text") {
          out = Buffer([&](uint8_t** p, size_t* n) {
            return weft_doc_text(d, reinterpret_cast<char**>(p), n);
          });
        } else if (cmd == "version") {
          out = Buffer([&](uint8_t** p, size_t* n) { return weft_doc_version(d, p, n); });
        } else if (cmd == "encode") {
          std::string since = Unhex(a);
          out = Buffer([&](uint8_t** p, size_t* n) {
            return weft_doc_encode_since(d, reinterpret_cast<const uint8_t*>(since.data()),
                                         since.size(), p, n);
          });
        } else if (cmd == "apply") {
          std::string update = Unhex(a);
          out = Answer(
              weft_doc_apply(d, reinterpret_cast<const uint8_t*>(update.data()), update.size()));
        } else if (cmd == "snapshot") {
          out = Buffer([&](uint8_t** p, size_t* n) { return weft_doc_snapshot(d, p, n); });
        } else {
          out = "err unknown command " + cmd;
        }
      }
    }
    std::cout << out << '\n' << std::flush;
  }
  for (auto& [id, d] : docs) weft_doc_free(d);
  return 0;
}
