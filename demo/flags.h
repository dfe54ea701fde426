// A small flag parser for the `weft` subcommands: `--name value` pairs,
// repeatable where declared, plus --help. Errors are one line on stderr and
// exit code 2.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::demo {

class FlagParser {
 public:
  FlagParser(std::string command, std::string usage)
      : command_(std::move(command)), usage_(std::move(usage)) {}

  void String(const char* name, std::string* out, bool required = false) {
    flags_.push_back({name, Kind::kString, out, required});
  }
  void Strings(const char* name, std::vector<std::string>* out) {
    flags_.push_back({name, Kind::kStrings, out, false});
  }
  void Uint(const char* name, uint64_t* out) { flags_.push_back({name, Kind::kUint, out, false}); }
  void Double(const char* name, double* out) {
    flags_.push_back({name, Kind::kDouble, out, false});
  }
  // A switch: present means true; it takes no value.
  void Bool(const char* name, bool* out) { flags_.push_back({name, Kind::kBool, out, false}); }
  // Positional arguments (after the flags, or between them).
  void Positionals(std::vector<std::string>* out) { positionals_ = out; }

  // nullopt: parsed, go on. A value: exit with it now (0 after --help).
  std::optional<int> Parse(int argc, char** argv) {
    std::vector<bool> seen(flags_.size(), false);
    for (int i = 0; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::printf("usage: weft %s %s\n", command_.c_str(), usage_.c_str());
        return 0;
      }
      if (arg.substr(0, 2) != "--") {
        if (positionals_ == nullptr) return Error("unexpected argument '" + std::string(arg) + "'");
        positionals_->emplace_back(arg);
        continue;
      }
      size_t k = 0;
      while (k < flags_.size() && arg.substr(2) != flags_[k].name) ++k;
      if (k == flags_.size()) return Error("unknown flag " + std::string(arg));
      if (flags_[k].kind == Kind::kBool) {
        *static_cast<bool*>(flags_[k].out) = true;
        continue;
      }
      if (i + 1 >= argc) return Error(std::string(arg) + " needs a value");
      std::string value = argv[++i];
      seen[k] = true;
      if (!Store(flags_[k], value)) {
        return Error("bad value '" + value + "' for " + std::string(arg));
      }
    }
    for (size_t k = 0; k < flags_.size(); ++k) {
      if (flags_[k].required && !seen[k])
        return Error("--" + std::string(flags_[k].name) + " is required");
    }
    return std::nullopt;
  }

  // Prints "weft COMMAND: message" and returns 2, for the caller's own checks.
  int Error(const std::string& message) const {
    std::fprintf(stderr, "weft %s: %s (see 'weft %s --help')\n", command_.c_str(), message.c_str(),
                 command_.c_str());
    return 2;
  }

 private:
  enum class Kind { kString, kStrings, kUint, kDouble, kBool };
  struct Flag {
    const char* name;
    Kind kind;
    void* out;
    bool required;
  };

  static bool Store(const Flag& f, const std::string& value) {
    char* end = nullptr;
    switch (f.kind) {
      case Kind::kString:
        *static_cast<std::string*>(f.out) = value;
        return true;
      case Kind::kStrings:
        static_cast<std::vector<std::string>*>(f.out)->push_back(value);
        return true;
      case Kind::kUint: {
        if (value.empty() || value[0] == '-') return false;
        uint64_t v = std::strtoull(value.c_str(), &end, 0);
        if (*end != '\0') return false;
        *static_cast<uint64_t*>(f.out) = v;
        return true;
      }
      case Kind::kDouble: {
        double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || v < 0) return false;
        *static_cast<double*>(f.out) = v;
        return true;
      }
      case Kind::kBool:
        return false;  // switches take no value; Parse handles them
    }
    return false;
  }

  std::string command_;
  std::string usage_;
  std::vector<Flag> flags_;
  std::vector<std::string>* positionals_ = nullptr;
};

}  // namespace weft::demo
