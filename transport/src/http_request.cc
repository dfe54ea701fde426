#include "weft/transport/http_request.h"

#include <http_parser.h>
#include <strings.h>

namespace weft::transport {

struct HttpRequestReader::Parser {
  http_parser parser{};
  http_parser_settings settings{};

  static HttpRequestReader& Reader(http_parser* p) {
    return *static_cast<HttpRequestReader*>(p->data);
  }

  // Header bytes count against the limit as they arrive, so a client
  // cannot make the reader keep an endless header.
  static bool Charge(HttpRequestReader& r, size_t n) {
    r.header_bytes_ += n;
    if (r.header_bytes_ <= kMaxHeaderBytes) return true;
    r.error_status_ = 431;
    r.error_ = "request header over " + std::to_string(kMaxHeaderBytes) + " bytes";
    return false;
  }

  static int OnUrl(http_parser* p, const char* at, size_t n) {
    HttpRequestReader& r = Reader(p);
    if (!Charge(r, n)) return 1;
    r.url_.append(at, n);
    return 0;
  }

  static int OnHeaderField(http_parser* p, const char* at, size_t n) {
    HttpRequestReader& r = Reader(p);
    if (!Charge(r, n)) return 1;
    if (r.field_done_) {
      r.field_.clear();
      r.field_done_ = false;
    }
    r.field_.append(at, n);
    return 0;
  }

  static int OnHeaderValue(http_parser* p, const char* at, size_t n) {
    HttpRequestReader& r = Reader(p);
    if (!Charge(r, n)) return 1;
    if (!r.field_done_) {
      r.field_done_ = true;
      r.value_ = Keep(r.request_, r.field_);
      if (r.value_ != nullptr) r.value_->clear();
    }
    if (r.value_ != nullptr) r.value_->append(at, n);
    return 0;
  }

  // Where the value of header `name` goes, or null for one not kept.
  static std::string* Keep(HttpRequest& req, const std::string& name) {
    struct Kept {
      const char* name;
      std::string HttpRequest::*field;
    };
    static constexpr Kept kKept[] = {
        {"upgrade", &HttpRequest::upgrade},
        {"connection", &HttpRequest::connection},
        {"sec-websocket-key", &HttpRequest::websocket_key},
        {"sec-websocket-version", &HttpRequest::websocket_version},
    };
    for (const Kept& k : kKept) {
      if (strcasecmp(name.c_str(), k.name) == 0) return &(req.*k.field);
    }
    return nullptr;
  }

  static int OnHeadersComplete(http_parser* p) {
    HttpRequestReader& r = Reader(p);
    r.request_.method = http_method_str(static_cast<http_method>(p->method));
    r.request_.keep_alive = http_should_keep_alive(p) != 0;
    r.request_.http_minor = p->http_minor;
    std::string_view url = r.url_;
    if (size_t hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
    size_t q = url.find('?');
    r.request_.path = std::string(url.substr(0, q));
    if (q != std::string_view::npos) r.request_.query = std::string(url.substr(q + 1));
    return 0;
  }

  static int OnBody(http_parser* p, const char*, size_t n) {
    HttpRequestReader& r = Reader(p);
    r.body_bytes_ += n;
    if (r.body_bytes_ <= kMaxBodyBytes) return 0;
    r.error_status_ = 413;
    r.error_ = "request body over " + std::to_string(kMaxBodyBytes) + " bytes";
    return 1;
  }

  static int OnMessageComplete(http_parser* p) {
    HttpRequestReader& r = Reader(p);
    r.complete_ = true;
    // Stop here: the caller answers this request before reading the next.
    http_parser_pause(p, 1);
    return 0;
  }
};

HttpRequestReader::HttpRequestReader() : parser_(std::make_unique<Parser>()) {
  http_parser_settings_init(&parser_->settings);
  parser_->settings.on_url = Parser::OnUrl;
  parser_->settings.on_header_field = Parser::OnHeaderField;
  parser_->settings.on_header_value = Parser::OnHeaderValue;
  parser_->settings.on_headers_complete = Parser::OnHeadersComplete;
  parser_->settings.on_body = Parser::OnBody;
  parser_->settings.on_message_complete = Parser::OnMessageComplete;
  Next();
}

HttpRequestReader::~HttpRequestReader() = default;

void HttpRequestReader::Next() {
  http_parser_init(&parser_->parser, HTTP_REQUEST);
  parser_->parser.data = this;
  request_ = HttpRequest();
  url_.clear();
  field_.clear();
  value_ = nullptr;
  field_done_ = false;
  header_bytes_ = 0;
  body_bytes_ = 0;
  complete_ = false;
  error_status_ = 400;
  error_.clear();
}

HttpRequestReader::State HttpRequestReader::Feed(std::string_view bytes, size_t* consumed) {
  http_parser* p = &parser_->parser;
  size_t n = http_parser_execute(p, &parser_->settings, bytes.data(), bytes.size());
  *consumed = n;
  http_errno err = HTTP_PARSER_ERRNO(p);
  if (complete_) {
    // Paused by OnMessageComplete: un-pause for the next request.
    if (err == HPE_PAUSED) http_parser_pause(p, 0);
    request_.is_upgrade = p->upgrade != 0;
    return State::kRequest;
  }
  if (err != HPE_OK) {
    if (error_.empty()) error_ = std::string("bad request: ") + http_errno_description(err);
    return State::kError;
  }
  return State::kNeedMore;
}

}  // namespace weft::transport
