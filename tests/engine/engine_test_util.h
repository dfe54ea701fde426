// Shared vocabulary for the engine tests: trace location, property test
// sizes, and "the Doc did not change" checks.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "weft/engine/doc.h"

namespace weft::engine::testing {

// WEFT_TRACES_DIR from the environment, else the build's default.
inline std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env && *env ? env : WEFT_TRACES_DIR;
}

// Number of random scenarios for property tests: WEFT_PROPERTY_SCENARIOS if
// set, else `fallback`.
inline int PropertyScenarios(int fallback) {
  const char* env = std::getenv("WEFT_PROPERTY_SCENARIOS");
  if (env && *env) return std::atoi(env);
  return fallback;
}

// What must stay the same when an operation fails.
struct DocState {
  std::string text;
  VersionVector version;
  size_t pending = 0;
  friend bool operator==(const DocState&, const DocState&) = default;
};

// The UTF-8 characters of valid UTF-8 `s`, one string per code point.
inline std::vector<std::string> CodePoints(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t w = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out.push_back(s.substr(i, w));
    i += w;
  }
  return out;
}

inline DocState StateOf(const Doc& doc) {
  return DocState{doc.Text(), doc.version(), doc.pending_ops()};
}

}  // namespace weft::engine::testing
