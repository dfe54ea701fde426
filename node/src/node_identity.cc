#include "node_identity.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <span>

namespace weft::node {

uint64_t RandomNodeId() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) | rd();
  return id;
}

Result<uint64_t> LoadOrCreateNodeId(persist::FileSystem* fs, const std::string& dir) {
  const std::string path = dir + "/node-id";
  Result<std::vector<std::string>> names = fs->List(dir);
  if (!names.ok()) return names.status();
  if (std::find(names->begin(), names->end(), "node-id") != names->end()) {
    Result<std::string> text = fs->ReadAll(path);
    if (!text.ok()) return text.status();
    std::string_view digits(*text);
    if (!digits.empty() && digits.back() == '\n') digits.remove_suffix(1);
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id, 16);
    if (ec != std::errc() || end != digits.data() + digits.size() || id == 0) {
      return Status::Corruption(path + " does not hold a node id");
    }
    return id;
  }
  uint64_t id = RandomNodeId();
  char text[20];
  int n = std::snprintf(text, sizeof text, "%llx\n", static_cast<unsigned long long>(id));
  WEFT_RETURN_IF_ERROR(
      fs->WriteAtomically(path, std::as_bytes(std::span(text, static_cast<size_t>(n)))));
  return id;
}

}  // namespace weft::node
