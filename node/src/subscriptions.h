// Subscriptions: which connections subscribed to which documents, on the
// loop thread. A subscription counts from its Subscribe (the document is in
// use); its connection receives the document's relays once its worker has
// answered it (kSubscribed), so a relay never overtakes the catch-up.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace weft::node {

class Subscriptions {
 public:
  bool Has(uint64_t conn, std::string_view doc) const;
  // Documents `conn` subscribed to.
  size_t count(uint64_t conn) const;
  // A Subscribe from `conn` to `doc`; false if it had one already.
  bool Add(uint64_t conn, const std::string& doc);
  // `doc`'s worker answered `conn`'s subscription: relays go to it from now.
  void Answered(uint64_t conn, const std::string& doc);
  // The answered subscribers of `doc`, whom its relays go to.
  std::span<const uint64_t> Readers(std::string_view doc) const;
  // Anyone subscribed to `doc`, answered or not.
  bool InUse(std::string_view doc) const { return subscribers_.contains(doc); }
  // `conn` closed: forgets its subscriptions, then calls `left` with each
  // document it had subscribed to.
  void Remove(uint64_t conn, const std::function<void(const std::string& doc)>& left);

 private:
  // Looked up by string_view without a copy (one lookup per relay).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  template <typename V>
  using ByName = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

  ByName<std::vector<uint64_t>> readers_;
  // Per document, how many connections subscribed to it, answered or not.
  // A count, so that a closing connection's names are looked up once each,
  // not against every other connection's subscriptions.
  ByName<uint32_t> subscribers_;
  std::unordered_map<uint64_t, std::unordered_set<std::string>> by_conn_;
};

}  // namespace weft::node
