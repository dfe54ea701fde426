// Convergence properties: replicas editing concurrently, ops delivered in
// random orders with duplicates and partial syncs, always end identical.
// Also non-interleaving of runs typed concurrently at one place.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "weft/engine/doc.h"

namespace weft::engine {
namespace {

// The characters an editor shows, patched only by the Doc's change events.
class EditorBuffer {
 public:
  void Apply(const Delta& delta) {
    size_t pos = 0;
    for (const DeltaStep& s : delta) {
      switch (s.kind) {
        case DeltaStep::Kind::kRetain:
          pos += s.count;
          break;
        case DeltaStep::Kind::kInsert: {
          std::vector<std::string> chars = Chars(s.text);
          chars_.insert(chars_.begin() + pos, chars.begin(), chars.end());
          pos += chars.size();
          break;
        }
        case DeltaStep::Kind::kDelete:
          chars_.erase(chars_.begin() + pos, chars_.begin() + pos + s.count);
          break;
      }
    }
  }
  // Local edits are not reported as events: the editor made them itself.
  void Insert(size_t pos, const std::string& text) {
    std::vector<std::string> chars = Chars(text);
    chars_.insert(chars_.begin() + pos, chars.begin(), chars.end());
  }
  void Remove(size_t pos, size_t len) {
    chars_.erase(chars_.begin() + pos, chars_.begin() + pos + len);
  }
  std::string Text() const {
    std::string out;
    for (const std::string& c : chars_) out += c;
    return out;
  }
  static std::vector<std::string> Chars(const std::string& s) { return testing::CodePoints(s); }

 private:
  std::vector<std::string> chars_;
};

struct Replica {
  explicit Replica(uint64_t agent) : doc(agent) {}
  Doc doc;
  EditorBuffer editor;
};

struct Message {
  size_t to;
  Ops ops;
};

std::string RandomText(std::mt19937_64& rng) {
  static const char* kChars[] = {"a", "b", "c", "d", "é", "€", "𝄞", " "};
  size_t n = rng() % 8 == 0 ? 8 + rng() % 24 : 1 + rng() % 4;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kChars[rng() % 8];
  return s;
}

void RunScenario(uint64_t seed) {
  std::mt19937_64 rng(seed);
  size_t n = 3 + rng() % 3;
  std::vector<Replica> replicas;
  for (size_t i = 0; i < n; ++i) {
    // Agent ids spread over the 64-bit range, so the tie-break sees big ones.
    replicas.emplace_back((rng() % 4 == 0 ? rng() : rng() % 16) * n + i);
  }
  for (Replica& r : replicas) {
    r.doc.SetChangeListener([&r](const Delta& d) { r.editor.Apply(d); });
  }
  std::vector<Message> network;
  size_t hot = 0;  // a position several replicas type at
  int steps = 10 + static_cast<int>(rng() % 40);
  for (int step = 0; step < steps; ++step) {
    uint64_t action = rng() % 10;
    Replica& r = replicas[rng() % n];
    uint64_t size = r.doc.size();
    if (action < 5) {
      size_t pos = rng() % 2 ? std::min<uint64_t>(hot, size) : rng() % (size + 1);
      std::string text = RandomText(rng);
      Result<Ops> ops = r.doc.Insert(pos, text);
      ASSERT_TRUE(ops.ok()) << ops.status().ToString();
      r.editor.Insert(pos, text);
      for (size_t to = 0; to < n; ++to) network.push_back(Message{to, *ops});
    } else if (action < 7 && size > 0) {
      size_t pos = rng() % size;
      size_t len = 1 + rng() % std::min<uint64_t>(size - pos, 6);
      Result<Ops> ops = r.doc.Remove(pos, len);
      ASSERT_TRUE(ops.ok()) << ops.status().ToString();
      r.editor.Remove(pos, len);
      for (size_t to = 0; to < n; ++to) network.push_back(Message{to, *ops});
    } else if (action < 9 && !network.empty()) {
      // Deliver a random message; sometimes leave it queued to deliver twice.
      size_t k = rng() % network.size();
      Message m = network[k];
      if (rng() % 4 != 0) network.erase(network.begin() + k);
      if (rng() % 3 == 0 && m.ops.size() > 1) std::shuffle(m.ops.begin(), m.ops.end(), rng);
      ASSERT_TRUE(replicas[m.to].doc.Apply(m.ops).ok());
    } else if (rng() % 8 == 0) {
      // Restart from a snapshot: the replica goes on editing and merging
      // with state it did not build itself (Pending is not in a snapshot;
      // the final sync brings those ops again from their authors).
      Result<Doc> loaded = Doc::LoadSnapshot(r.doc.EncodeSnapshot(), r.doc.agent());
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      ASSERT_EQ(loaded->Text(), r.doc.Text());
      r.doc = std::move(*loaded);
      r.doc.SetChangeListener([&r](const Delta& d) { r.editor.Apply(d); });
    } else {
      Replica& from = replicas[rng() % n];
      ASSERT_TRUE(r.doc.ApplyUpdate(from.doc.EncodeOpsSince(r.doc.version())).ok());
    }
    hot = rng() % 3 == 0 ? rng() % 8 : hot;
  }
  std::shuffle(network.begin(), network.end(), rng);
  for (const Message& m : network) ASSERT_TRUE(replicas[m.to].doc.Apply(m.ops).ok());
  for (size_t k = 1; k < n; ++k) {
    ASSERT_TRUE(replicas[0]
                    .doc.ApplyUpdate(replicas[k].doc.EncodeOpsSince(replicas[0].doc.version()))
                    .ok());
  }
  for (size_t k = 1; k < n; ++k) {
    ASSERT_TRUE(replicas[k]
                    .doc.ApplyUpdate(replicas[0].doc.EncodeOpsSince(replicas[k].doc.version()))
                    .ok());
  }
  const std::string text = replicas[0].doc.Text();
  for (size_t k = 0; k < n; ++k) {
    SCOPED_TRACE("replica " + std::to_string(k));
    const Doc& d = replicas[k].doc;
    ASSERT_EQ(d.Text(), text);
    ASSERT_EQ(d.version(), replicas[0].doc.version());
    ASSERT_EQ(d.pending_ops(), 0u);
    ASSERT_TRUE(d.CheckInvariants().ok()) << d.CheckInvariants().ToString();
    ASSERT_EQ(replicas[k].editor.Text(), text) << "change events went out of step";
  }
  // The merged history and the snapshot give the same document.
  Doc merged(~uint64_t{0});
  ASSERT_TRUE(merged.ApplyUpdate(replicas[n - 1].doc.EncodeOpsSince(VersionVector())).ok());
  ASSERT_EQ(merged.Text(), text);
  Result<Doc> loaded = Doc::LoadSnapshot(replicas[1].doc.EncodeSnapshot(), 7);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->Text(), text);
  ASSERT_TRUE(loaded->CheckInvariants().ok());
}

TEST(Convergence, RandomConcurrentEditsConverge) {
  // WEFT_PROPERTY_SCENARIOS overrides the count for long runs.
  const int scenarios = testing::PropertyScenarios(10'000);
  for (int i = 0; i < scenarios; ++i) {
    uint64_t seed = 0x5eed0000 + static_cast<uint64_t>(i);
    SCOPED_TRACE("seed " + std::to_string(seed));
    RunScenario(seed);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Typing `word` at `pos`: forwards (each character after the previous one)
// or backwards (each character at `pos`, pushing the earlier ones right).
Ops Type(Doc& doc, uint64_t pos, const std::string& word, bool forwards) {
  Ops all;
  std::vector<std::string> chars = EditorBuffer::Chars(word);
  for (size_t i = 0; i < chars.size(); ++i) {
    const std::string& c = forwards ? chars[i] : chars[chars.size() - 1 - i];
    Result<Ops> ops = doc.Insert(forwards ? pos + i : pos, c);
    EXPECT_TRUE(ops.ok());
    all.insert(all.end(), ops->begin(), ops->end());
  }
  return all;
}

TEST(NonInterleaving, ConcurrentWordsAtOnePlaceStayWhole) {
  struct Case {
    const char* name;
    bool a_forwards, b_forwards;
  } cases[] = {{"both forwards", true, true},
               {"both backwards", false, false},
               {"forwards and backwards", true, false},
               {"backwards and forwards", false, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Doc a(10), b(20);
    Ops base = *a.Insert(0, "[]");
    ASSERT_TRUE(b.Apply(base).ok());
    Ops from_a = Type(a, 1, "hello", c.a_forwards);
    Ops from_b = Type(b, 1, "wörld", c.b_forwards);
    ASSERT_TRUE(a.Apply(from_b).ok());
    ASSERT_TRUE(b.Apply(from_a).ok());
    EXPECT_EQ(a.Text(), b.Text());
    EXPECT_TRUE(a.Text() == "[hellowörld]" || a.Text() == "[wörldhello]") << a.Text();
  }
}

TEST(NonInterleaving, ManyAgentsManyWordsRandomDelivery) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    size_t n = 2 + rng() % 4;
    std::vector<Doc> docs;
    for (size_t i = 0; i < n; ++i) docs.emplace_back(rng());
    Ops base = *docs[0].Insert(0, "<>");
    std::vector<Ops> typed;
    std::vector<std::string> words;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) {
        ASSERT_TRUE(docs[i].Apply(base).ok());
      }
      std::string w(3 + rng() % 5, static_cast<char>('a' + i));
      w[0] = static_cast<char>('A' + i);
      words.push_back(w);
      typed.push_back(Type(docs[i], 1, w, rng() % 2));
    }
    Doc merged(0);
    ASSERT_TRUE(merged.Apply(base).ok());
    std::vector<Op> all;
    for (const Ops& t : typed) all.insert(all.end(), t.begin(), t.end());
    std::shuffle(all.begin(), all.end(), rng);
    ASSERT_TRUE(merged.Apply(all).ok());
    ASSERT_EQ(merged.pending_ops(), 0u);
    for (const std::string& w : words)
      EXPECT_NE(merged.Text().find(w), std::string::npos) << merged.Text();
  }
}

}  // namespace
}  // namespace weft::engine
