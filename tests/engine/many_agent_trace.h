// ManyAgentTrace: a concurrent trace with many agents, made by editing real
// replicas, for the replay and import tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "weft/engine/doc.h"
#include "weft/engine/trace.h"

namespace weft::engine::testing {

// A concurrent history with many agents and merges, made by editing real
// replicas: replaying it must rebuild every txn's parent version exactly.
inline Trace ManyAgentTrace(uint32_t agents, int txns, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Trace t;
  t.concurrent = true;
  t.num_agents = agents;
  std::vector<Doc> reps;
  for (uint32_t k = 0; k < agents; ++k) reps.emplace_back(TraceAgentId(k));
  std::vector<VersionVector> after;
  std::vector<int> last(agents, -1);
  for (int i = 0; i < txns; ++i) {
    uint32_t a = static_cast<uint32_t>(rng() % agents);
    TraceTxn txn;
    txn.agent = a;
    if (last[a] >= 0) txn.parents.push_back(static_cast<uint64_t>(last[a]));
    for (uint64_t e = rng() % 3; e > 0 && i > 0; --e) {
      uint64_t p = static_cast<uint64_t>(i) - 1 - rng() % std::min(i, 20);
      if (std::find(txn.parents.begin(), txn.parents.end(), p) == txn.parents.end()) {
        txn.parents.push_back(p);
      }
    }
    VersionVector target;
    for (uint64_t p : txn.parents) target.Merge(after[p]);
    for (const auto& [agent, next] : target.entries()) {
      if (reps[a].known_seqs(agent) < next) {
        EXPECT_TRUE(
            reps[a].ApplyUpdate(reps[agent - 1].EncodeOpsSince(reps[a].version(), &target)).ok());
      }
    }
    EXPECT_EQ(reps[a].version(), target);
    for (uint64_t k = 1 + rng() % 3; k > 0; --k) {
      uint64_t size = reps[a].size();
      TracePatch p;
      if (size > 0 && rng() % 3 == 0) {
        p.pos = rng() % size;
        p.del = 1 + rng() % std::min<uint64_t>(size - p.pos, 4);
        EXPECT_TRUE(reps[a].Remove(p.pos, p.del, nullptr).ok());
      } else {
        p.pos = rng() % (size + 1);
        p.text = std::string(1 + rng() % 5, static_cast<char>('a' + a % 26));
        EXPECT_TRUE(reps[a].Insert(p.pos, p.text, nullptr).ok());
      }
      txn.patches.push_back(p);
      ++t.patches;
    }
    t.txns.push_back(std::move(txn));
    after.push_back(reps[a].version());
    last[a] = i;
  }
  for (uint32_t k = 1; k < agents; ++k) {
    EXPECT_TRUE(reps[0].ApplyUpdate(reps[k].EncodeOpsSince(reps[0].version())).ok());
  }
  t.end_content = reps[0].Text();
  return t;
}

}  // namespace weft::engine::testing
