// Writes the seed corpus under tests/fuzz/corpus/: valid frames (length
// prefix included) and valid updates, made by weft's own encoders. Run it
// again after a deliberate format change: `make_seeds DIR`.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "weft/engine/doc.h"
#include "weft/persist/op_log.h"
#include "weft/persist/snapshot_file.h"
#include "weft/transport/frame.h"
#include "weft/transport/wire_codec.h"

namespace {

using namespace weft::transport;
namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string Framed(const Message& m) {
  std::string body = EncodeFrame(m);
  auto prefix = EncodeFramePrefix(body.size());
  return std::string(reinterpret_cast<const char*>(prefix.data()), prefix.size()) + body;
}

// The handshake target reads [u16 length][body] records.
// The fuzz targets for updates and snapshots take an odd first byte as
// "the rest is a body: wrap it in a valid envelope" (version, kind,
// checksum): the same message that way, so mutations reach the decoder.
std::string AsBody(const std::string& message) {
  return "\x01" + message.substr(2, message.size() - 6);
}

std::string Record(const Message& m) {
  std::string body = EncodeFrame(m);
  std::string out(2, '\0');
  out[0] = static_cast<char>(body.size() & 0xff);
  out[1] = static_cast<char>(body.size() >> 8);
  return out + body;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  fs::path dir = argv[1];
  weft::engine::Doc doc(7);
  if (!doc.Insert(0, "hello wörld").ok() || !doc.Remove(0, 1).ok()) return 1;
  std::string update = doc.EncodeOpsSince({});
  auto update_bytes = std::as_bytes(std::span(update.data(), update.size()));

  Hello hello;
  hello.node_id = 42;
  hello.client_nonce.fill(9);
  hello.agents = {7};
  hello.label = "seed";
  weft::engine::VersionVector vv;
  vv.Set(7, 3);
  const Message frames[] = {hello,
                            AuthChallenge{},
                            AuthProof{},
                            Welcome{},
                            Subscribe{"doc", vv},
                            OpBatch{"doc", update_bytes},
                            SyncDone{"doc", vv},
                            Ack{"doc", vv},
                            Presence{"doc", 7, WireAnchor{7, 1, true}, WireAnchor{}, "seed"},
                            Ping{1, 2},
                            Pong{1, 2},
                            ErrorFrame{ErrorCode::kProtocol, "seed"}};
  std::string all, records;
  int i = 0;
  for (const Message& m : frames) {
    std::string name = std::string(MessageName(m));
    for (char& c : name) c = c == ' ' ? '_' : c;
    Write(dir / "frame" / name, Framed(m));
    all += Framed(m);
    records += Record(m);
    ++i;
  }
  Write(dir / "frame" / "all_in_one_stream", all);
  Write(dir / "handshake" / "hello_then_proof", Record(hello) + Record(AuthProof{}));
  Write(dir / "handshake" / "every_kind", records);
  Write(dir / "update" / "insert_delete", update);
  weft::engine::Doc other(9);
  if (!other.ApplyUpdate(update).ok() || !other.Insert(0, ">> ").ok()) return 1;
  Write(dir / "update" / "second_author", other.EncodeOpsSince(doc.version()));
  Write(dir / "update" / "whole_history", other.EncodeOpsSince({}));
  Write(dir / "update" / "whole_history_body", AsBody(other.EncodeOpsSince({})));
  Write(dir / "snapshot" / "two_authors", other.EncodeSnapshot());
  Write(dir / "snapshot" / "two_authors_body", AsBody(other.EncodeSnapshot()));
  // Long enough that its ops are entropy-coded and its text compressed.
  weft::engine::Doc long_history(11);
  for (int i = 0; i < 80; ++i) {
    std::string words = "line " + std::to_string(i) + " of a longer text, typed and edited\n";
    if (!long_history.Insert((i * 37) % (long_history.size() + 1), words).ok()) return 1;
    if (i % 4 == 3 && !long_history.Remove(i % long_history.size(), 3).ok()) return 1;
  }
  Write(dir / "update" / "coded", long_history.EncodeOpsSince({}));
  Write(dir / "update" / "coded_body", AsBody(long_history.EncodeOpsSince({})));
  Write(dir / "snapshot" / "long_history_body", AsBody(long_history.EncodeSnapshot()));
  // Recovery seeds: [split][flags][segment without header][snapshot file],
  // the layout recovery_fuzz reads (flags bit 7: header synthesized).
  fs::path tmp = fs::temp_directory_path() / "weft_make_seeds";
  fs::remove_all(tmp);
  auto log = std::move(*weft::persist::OpLogWriter::Open((tmp / "log").string(), 0));
  weft::engine::Doc typist(3);
  for (const char* word : {"one ", "two ", "three "}) {
    weft::engine::VersionVector before = typist.version();
    if (!typist.Insert(typist.size(), word).ok()) return 1;
    std::string u = typist.EncodeOpsSince(before);
    if (!log->AppendOps("doc", std::as_bytes(std::span(u.data(), u.size()))).ok()) return 1;
  }
  weft::persist::SnapshotFile snap{"doc", log->position(), typist.EncodeSnapshot()};
  log.reset();
  if (!weft::persist::WriteSnapshotFile(weft::persist::DefaultFileSystem(), (tmp / "snap").string(),
                                        snap)
           .ok()) {
    return 1;
  }
  std::ifstream seg_in(tmp / "log" / weft::persist::SegmentName(0), std::ios::binary);
  std::string segment((std::istreambuf_iterator<char>(seg_in)), std::istreambuf_iterator<char>());
  segment = segment.substr(weft::persist::kSegmentHeaderBytes);
  std::ifstream snap_in(tmp / "snap" / weft::persist::SnapshotName("doc"), std::ios::binary);
  std::string snapshot((std::istreambuf_iterator<char>(snap_in)), std::istreambuf_iterator<char>());
  fs::remove_all(tmp);
  auto compose = [](std::string seg, const std::string& snap) {
    // Find a split byte that lands exactly between the two parts, padding
    // the segment (a torn tail) when no byte value does.
    while (true) {
      size_t total = seg.size() + snap.size();
      for (int b = 0; b < 256; ++b) {
        if (total * static_cast<size_t>(b) / 255 == seg.size()) {
          return std::string(1, static_cast<char>(b)) + std::string(1, '\x80') + seg + snap;
        }
      }
      seg.push_back('\0');
    }
  };
  Write(dir / "recovery" / "log_only", compose(segment, ""));
  Write(dir / "recovery" / "log_and_snapshot", compose(segment, snapshot));
  Write(dir / "recovery" / "torn_tail", compose(segment.substr(0, segment.size() - 5), ""));
  std::printf("wrote %d frame seeds to %s\n", i, dir.c_str());
  return 0;
}
