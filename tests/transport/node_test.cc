// Nodes and clients over real sockets on 127.0.0.1, in one process: each
// Node runs its loop on a thread of its own.
#include "weft/transport/node.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "node_test_util.h"
#include "support/full_disk.h"
#include "weft/engine/trace.h"
#include "weft/transport/client.h"
#include "weft/transport/frame.h"
#include "wire_codec.h"

namespace weft::transport {
namespace {

std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env != nullptr ? env : WEFT_TRACES_DIR;
}

// ---- Sync ---------------------------------------------------------------------

TEST(Node, ClientsSyncThroughANode) {
  TestNode n;
  Peer alice(n, 1, "notes");
  Peer bob(n, 2, "notes");
  alice.Type(0, "hello");
  EXPECT_TRUE(bob.WaitFor([&] { return bob.doc.Text() == "hello"; })) << bob.doc.Text();
  bob.Type(5, " world");
  EXPECT_TRUE(alice.WaitFor([&] { return alice.doc.Text() == "hello world"; }));
  // A latecomer gets everything in its catch-up.
  Peer carol(n, 3, "notes");
  EXPECT_EQ(carol.doc.Text(), "hello world");
  // Resending "everything" sends only the client's own ops: bob's replica
  // holds alice's too, and a node drops a client that sends another's.
  ASSERT_TRUE(bob.client->SendOpsSince("notes", bob.doc, {}).ok());
  bob.Type(11, "!");
  ASSERT_TRUE(alice.WaitFor([&] { return alice.doc.Text() == "hello world!"; }));
  // ...and bob is still connected and subscribed afterwards.
  alice.Type(12, "?");
  EXPECT_TRUE(bob.WaitFor([&] { return bob.doc.Text() == "hello world!?"; }))
      << bob.client->close_reason();
}

TEST(Node, PresenceReachesTheOtherSubscribers) {
  TestNode n;
  Peer alice(n, 1, "p");
  Peer bob(n, 2, "p");
  alice.Type(0, "hello");
  ASSERT_TRUE(bob.WaitFor([&] { return bob.doc.Text() == "hello"; }));
  engine::Anchor caret = alice.doc.AnchorAt(2, engine::Bias::kRight);
  ASSERT_TRUE(alice.client->SendPresence("p", 1, caret, "alice").ok());
  ASSERT_TRUE(bob.WaitFor([&] { return bob.client->presence("p").count(1) == 1; }));
  PeerPresence seen = bob.client->presence("p").at(1);
  EXPECT_EQ(seen.label, "alice");
  EXPECT_EQ(bob.doc.Resolve(seen.cursor), 2u);
  // The anchor stays on its character when text is inserted before it.
  bob.Type(0, ">> ");
  EXPECT_EQ(bob.doc.Resolve(seen.cursor), 5u);
  EXPECT_EQ(alice.client->presence("p").count(1), 0u) << "presence is not echoed to its sender";
}

TEST(Node, AuthorsHearWhatIsDurable) {
  TestNode n;
  Peer alice(n, 1, "d");
  alice.Type(0, "abc");
  EXPECT_TRUE(alice.WaitFor([&] { return alice.client->acked("d").Get(1) == 3; }));
}

TEST(Node, DocumentsSpreadOverSeveralWorkers) {
  NodeOptions o;
  o.workers = 3;
  TestNode n(o);
  std::vector<std::unique_ptr<Peer>> writers, readers;
  for (int d = 0; d < 8; ++d) {
    std::string name = "doc" + std::to_string(d);
    writers.push_back(std::make_unique<Peer>(n, 10 + d, name));
    readers.push_back(std::make_unique<Peer>(n, 100 + d, name));
  }
  for (int round = 0; round < 5; ++round) {
    for (auto& w : writers) w->Type(w->doc.size(), w->name + " ");
  }
  for (size_t d = 0; d < readers.size(); ++d) {
    Peer& r = *readers[d];
    EXPECT_TRUE(r.WaitFor([&] { return r.doc.Text() == writers[d]->doc.Text(); })) << r.name;
  }
}

TEST(Node, ThreeNodesInALineConverge) {
  TestNode a;
  NodeOptions ob;
  ob.peers = {a.addr()};
  TestNode b(ob);
  NodeOptions oc;
  oc.peers = {b.addr()};
  TestNode c(oc);
  Peer on_a(a, 1, "doc");
  Peer on_c(c, 2, "doc");
  for (int i = 0; i < 20; ++i) {
    // (Built with append: GCC 12 misreports operator+ chains under -O3.)
    std::string a = "a", c = "c";
    a.append(std::to_string(i)).append(" ");
    c.append(std::to_string(i)).append(" ");
    on_a.Type(on_a.doc.size(), a);
    on_c.Type(0, c);
  }
  auto converged = [&] {
    EXPECT_TRUE(on_a.client->Poll().ok());
    EXPECT_TRUE(on_c.client->Poll().ok());
    return on_a.doc.version() == on_c.doc.version() && on_a.doc.size() > 0;
  };
  ASSERT_TRUE(on_a.WaitFor(converged));
  EXPECT_EQ(on_a.doc.Text(), on_c.doc.Text());
  // A node that was in the middle has it too.
  Peer on_b(b, 3, "doc");
  EXPECT_EQ(on_b.doc.Text(), on_a.doc.Text());
}

// Regression: a catch-up carries only what a node has applied, not what
// waits in its Pending, and ops released from Pending later were never
// sent on. A node that held an op in Pending while a peer subscribed kept
// it from that peer forever: `weft demo` replicas stayed apart after a
// node restart.
TEST(Node, OpsReleasedFromPendingReachPeersThatSubscribedMeanwhile) {
  // Agent 2's " world" depends on agent 1's "hello"; agent 5's "#" on
  // nothing.
  engine::Doc first(1), second(2), marker(5);
  ASSERT_TRUE(first.Insert(0, "hello").ok());
  std::string hello = first.EncodeOpsSince({});
  ASSERT_TRUE(second.ApplyUpdate(hello).ok());
  ASSERT_TRUE(second.Insert(5, " world").ok());
  std::string world = second.EncodeOpsSince(first.version());
  ASSERT_TRUE(marker.Insert(0, "#").ok());
  std::string hash = marker.EncodeOpsSince({});

  TestNode a;
  ClientOptions co;
  co.server = a.addr();
  co.agents = {1, 2, 5};
  co.timeout = kDeadline;
  Result<std::unique_ptr<Client>> author = Client::Connect(co);
  ASSERT_TRUE(author.ok()) << author.status().ToString();
  Client& c = **author;
  // " world" waits in A's Pending (A has no "hello"); "#", sent after it on
  // the same connection, shows when A has taken it in.
  ASSERT_TRUE(c.SendUpdate("d", world).ok());
  ASSERT_TRUE(c.SendUpdate("d", hash).ok());
  ASSERT_TRUE(c.RunUntil([&] { return c.acked("d").Get(5) == 1; }, kDeadline).ok());

  // B links to A only now: its catch-up from A has "#" but cannot hold
  // " world".
  NodeOptions ob;
  ob.peers = {a.addr()};
  TestNode b(ob);
  Peer on_b(b, 4, "d");
  ASSERT_TRUE(on_b.WaitFor([&] { return on_b.doc.Text() == "#"; })) << on_b.doc.Text();

  // "hello" releases " world" on A; B must get both.
  ASSERT_TRUE(c.SendUpdate("d", hello).ok());
  EXPECT_TRUE(on_b.WaitFor([&] {
    return on_b.doc.Text().find("hello world") != std::string::npos;
  })) << "'"
      << on_b.doc.Text() << "'";
  EXPECT_EQ(on_b.doc.pending_ops(), 0u);
}

TEST(Node, LateJoiningNodeCatchesUpAWholeHistory) {
  Result<engine::Trace> trace =
      engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
  ASSERT_TRUE(trace.ok()) << trace.status().ToString();
  TestNode first;
  {
    Peer writer(first, 9, "paper");
    ASSERT_TRUE(engine::ReplaySequential(*trace, writer.doc).ok());
    ASSERT_TRUE(writer.client->SendOpsSince("paper", writer.doc, {}).ok());
    uint64_t end = writer.doc.known_seqs(9);
    ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("paper").Get(9) == end; }));
  }
  NodeOptions o;
  o.peers = {first.addr()};
  TestNode late(o);
  Peer reader(late, 10, "paper");
  EXPECT_TRUE(reader.WaitFor([&] { return reader.doc.Text() == trace->end_content; }))
      << reader.doc.size() << " of " << trace->end_content.size();
}

TEST(Node, PeerReconnectsAfterItsNodeRestarts) {
  TestNode hub;
  uint16_t hub_port = hub.port();
  NodeOptions o;
  o.peers = {hub.addr()};
  o.reconnect_min = milliseconds(20);
  o.reconnect_max = milliseconds(200);
  TestNode spoke(o);
  Peer writer(spoke, 1, "d");
  writer.Type(0, "before restart");
  {
    Peer check(hub, 2, "d");
    ASSERT_TRUE(check.WaitFor([&] { return check.doc.Text() == "before restart"; }));
  }
  hub.Stop();
  NodeOptions again;
  again.listen = HostPort{"127.0.0.1", hub_port};
  hub.Start(again);
  // The restarted hub starts empty; the spoke reconnects and catches it up.
  Peer reader(hub, 3, "d");
  EXPECT_TRUE(reader.WaitFor([&] { return reader.doc.Text() == "before restart"; }))
      << "'" << reader.doc.Text() << "'";
}

// Regression: the heartbeat judged silence by the clock alone. A node whose
// loop stalled (a long drain on a busy machine) found, when its timer
// fired, every peer "silent" past its timeout, though it had not pinged
// them or read their sockets meanwhile, and dropped them all: `weft demo`
// lost its writers under AddressSanitizer.
TEST(Node, AStalledLoopDoesNotDropPeersItCouldNotHear) {
  std::atomic<bool> stalled{false}, stall_over{false};
  NodeOptions o;
  o.heartbeat = milliseconds(100);
  o.peer_timeout = milliseconds(1000);
  o.log = [&](const std::string& line) {
    // Holds the loop thread for three peer timeouts, once.
    if (line.find("'stall'") == std::string::npos || stalled.exchange(true)) return;
    std::this_thread::sleep_for(milliseconds(3000));
    stall_over = true;
  };
  TestNode n(o);
  Peer alice(n, 1, "d");
  ClientOptions co;
  co.server = n.addr();
  co.label = "stall";
  co.timeout = kDeadline;
  Result<std::unique_ptr<Client>> staller = Client::Connect(co);
  ASSERT_TRUE(staller.ok()) << staller.status().ToString();
  // Alice is served all along, and for ten heartbeats after the stall.
  ASSERT_TRUE(alice.WaitFor([&] { return stall_over.load(); })) << alice.client->close_reason();
  auto until = std::chrono::steady_clock::now() + milliseconds(1000);
  EXPECT_TRUE(alice.WaitFor([&] { return std::chrono::steady_clock::now() >= until; }))
      << alice.client->close_reason();
  // ...and still served: her edit is acknowledged.
  alice.Type(0, "still here");
  EXPECT_TRUE(alice.WaitFor([&] { return alice.client->acked("d").Get(1) == 10; }))
      << alice.client->close_reason();
}

TEST(Node, SilentPeerIsDroppedAfterItsTimeout) {
  NodeOptions o;
  o.heartbeat = milliseconds(50);
  o.peer_timeout = milliseconds(500);
  TestNode n(o);
  RawPeer mute(n.port());
  mute.Handshake();
  // It reads the node's pings and never answers one.
  std::optional<ErrorFrame> e = mute.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kTimeout) << e->reason;
  EXPECT_TRUE(mute.Closed());
}

// ---- Persistence ----------------------------------------------------------------

TEST(Node, RestartedNodeServesWhatItAcknowledged) {
  TempDir dir;
  auto options = [&] {
    NodeOptions o;
    o.data_dir = dir.str();
    o.snapshot_every = 3;  // snapshots and compaction along the way
    o.segment_bytes = 256;
    return o;
  };
  std::string text;
  {
    TestNode n(options());
    Peer p(n, 1, "d");
    for (int i = 0; i < 20; ++i) p.Type(p.doc.size(), "line " + std::to_string(i) + "\n");
    uint64_t end = p.doc.known_seqs(1);
    ASSERT_TRUE(p.WaitFor([&] { return p.client->acked("d").Get(1) == end; }));
    text = p.doc.Text();
  }
  TestNode again(options());
  Peer reader(again, 2, "d");
  EXPECT_EQ(reader.doc.Text(), text);
}

TEST(Node, FullDiskStopsAcksUntilSpaceReturns) {
  TempDir dir;
  support::FullDisk disk;
  NodeOptions o;
  o.data_dir = dir.str();
  o.fs = &disk;
  TestNode n(o);
  Peer writer(n, 1, "d");
  Peer watcher(n, 2, "d");
  writer.Type(0, "abc");
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 3; }));
  disk.full = true;
  writer.Type(3, "def");
  // Relaying does not wait for the disk; acks do. Once the watcher has the
  // edit, the node has processed it, and it must not have acknowledged it.
  ASSERT_TRUE(watcher.WaitFor([&] { return watcher.doc.Text() == "abcdef"; }));
  ASSERT_TRUE(writer.client->Poll().ok());
  EXPECT_EQ(writer.client->acked("d").Get(1), 3u) << "acknowledged an op it could not store";
  disk.full = false;
  EXPECT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 6; }));
  n.Stop();
  NodeOptions plain;
  plain.data_dir = dir.str();
  TestNode again(plain);
  Peer reader(again, 3, "d");
  EXPECT_EQ(reader.doc.Text(), "abcdef");
}

// ---- Authentication -------------------------------------------------------------

TEST(Node, WrongOrMissingSecretIsRejected) {
  NodeOptions o;
  o.secret = std::optional<std::string>("correct horse");
  TestNode n(o);
  ClientOptions co;
  co.server = n.addr();
  co.agents = {1};
  co.timeout = kDeadline;
  co.secret.emplace("wrong horse");
  Result<std::unique_ptr<Client>> wrong = Client::Connect(co);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied) << wrong.status().ToString();
  co.secret.reset();
  EXPECT_FALSE(Client::Connect(co).ok());
  co.secret.emplace("correct horse");
  EXPECT_TRUE(Client::Connect(co).ok());
}

// ---- Bad input ------------------------------------------------------------------

// Every misbehaving-peer test also checks that the node goes on serving a
// well-behaved client.
class NodeUnderAbuse : public ::testing::Test {
 protected:
  void ExpectStillServing() {
    Peer p(node_, 100 + ++serial_, "shared");
    std::string line = "still here " + std::to_string(serial_);
    p.Type(0, line);
    Peer q(node_, 200 + serial_, "shared");
    EXPECT_TRUE(q.WaitFor([&] { return q.doc.Text().find(line) != std::string::npos; }));
  }

  TestNode node_;
  int serial_ = 0;
};

TEST_F(NodeUnderAbuse, GarbageFrameGetsAnErrorAndAClose) {
  RawPeer raw(node_.port());
  raw.Write(std::string("\x05\x00\x00\x00garbg", 9));
  std::optional<ErrorFrame> e = raw.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kMalformed);
  EXPECT_TRUE(raw.Closed());
  ExpectStillServing();
}

TEST_F(NodeUnderAbuse, OversizedLengthPrefixGetsAnErrorAndAClose) {
  RawPeer raw(node_.port());
  raw.Write(std::string("\xff\xff\xff\x7f", 4));
  std::optional<ErrorFrame> e = raw.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kFrameTooLarge);
  EXPECT_TRUE(raw.Closed());
  ExpectStillServing();
}

TEST_F(NodeUnderAbuse, FramesDeliveredOneByteAtATimeWork) {
  RawPeer raw(node_.port());
  Hello h;
  h.node_id = 5;
  h.client_nonce.fill(3);
  raw.WriteFrame(h, /*byte_at_a_time=*/true);
  ASSERT_TRUE(raw.ReadUntil<Welcome>().has_value());
  raw.WriteFrame(Subscribe{"bytes", {}}, /*byte_at_a_time=*/true);
  std::optional<SyncDone> done = raw.ReadUntil<SyncDone>();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->doc, "bytes");
  ExpectStillServing();
}

TEST_F(NodeUnderAbuse, FramesBeforeTheHandshakeAreRefused) {
  RawPeer raw(node_.port());
  raw.WriteFrame(Subscribe{"sneaky", {}});
  std::optional<ErrorFrame> e = raw.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kProtocol);
  EXPECT_TRUE(raw.Closed());
  ExpectStillServing();
}

TEST_F(NodeUnderAbuse, OpsUnderAForeignAgentAreRefused) {
  RawPeer raw(node_.port());
  raw.Handshake({5});
  engine::Doc forger(6);  // agent 6 was never announced
  ASSERT_TRUE(forger.Insert(0, "forged").ok());
  std::string update = forger.EncodeOpsSince({});
  raw.WriteFrame(OpBatch{"shared", std::as_bytes(std::span(update.data(), update.size()))});
  std::optional<ErrorFrame> e = raw.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kForeignAgent);
  EXPECT_TRUE(raw.Closed());
  Peer check(node_, 50, "shared");
  EXPECT_EQ(check.doc.Text().find("forged"), std::string::npos);
  ExpectStillServing();
}

TEST_F(NodeUnderAbuse, InvalidUpdateBytesAreRefused) {
  RawPeer raw(node_.port());
  raw.Handshake({5});
  std::string junk = "this is not an update";
  raw.WriteFrame(OpBatch{"shared", std::as_bytes(std::span(junk.data(), junk.size()))});
  std::optional<ErrorFrame> e = raw.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kMalformed);
  ExpectStillServing();
}

TEST(Node, PeerThatStopsReadingIsDroppedNotBuffered) {
  NodeOptions o;
  // The kernel's socket buffers absorb a few MB on loopback before libuv
  // queues anything; the bound applies to what libuv queues.
  o.max_outbound_bytes = 64 << 10;
  o.peer_timeout = kDeadline;  // so only the bound can drop the slow peer
  TestNode n(o);
  // A small receive window, so the node's writes back up quickly.
  RawPeer slow(n.port(), 4096);
  slow.Handshake();
  slow.WriteFrame(Subscribe{"flood", {}});
  ASSERT_TRUE(slow.ReadUntil<SyncDone>().has_value());
  // Now it reads nothing while a writer floods the document with 8 MB:
  // more than the kernel's socket buffers and the node's bound.
  Peer writer(n, 1, "flood");
  std::mt19937 rng(3);
  for (int i = 0; i < 8000; ++i) {
    std::string line(1000, ' ');
    for (char& ch : line) ch = static_cast<char>('a' + rng() % 26);  // incompressible
    writer.Type(writer.doc.size(), line);
  }
  // The writer is served to the end...
  uint64_t end = writer.doc.known_seqs(1);
  EXPECT_TRUE(writer.WaitFor([&] { return writer.client->acked("flood").Get(1) == end; }));
  // ...while the slow peer was cut off: reading now, it finds the end of the
  // stream well before the 8 MB it would have had to buffer.
  size_t received = 0;
  EXPECT_TRUE(slow.Closed(kDeadline, &received)) << "never disconnected";
  EXPECT_LT(received, size_t{8000} * 1000);
}

}  // namespace
}  // namespace weft::transport
