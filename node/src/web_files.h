// WebFiles: the files a node's HTTP listener serves (the editor page, the
// JavaScript API, the engine's WebAssembly), read once from a directory at
// start so requests never touch the disk.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::node {

struct WebFile {
  std::string content_type;
  std::string body;
};

class WebFiles {
 public:
  // Every regular file directly in `dir` whose name is made of [A-Za-z0-9._-]
  // (so no path can leave it), does not start with '.', has a type served
  // (.html .js .mjs .wasm .css .json .svg .txt .map) and is at most 16 MiB.
  // IoError when `dir` cannot be read; an empty `dir` gives no files.
  static Result<WebFiles> Load(const std::string& dir);

  // The file a request path names ("/" is index.html), or null.
  const WebFile* Find(std::string_view path) const;
  size_t size() const { return files_.size(); }

 private:
  std::map<std::string, WebFile, std::less<>> files_;
};

}  // namespace weft::node
