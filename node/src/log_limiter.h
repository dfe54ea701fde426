// LogLimiter: lets through at most a few lines of one kind per interval,
// so a peer that repeats a fault cannot flood the node's log; what it held
// back is counted in the next line it lets through.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace weft::node {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LogLimiter(uint32_t lines_per_interval, Clock::duration interval)
      : max_lines_(lines_per_interval), interval_(interval) {}

  // `line`, with a note of the lines held back since the last one, if it
  // may be logged now; empty if not. Loop thread (not thread-safe).
  std::string Admit(const std::string& line, Clock::time_point now = Clock::now()) {
    if (now - window_start_ >= interval_) {
      window_start_ = now;
      lines_ = 0;
    }
    if (lines_ == max_lines_) {
      ++held_back_;
      return {};
    }
    ++lines_;
    if (held_back_ == 0) return line;
    std::string out = line + " (" + std::to_string(held_back_) + " similar line(s) held back)";
    held_back_ = 0;
    return out;
  }

 private:
  const uint32_t max_lines_;
  const Clock::duration interval_;
  Clock::time_point window_start_{};
  uint32_t lines_ = 0;
  uint64_t held_back_ = 0;
};

}  // namespace weft::node
