#include "web_files.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace weft::node {
namespace {

constexpr uintmax_t kMaxFileBytes = 16 << 20;

// The Content-Type for a file name, or "" for a type not served.
std::string_view TypeOf(std::string_view name) {
  struct Type {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      // WebAssembly.instantiateStreaming insists on this type.
      {".wasm", "application/wasm"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  for (const Type& t : kTypes) {
    if (name.size() > t.ext.size() && name.ends_with(t.ext)) return t.type;
  }
  return {};
}

bool SafeName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<WebFiles> WebFiles::Load(const std::string& dir) {
  WebFiles out;
  if (dir.empty()) return out;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Status::IoError("cannot read web directory " + dir + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    std::string_view type = TypeOf(name);
    if (!SafeName(name) || type.empty() || !entry.is_regular_file(ec)) continue;
    if (entry.file_size(ec) > kMaxFileBytes || ec) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Status::IoError("cannot read " + entry.path().string());
    out.files_.emplace(std::move(name), WebFile{std::string(type), std::move(body)});
  }
  return out;
}

const WebFile* WebFiles::Find(std::string_view path) const {
  if (path == "/") path = "/index.html";
  if (!path.starts_with('/')) return nullptr;
  auto it = files_.find(path.substr(1));
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace weft::node
