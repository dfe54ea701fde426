// ImportOrder: a walk of a history's causal graph for HistoryImporter.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <utility>
#include <vector>

#include "weft/engine/history_import.h"

namespace weft::engine {

Result<std::vector<uint32_t>> ImportOrder(const std::vector<std::vector<uint32_t>>& parents,
                                          const std::vector<uint64_t>& weight) {
  if (parents.size() >= UINT32_MAX) return Status::InvalidArgument("too many txns");
  const uint32_t n = static_cast<uint32_t>(parents.size());
  // Distinct parents, then each txn's children as one array
  // (children_of[child_begin[t] .. child_begin[t + 1])).
  std::vector<uint32_t> missing(n, 0);  // parents not yet in the order
  std::vector<uint32_t> child_begin(n + 1, 0);
  std::vector<uint32_t> ps;
  auto distinct = [&](uint32_t i) -> const std::vector<uint32_t>& {
    ps = parents[i];
    if (ps.size() > 1) {
      std::sort(ps.begin(), ps.end());
      ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
    }
    return ps;
  };
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t p : distinct(i)) {
      if (p >= i) return Status::InvalidArgument("a parent is not an earlier txn");
      ++child_begin[p + 1];
    }
    missing[i] = static_cast<uint32_t>(ps.size());
  }
  for (uint32_t i = 0; i < n; ++i) child_begin[i + 1] += child_begin[i];
  std::vector<uint32_t> children_of(child_begin[n]);
  std::vector<uint32_t> fill(child_begin.begin(), child_begin.end() - 1);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t p : distinct(i)) children_of[fill[p]++] = i;
  }
  auto children = [&](uint32_t t) {
    return std::span<const uint32_t>(children_of.data() + child_begin[t],
                                     child_begin[t + 1] - child_begin[t]);
  };
  // The weight of the stretch a txn starts: itself and the chain of single
  // children after it, up to the next fork or merge. When the walk has to
  // jump, it takes the lightest stretch that is ready: what it leaves
  // behind is retreated, and comes back (advanced) where the branches
  // merge.
  std::vector<uint64_t> stretch(n, 0);
  for (uint32_t i = n; i-- > 0;) {
    stretch[i] = i < weight.size() ? weight[i] : 1;
    if (children(i).size() == 1 && missing[children(i)[0]] == 1) {
      stretch[i] += stretch[children(i)[0]];
    }
  }
  using Ready = std::pair<uint64_t, uint32_t>;  // (stretch, txn)
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
  for (uint32_t i = 0; i < n; ++i) {
    if (missing[i] == 0) ready.push(Ready{stretch[i], i});
  }
  // Txns that became ready as the only child of the one just added are
  // taken next without going through `ready`.
  std::vector<uint8_t> done(n, 0);
  std::vector<uint32_t> order;
  order.reserve(n);
  uint32_t last = n;
  while (order.size() < n) {
    // A ready child of the txn just added continues its branch for free.
    uint32_t next = n;
    if (last < n) {
      for (uint32_t c : children(last)) {
        if (missing[c] == 0 && !done[c] && (next == n || stretch[c] < stretch[next])) next = c;
      }
    }
    while (next == n) {
      uint32_t i = ready.top().second;
      ready.pop();
      if (!done[i]) next = i;
    }
    done[next] = 1;
    order.push_back(next);
    last = next;
    for (uint32_t c : children(next)) {
      if (--missing[c] == 0 && children(next).size() > 1) ready.push(Ready{stretch[c], c});
    }
  }
  return order;
}

}  // namespace weft::engine
