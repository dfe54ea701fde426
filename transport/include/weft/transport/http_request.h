// HttpRequestReader: reads HTTP/1.x requests off a byte stream (with
// libhttp-parser), one at a time, keeping only what the node's HTTP
// listener routes on: method, path, query and a few headers.
//
//   Feed(bytes) -> kNeedMore | kRequest (request() is complete) | kError
//
// After kRequest, `consumed` says where the request ended; the caller
// answers it, calls Next() and feeds the rest (keep-alive, pipelining). An
// upgrade request (WebSocket) ends the HTTP part of the stream: the bytes
// after it belong to the new protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace weft::transport {

struct HttpRequest {
  std::string method;             // "GET", ...
  std::string path;               // "/index.html", without the query
  std::string query;              // after '?', without the '#...' part
  std::string upgrade;            // the Upgrade header
  std::string connection;         // the Connection header
  std::string websocket_key;      // Sec-WebSocket-Key
  std::string websocket_version;  // Sec-WebSocket-Version
  bool keep_alive = false;        // the client keeps the connection open
  bool is_upgrade = false;        // the parser saw Upgrade + Connection: upgrade
  int http_minor = 0;             // HTTP/1.x
};

class HttpRequestReader {
 public:
  enum class State { kNeedMore, kRequest, kError };

  // Most bytes of a request line and headers (431 past it), and of a body
  // (the node's routes take none; 413 past it).
  static constexpr size_t kMaxHeaderBytes = 16 << 10;
  static constexpr size_t kMaxBodyBytes = 64 << 10;

  HttpRequestReader();
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Parses `bytes`; `*consumed` gets how many were used (all, unless a
  // request completed inside them).
  State Feed(std::string_view bytes, size_t* consumed);
  // Forgets the request just read, ready for the next one.
  void Next();

  const HttpRequest& request() const { return request_; }
  // For kError: the status to answer with (400, 413, 431) and why.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  struct Parser;  // http_parser and its settings (http_request.cc)
  friend struct Parser;

  std::unique_ptr<Parser> parser_;
  HttpRequest request_;
  std::string url_;
  std::string field_;             // the header name being read
  std::string* value_ = nullptr;  // where its value goes (null: not kept)
  bool field_done_ = false;
  size_t header_bytes_ = 0;
  size_t body_bytes_ = 0;
  bool complete_ = false;
  int error_status_ = 400;
  std::string error_;
};

}  // namespace weft::transport
