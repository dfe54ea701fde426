#include "weft/persist/op_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "support/full_disk.h"
#include "weft/persist/recovery.h"
#include "weft/persist/snapshot_file.h"

namespace weft::persist {
namespace {

RecoveryOptions ReadOnly() {
  RecoveryOptions o;
  o.read_only = true;
  return o;
}

namespace fs = std::filesystem;

std::span<const std::byte> Bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

class OpLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft_log_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string data() const { return dir_.string(); }
  std::string log_dir() const { return LogDir(data()); }
  std::string segment(uint64_t n) const { return log_dir() + "/" + SegmentName(n); }

  // Types `n` short edits into `doc`, logging each edit's update as one
  // record; returns the text after each record.
  std::vector<std::string> WriteEdits(OpLogWriter& w, int n, const std::string& name = "doc") {
    std::vector<std::string> texts;
    engine::Doc& author = Author(name);
    for (int i = 0; i < n; ++i) {
      engine::VersionVector before = author.version();
      std::string word = "w" + std::to_string(i) + " ";
      EXPECT_TRUE(author.Insert(author.size(), word).ok());
      if (i % 7 == 6) {
        EXPECT_TRUE(author.Remove(0, 1).ok());
      }
      std::string update = author.EncodeOpsSince(before);
      EXPECT_TRUE(w.AppendOps(name, Bytes(update)).ok());
      texts.push_back(author.Text());
    }
    EXPECT_TRUE(w.Sync().ok());
    return texts;
  }

  std::unique_ptr<OpLogWriter> Open(uint64_t first = 0, OpLogOptions o = {}) {
    Result<std::unique_ptr<OpLogWriter>> w = OpLogWriter::Open(log_dir(), first, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return std::move(*w);
  }

  std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void Spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  // One author per document, so each document's history is its own.
  engine::Doc& Author(const std::string& name) {
    auto it = authors_.find(name);
    if (it == authors_.end()) it = authors_.emplace(name, engine::Doc(5)).first;
    return it->second;
  }

  fs::path dir_;
  std::map<std::string, engine::Doc> authors_;
};

TEST_F(OpLogTest, RecordsReadBackAsWritten) {
  auto w = Open();
  std::vector<std::string> texts = WriteEdits(*w, 50);
  Result<SegmentScan> scan = ScanSegment(DefaultFileSystem(), segment(0), 0);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->records.size(), 50u);
  EXPECT_FALSE(scan->damage.has_value());
  Result<RecoveredState> r = Recover(data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->docs.at("doc")->Text(), texts.back());
  EXPECT_EQ(r->next_segment, 1u);
}

TEST_F(OpLogTest, SegmentsRollAndRecoverInOrder) {
  OpLogOptions o;
  o.segment_bytes = 300;
  auto w = Open(0, o);
  std::vector<std::string> texts = WriteEdits(*w, 60);
  EXPECT_GT(w->position().segment, 3u);
  Result<RecoveredState> r = Recover(data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->docs.at("doc")->Text(), texts.back());
  EXPECT_EQ(r->next_segment, w->position().segment + 1);
}

// The crash sweep: cut the last segment at every byte of its final records.
// Recovery keeps exactly the whole records before the cut and removes the rest.
TEST_F(OpLogTest, TornTailAtEveryOffsetKeepsEverythingBefore) {
  auto w = Open();
  std::vector<std::string> texts = WriteEdits(*w, 40);
  w.reset();
  std::string whole = Slurp(segment(0));
  Result<SegmentScan> scan = ScanSegment(DefaultFileSystem(), segment(0), 0);
  ASSERT_TRUE(scan.ok());
  size_t from = scan->records[scan->records.size() - 4].start.offset;
  for (size_t cut = from; cut < whole.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Spit(segment(0), whole.substr(0, cut));
    std::vector<std::string> logged;
    RecoveryOptions ro;
    ro.log = [&](const std::string& line) { logged.push_back(line); };
    Result<RecoveredState> r = Recover(data(), ro);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    size_t kept = 0;
    while (kept < scan->records.size() && scan->records[kept].end.offset <= cut) ++kept;
    std::string want = kept == 0 ? "" : texts[kept - 1];
    EXPECT_EQ(r->docs.count("doc") ? r->docs.at("doc")->Text() : "", want);
    bool exact = kept > 0 && scan->records[kept - 1].end.offset == cut;
    EXPECT_EQ(r->dropped_bytes, exact ? 0u : cut - scan->records[kept - 1].end.offset);
    EXPECT_EQ(!logged.empty(), !exact) << "a cut tail must be reported";
    EXPECT_EQ(fs::file_size(segment(0)), scan->records[kept - 1].end.offset);
  }
}

// Bit flips anywhere in the records: never served, never a crash. A flip
// in the last record is a torn tail (cut, reported); elsewhere it is
// corruption that recovery refuses (records after it cannot be trusted to
// follow from what came before).
TEST_F(OpLogTest, BitFlipsAreNeverServed) {
  auto w = Open();
  std::vector<std::string> texts = WriteEdits(*w, 30);
  w.reset();
  std::string whole = Slurp(segment(0));
  Result<SegmentScan> scan = ScanSegment(DefaultFileSystem(), segment(0), 0);
  ASSERT_TRUE(scan.ok());
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    size_t at = kSegmentHeaderBytes + rng() % (whole.size() - kSegmentHeaderBytes);
    std::string bad = whole;
    bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
    Spit(segment(0), bad);
    SCOPED_TRACE("flip at " + std::to_string(at));
    Result<RecoveredState> r = Recover(data());
    size_t hit = 0;
    while (scan->records[hit].end.offset <= at) ++hit;
    if (hit + 1 == scan->records.size()) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->docs.at("doc")->Text(), texts[hit - 1]);
    } else {
      ASSERT_FALSE(r.ok()) << "a damaged record in the middle was accepted";
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
      EXPECT_NE(r.status().message().find("offset"), std::string_view::npos);
    }
  }
}

TEST_F(OpLogTest, MissingSegmentIsAnError) {
  OpLogOptions o;
  o.segment_bytes = 200;
  auto w = Open(0, o);
  WriteEdits(*w, 40);
  ASSERT_GT(w->position().segment, 2u);
  fs::remove(segment(1));
  Result<RecoveredState> r = Recover(data());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("segment 1 is missing"), std::string_view::npos)
      << r.status().ToString();
}

TEST_F(OpLogTest, EmptyOrGarbageFiles) {
  auto w = Open();
  std::vector<std::string> texts = WriteEdits(*w, 5);
  w.reset();
  // A zero-length last segment (created, never written) goes away quietly.
  Spit(segment(1), "");
  Result<RecoveredState> r = Recover(data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->docs.at("doc")->Text(), texts.back());
  EXPECT_FALSE(fs::exists(segment(1)));
  // A stray file that is not a segment is ignored; a segment that claims
  // another number is an error.
  Spit(log_dir() + "/notes.txt", "hello");
  EXPECT_TRUE(Recover(data()).ok());
  std::string other = Slurp(segment(0));
  other[8] = 9;
  Spit(segment(1), other);
  EXPECT_FALSE(Recover(data()).ok());
  fs::remove(segment(1));
  // Garbage where a segment should be, before another segment: an error.
  Spit(segment(1), Slurp(segment(0)).substr(0, 16) + "garbage garbage garbage");
  auto w2 = Open(2);
  w2.reset();
  EXPECT_FALSE(Recover(data()).ok());
}

TEST_F(OpLogTest, FullDiskLeavesNoPartialRecordAndRecovers) {
  support::FullDisk disk;
  OpLogOptions o;
  o.fs = &disk;
  auto w = Open(0, o);
  std::vector<std::string> texts = WriteEdits(*w, 10);
  uint64_t good = w->position().offset;
  disk.full = true;
  std::string update = "bytes that will not fit";
  Result<LogPosition> failed = w->AppendOps("doc", Bytes(update));
  EXPECT_EQ(failed.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(w->position().offset, good);
  EXPECT_EQ(fs::file_size(segment(0)), good) << "a partial record was left behind";
  disk.full = false;
  std::vector<std::string> more = WriteEdits(*w, 3);
  Result<RecoveredState> r = Recover(data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->docs.at("doc")->Text(), more.back());
}

TEST_F(OpLogTest, SnapshotsCoverRecordsAndRestartEqualsFullReplay) {
  auto w = Open();
  WriteEdits(*w, 20, "a");
  WriteEdits(*w, 5, "b");
  // Snapshot of "a" covering everything so far, then more of both.
  Result<RecoveredState> mid = Recover(data(), ReadOnly());
  ASSERT_TRUE(mid.ok());
  SnapshotFile snap{"a", w->position(), mid->docs.at("a")->EncodeSnapshot()};
  ASSERT_TRUE(WriteSnapshotFile(DefaultFileSystem(), SnapshotDir(data()), snap).ok());
  std::vector<std::string> a_texts = WriteEdits(*w, 10, "a");
  Result<RecoveredState> with = Recover(data());
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ(with->docs.at("a")->Text(), a_texts.back());
  EXPECT_LT(with->applied, with->records) << "the snapshot should have saved replaying";
  fs::remove_all(SnapshotDir(data()));
  Result<RecoveredState> without = Recover(data());
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->docs.at("a")->Text(), with->docs.at("a")->Text());
  EXPECT_EQ(without->docs.at("a")->version(), with->docs.at("a")->version());
  EXPECT_EQ(without->docs.at("b")->Text(), with->docs.at("b")->Text());
}

TEST_F(OpLogTest, DamagedSnapshotFallsBackOnTheLogOrIsRefusedOverACompactedLog) {
  OpLogOptions o;
  o.segment_bytes = 200;
  auto w = Open(0, o);
  std::vector<std::string> texts = WriteEdits(*w, 10);
  Result<RecoveredState> now = Recover(data(), ReadOnly());
  ASSERT_TRUE(now.ok());
  SnapshotFile snap{"doc", w->position(), now->docs.at("doc")->EncodeSnapshot()};
  ASSERT_TRUE(WriteSnapshotFile(DefaultFileSystem(), SnapshotDir(data()), snap).ok());
  w.reset();
  std::string path = SnapshotDir(data()) + "/" + SnapshotName("doc");
  std::string bytes = Slurp(path);
  bytes[bytes.size() / 2] ^= 0x40;
  Spit(path, bytes);
  // The log still has everything: recovery ignores the snapshot.
  Result<RecoveredState> r = Recover(data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->docs.at("doc")->Text(), texts.back());
  // With the log's first segment compacted away (as the snapshot allowed),
  // the history it held is gone: recovery refuses rather than serve a hole.
  fs::remove(segment(0));
  r = Recover(data());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("compacted"), std::string_view::npos);
}

// A node may accept ops before their dependencies (they wait in Pending);
// after a crash they come back waiting, not as corruption.
TEST_F(OpLogTest, OpsWaitingForDependenciesRecoverWaiting) {
  engine::Doc alice(1), bob(2);
  ASSERT_TRUE(alice.Insert(0, "hello").ok());
  std::string first = alice.EncodeOpsSince({});
  ASSERT_TRUE(bob.ApplyUpdate(first).ok());
  ASSERT_TRUE(bob.Insert(5, " world").ok());
  std::string second = bob.EncodeOpsSince(alice.version());
  auto w = Open();
  ASSERT_TRUE(w->AppendOps("doc", Bytes(second)).ok());  // arrived before its dependency
  ASSERT_TRUE(w->Sync().ok());
  Result<RecoveredState> r = Recover(data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->docs.at("doc")->pending_ops(), 0u);
  ASSERT_TRUE(r->docs.at("doc")->ApplyUpdate(first).ok());
  EXPECT_EQ(r->docs.at("doc")->Text(), "hello world");
}

TEST_F(OpLogTest, ReadOnlyRecoveryTouchesNothing) {
  auto w = Open();
  WriteEdits(*w, 5);
  w.reset();
  std::string whole = Slurp(segment(0));
  Spit(segment(0), whole.substr(0, whole.size() - 3));
  RecoveryOptions ro;
  ro.read_only = true;
  Result<RecoveredState> r = Recover(data(), ro);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(fs::file_size(segment(0)), whole.size() - 3);
}

}  // namespace
}  // namespace weft::persist
