#include "subscriptions.h"

#include <algorithm>

namespace weft::node {

bool Subscriptions::Has(uint64_t conn, std::string_view doc) const {
  auto it = by_conn_.find(conn);
  return it != by_conn_.end() && it->second.contains(std::string(doc));
}

size_t Subscriptions::count(uint64_t conn) const {
  auto it = by_conn_.find(conn);
  return it == by_conn_.end() ? 0 : it->second.size();
}

bool Subscriptions::Add(uint64_t conn, const std::string& doc) {
  if (!by_conn_[conn].insert(doc).second) return false;
  ++subscribers_[doc];
  return true;
}

void Subscriptions::Answered(uint64_t conn, const std::string& doc) {
  std::vector<uint64_t>& conns = readers_[doc];
  if (std::find(conns.begin(), conns.end(), conn) == conns.end()) conns.push_back(conn);
}

std::span<const uint64_t> Subscriptions::Readers(std::string_view doc) const {
  auto it = readers_.find(doc);
  if (it == readers_.end()) return {};
  return it->second;
}

void Subscriptions::Remove(uint64_t conn, const std::function<void(const std::string& doc)>& left) {
  auto node = by_conn_.extract(conn);
  if (node.empty()) return;
  for (const std::string& doc : node.mapped()) {
    if (auto n = subscribers_.find(doc); n != subscribers_.end() && --n->second == 0) {
      subscribers_.erase(n);
    }
    if (auto it = readers_.find(doc); it != readers_.end()) {
      std::erase(it->second, conn);
      if (it->second.empty()) readers_.erase(it);
    }
  }
  for (const std::string& doc : node.mapped()) left(doc);
}

}  // namespace weft::node
