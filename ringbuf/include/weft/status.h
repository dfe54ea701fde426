// Status and Result<T>: how every weft module reports an error without
// exceptions. Shared by all modules; lives in ringbuf because ringbuf depends
// on nothing but the standard library.
//
// OK is free: no allocation, two words. An error made from a string literal
// does not allocate either, so hot paths (an exhausted pool, a full ring) can
// return a Status without touching malloc. An error with a composed message
// allocates once and shares the text between copies.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace weft {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // the caller passed something malformed
  kOutOfRange,       // a position or length past the end
  kNotFound,
  kCorruption,         // untrusted bytes failed validation
  kResourceExhausted,  // a pool, ring or buffer is full: back off and retry
  kTooLarge,           // larger than the biggest pool slot: split it
  kFailedPrecondition,
  kUnavailable,  // closed, disconnected, shut down
  kIoError,
  kPermissionDenied,
  kInternal,
};

// Returns a stable lower-case name, e.g. "resource exhausted".
constexpr std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kOutOfRange:
      return "out of range";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kResourceExhausted:
      return "resource exhausted";
    case StatusCode::kTooLarge:
      return "too large";
    case StatusCode::kFailedPrecondition:
      return "failed precondition";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kIoError:
      return "i/o error";
    case StatusCode::kPermissionDenied:
      return "permission denied";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }

#define WEFT_STATUS_CTOR(Name, Code)            \
  template <size_t N>                           \
  static Status Name(const char(&literal)[N]) { \
    return Status(StatusCode::Code, literal);   \
  }                                             \
  static Status Name(std::string message) { return Status(StatusCode::Code, std::move(message)); }
  WEFT_STATUS_CTOR(InvalidArgument, kInvalidArgument)
  WEFT_STATUS_CTOR(OutOfRange, kOutOfRange)
  WEFT_STATUS_CTOR(NotFound, kNotFound)
  WEFT_STATUS_CTOR(Corruption, kCorruption)
  WEFT_STATUS_CTOR(ResourceExhausted, kResourceExhausted)
  WEFT_STATUS_CTOR(TooLarge, kTooLarge)
  WEFT_STATUS_CTOR(FailedPrecondition, kFailedPrecondition)
  WEFT_STATUS_CTOR(Unavailable, kUnavailable)
  WEFT_STATUS_CTOR(IoError, kIoError)
  WEFT_STATUS_CTOR(PermissionDenied, kPermissionDenied)
  WEFT_STATUS_CTOR(Internal, kInternal)
#undef WEFT_STATUS_CTOR

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }

  // The message without the code name; empty for OK.
  std::string_view message() const {
    if (owned_) return *owned_;
    return literal_ ? std::string_view(literal_) : std::string_view();
  }

  // "ok" or "<code name>: <message>".
  std::string ToString() const {
    std::string out(StatusCodeName(code_));
    if (!ok()) {
      out += ": ";
      out += message();
    }
    return out;
  }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    std::string msg(context);
    msg += ": ";
    msg += message();
    return Status(code_, std::move(msg));
  }

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message() == b.message();
  }

 private:
  Status(StatusCode code, const char* literal) : code_(code), literal_(literal) {}
  Status(StatusCode code, std::string message)
      : code_(code), owned_(std::make_shared<const std::string>(std::move(message))) {}

  StatusCode code_ = StatusCode::kOk;
  const char* literal_ = nullptr;             // static storage, never freed
  std::shared_ptr<const std::string> owned_;  // composed message, shared by copies
};

// A value or the Status saying why there is none. Shaped like std::expected so
// a later move to it is mechanical: has_value(), value(), operator*, error().
template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok(). A Result is never an OK status without a value.
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit on purpose
    assert(!status_.ok() && "Result built from an OK Status has no value");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK status");
  }
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  // Not for another Result: a Result<bool> is "constructible" from a
  // Result through its explicit operator bool, and a copy would become
  // Result(ok()).
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Status> && !std::is_same_v<std::decay_t<U>, Result>)
      Result(U&& value)
      : value_(std::forward<U>(value)) {}  // NOLINT: implicit on purpose

  bool ok() const { return value_.has_value(); }
  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  // OK when there is a value.
  const Status& status() const { return status_; }
  const Status& error() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace weft

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define WEFT_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::weft::Status weft_status_ = (expr);        \
    if (!weft_status_.ok()) return weft_status_; \
  } while (0)
