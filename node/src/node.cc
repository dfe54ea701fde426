#include "weft/node/node.h"

#include <netdb.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "acks.h"
#include "data_dir.h"
#include "http_listener.h"
#include "ingress.h"
#include "log_limiter.h"
#include "merge_worker.h"
#include "metrics.h"
#include "node_identity.h"
#include "peer_dialer.h"
#include "persister.h"
#include "pipeline.h"
#include "redis_docs.h"
#include "redis_writer.h"
#include "subscriptions.h"
#include "transport_names.h"

namespace weft::node {

namespace {

ringbuf::RingOptions IngressOptions(const NodeOptions& o) {
  ringbuf::RingOptions r;
  r.capacity = o.budget.ingress_capacity;
  r.max_readers = 1;  // its worker
  return r;
}

// The connection id entries read from Redis come in under (no socket has it).
constexpr uint64_t kRedisConn = UINT64_MAX;

}  // namespace

class Node::Impl : public ConnectionHost, private RedisDocs::Host {
 public:
  explicit Impl(NodeOptions options)
      : options_(std::move(options)),
        node_id_(options_.node_id),
        credit_(options_.budget.connection_credit()),
        alloc_(options_.budget.pools),
        ingress_(std::max<uint32_t>(options_.workers, 1), IngressOptions(options_)) {
    if (!options_.log) {
      options_.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    }
    IgnoreSigpipe();
    uv_loop_init(&loop_);
    uv_tcp_init(&loop_, &listener_);
    listener_.data = this;
    uv_async_init(&loop_, &stop_async_,
                  [](uv_async_t* a) { static_cast<Impl*>(a->data)->BeginStop(); });
    stop_async_.data = this;
  }

  ~Impl() override {
    // Run() closes every handle before it returns; a Node that never ran
    // still has its listener and loop to close.
    if (!ran_) {
      if (http_) http_->Close(nullptr);
      if (dialer_) dialer_->Close();
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop_);
  }

  Status Init() {
    if (options_.workers == 0 || options_.workers > 64) {
      return Status::InvalidArgument("--workers must be 1..64");
    }
    if (options_.data_dir.empty() && node_id_ == 0) node_id_ = RandomNodeId();
    if (!options_.data_dir.empty()) {
      if (options_.fs == nullptr) options_.fs = persist::DefaultFileSystem();
      Result<DataDir> dir = OpenDataDir(options_, node_id_);
      if (!dir.ok()) return dir.status();
      node_id_ = dir->node_id;
      recovered_ = std::move(dir->recovered);
      log_writer_ = std::move(dir->log_writer);
      if (!log_writer_) open_log_ = std::move(dir->open_log);
      for (const auto& [name, doc] : recovered_->docs) known_docs_.insert(name);
    }
    Result<sockaddr_storage> addr = Resolve(options_.listen);
    if (!addr.ok()) return addr.status();
    if (int rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&*addr), 0); rc != 0) {
      return Status::Unavailable("cannot bind " + options_.listen.ToString() + ": " +
                                 uv_strerror(rc));
    }
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, OnConnection);
        rc != 0) {
      return Status::Unavailable("cannot listen on " + options_.listen.ToString() + ": " +
                                 uv_strerror(rc));
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    WEFT_RETURN_IF_ERROR(InitHttp());
    PeerDialerOptions po;
    po.reconnect_min = options_.reconnect_min;
    po.reconnect_max = options_.reconnect_max;
    po.connect = [this]() -> Connection& { return NewConnection(true); };
    po.find = [this](uint64_t id) { return Find(id); };
    dialer_ = std::make_unique<PeerDialer>(&loop_, std::move(po));
    for (const HostPort& p : options_.peers) WEFT_RETURN_IF_ERROR(dialer_->Add(p));
    return BuildPipeline();
  }

  Status Run() {
    ran_ = true;
    // The loop thread allocates incoming frames and reclaims the ingress
    // ring, so it owns the pools.
    alloc_.AdoptCurrentThread();
    uv_async_init(&loop_, &wake_async_,
                  [](uv_async_t* a) { static_cast<Impl*>(a->data)->Drain(); });
    wake_async_.data = this;
    uv_check_init(&loop_, &slot_check_);
    slot_check_.data = this;
    uv_timer_init(&loop_, &heartbeat_);
    heartbeat_.data = this;
    uv_timer_init(&loop_, &stats_timer_);
    stats_timer_.data = this;
    if (options_.stats_interval.count() > 0) {
      uv_timer_start(&stats_timer_, OnStats, options_.stats_interval.count(),
                     options_.stats_interval.count());
    }
    uv_timer_start(&heartbeat_, OnHeartbeat, options_.heartbeat.count(),
                   options_.heartbeat.count());
    if (options_.handle_signals) {
      for (uv_signal_t* s : {&sigint_, &sigterm_}) {
        uv_signal_init(&loop_, s);
        s->data = this;
      }
      uv_signal_start(&sigint_, OnSignal, SIGINT);
      uv_signal_start(&sigterm_, OnSignal, SIGTERM);
    }
    if (redis_) OpenRedisConn();
    for (auto& w : workers_) threads_.emplace_back([w = w.get()] { w->Run(); });
    threads_.emplace_back([p = persister_.get()] { p->Run(); });
    Log("node " + Hex(node_id_) + " listening on " + options_.listen.host + ":" +
        std::to_string(port_) + " with " + std::to_string(options_.workers) + " worker(s)" +
        AccessNote());
    if (http_) {
      Log("serving HTTP on " + options_.http->host + ":" + std::to_string(http_->port()) +
          " (page, /healthz, /metrics, WebSocket at " + std::string(HttpListener::kWebSocketPath) +
          ")");
    }
    dialer_->Start();
    uv_run(&loop_, UV_RUN_DEFAULT);
    for (std::thread& t : threads_) t.join();
    Log("node " + Hex(node_id_) + " stopped");
    return Status::Ok();
  }

  void Stop() { uv_async_send(&stop_async_); }
  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_ ? http_->port() : 0; }
  uint64_t node_id() const { return node_id_; }

  // ---- ConnectionHost ---------------------------------------------------------

  void OnReady(Connection& c) override {
    if (c.peer_node_id() == node_id_) {
      // A dial that reached this node itself (a peer address that is ours,
      // or a loopback self-connect while the peer was down).
      c.Fail(ErrorCode::kProtocol, "connected to itself");
      return;
    }
    const Hello& h = c.peer_hello();
    Log("connect " + c.peer_name() + " conn " + std::to_string(c.id()) + " peer " +
        Hex(c.peer_node_id()) + (c.peer_relays() ? " (node)" : "") +
        (h.label.empty() ? "" : " '" + h.label + "'"));
    dialer_->Ready(c.id());
    auto control = std::make_shared<ControlData>();
    control->agents = h.agents;
    control->any_agent = c.peer_relays();
    IngressEntry opened;
    opened.kind = IngressEntry::Kind::kConnOpened;
    opened.conn = c.id();
    opened.control = std::move(control);
    PublishControl(std::move(opened));
    if (c.peer_relays()) {
      for (const std::string& doc : known_docs_) Announce(c.id(), doc);
    }
  }

  bool OnMessage(Connection& c, const FrameRef& frame, const Message& m) override {
    if (const OpBatch* b = std::get_if<OpBatch>(&m)) {
      if (persister_->failing()) {
        // Nothing could be acknowledged: say so now rather than hold it.
        c.Fail(ErrorCode::kStorage, kCannotStore);
        return true;
      }
      ConnBook& book = books_[c.id()];
      auto pool = static_cast<size_t>(ringbuf::estimate_size(frame->len));
      if (book.in_slots[pool] >= credit_.slots[pool] ||
          (book.in_bytes > 0 && book.in_bytes + frame->len > credit_.bytes)) {
        // Over its credit: not read again until its batches get through.
        book.waiting = true;
        return false;
      }
      IngressEntry e;
      e.kind = IngressEntry::Kind::kApply;
      e.worker = WorkerFor(b->doc, options_.workers);
      e.conn = c.id();
      e.received_micros = NowMicros();
      e.frame = frame;
      e.doc = b->doc;
      e.update = b->update;
      const uint32_t worker = e.worker;
      if (!ingress_.TryPublish(std::move(e))) {
        // Its worker's ring is full: this connection waits with its frame;
        // others go on.
        stalled_.insert(c.id());
        WaitForRoom(worker);
        return false;
      }
      ++book.in_slots[pool];
      book.in_bytes += frame->len;
      return true;
    }
    if (const Subscribe* s = std::get_if<Subscribe>(&m)) {
      ConnBook& book = books_[c.id()];
      if (!subscriptions_.Has(c.id(), s->doc)) {
        if (subscriptions_.count(c.id()) >= options_.budget.max_subscriptions) {
          c.Fail(ErrorCode::kOverloaded, "over " +
                                             std::to_string(options_.budget.max_subscriptions) +
                                             " subscriptions on one connection");
          return true;
        }
      }
      if (redis_docs_ && !redis_docs_->follows(s->doc) &&
          redis_docs_->size() >= options_.budget.max_followed_docs) {
        const std::string why = "this node follows its limit of " +
                                std::to_string(options_.budget.max_followed_docs) +
                                " documents in Redis; retry shortly";
        std::string line = rejected_log_.Admit("refusing a subscription of conn " +
                                               std::to_string(c.id()) + ": " + why);
        if (!line.empty()) Log(line);
        c.Fail(ErrorCode::kOverloaded, why);
        return true;
      }
      if (book.catch_ups >= options_.budget.max_catch_ups) {
        // Its catch-ups are bounded: the next Subscribe waits, unread.
        book.waiting = true;
        return false;
      }
      ++book.catch_ups;
      subscriptions_.Add(c.id(), s->doc);
      auto control = std::make_shared<ControlData>();
      control->doc = s->doc;
      control->version = s->have;
      IngressEntry e;
      e.kind = IngressEntry::Kind::kSubscribe;
      e.worker = WorkerFor(s->doc, options_.workers);
      e.conn = c.id();
      e.control = std::move(control);
      if (!redis_docs_ || !redis_docs_->Hold(e)) PublishControl(std::move(e));
      return true;
    }
    if (const SyncDone* d = std::get_if<SyncDone>(&m)) {
      Log("sync complete conn " + std::to_string(c.id()) + " doc '" + d->doc + "'");
      return true;
    }
    if (const Presence* p = std::get_if<Presence>(&m)) {
      for (uint64_t id : subscriptions_.Readers(p->doc)) {
        if (id == c.id()) continue;
        if (Connection* to = Find(id)) to->SendFrameBody(frame);
      }
      return true;
    }
    if (std::holds_alternative<Ack>(m)) return true;  // nodes author nothing
    c.Fail(ErrorCode::kProtocol, std::string(MessageName(m)) + " is not for a node");
    return true;
  }

  void OnClosed(Connection& c, const std::string& reason) override {
    uint64_t id = c.id();
    Log("disconnect " + c.peer_name() + " conn " + std::to_string(id) + ": " + reason);
    subscriptions_.Remove(id, [&](const std::string& doc) {
      if (!redis_docs_) return;
      redis_docs_->DropHeld(doc, id);
      // Nobody here reads it and this node never held it (a name that is
      // no document): stop following it, or subscriptions to made-up names
      // would have the node follow ever more streams.
      if (!InUse(doc)) redis_docs_->Forget(doc);
    });
    books_.erase(id);
    stalled_.erase(id);
    if (c.handshake_done()) {
      IngressEntry closed;
      closed.kind = IngressEntry::Kind::kConnClosed;
      closed.conn = id;
      PublishControl(std::move(closed));
    }
    conns_.erase(id);
    dialer_->Closed(id);
    MaybeFinishStop();
  }

  void OnStalled(Connection& c) override {
    stalled_.insert(c.id());
    WaitForSlots();
  }

 private:
  // Per connection: its inbound credit in use (op batches in the pipeline),
  // its catch-ups in progress, and whether it waits, unread, for either.
  struct ConnBook {
    uint32_t in_slots[ringbuf::kPoolCount] = {};
    size_t in_bytes = 0;
    uint32_t catch_ups = 0;
    bool waiting = false;
  };
  static std::string Hex(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
    return buf;
  }

  // Who may connect, and who may relay, for the start line.
  std::string AccessNote() const {
    if (!options_.secret && !options_.node_secret) {
      return "; no secret configured: accepting any client and any peer node, and letting any "
             "peer that says it is a node relay others' ops";
    }
    if (!options_.node_secret) return "; no node secret: clients only, no peer nodes";
    if (!options_.secret) return "; no client secret: accepting any client";
    return "";
  }

  // ---- Pipeline -----------------------------------------------------------------

  // The workers, their egress rings' readers and the persister; their
  // threads start in Run.
  Status BuildPipeline() {
    std::vector<std::map<std::string, std::unique_ptr<engine::Doc>>> docs(options_.workers);
    if (recovered_) {
      for (auto& [name, doc] : recovered_->docs) {
        docs[WorkerFor(name, options_.workers)].emplace(name, std::move(doc));
      }
    }
    for (uint32_t i = 0; i < options_.workers; ++i) {
      MergeWorkerOptions wo;
      wo.index = i;
      wo.count = options_.workers;
      wo.wake = [this] { Wake(); };
      wo.room = [this] { RetrySoon(); };
      wo.released = [this] {
        // The worker's half of a Dekker pair with WaitForSlots: orders the
        // slots its reclaim pushed back before the flag is read. Either the
        // loop's retry after its fence finds them, or this sees the flag.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // Relaxed: the fences order it.
        if (want_slots_.load(std::memory_order_relaxed)) RetrySoon();
      };
      wo.doc_options = options_.budget.doc_options();
      wo.egress_capacity = options_.budget.egress_capacity;
      wo.snapshot_every = options_.data_dir.empty() ? 0 : options_.snapshot_every;
      if (!options_.data_dir.empty()) {
        wo.snapshot_dir = persist::SnapshotDir(options_.data_dir);
        wo.fs = options_.fs;
      }
      wo.evict_to_store = options_.data_dir.empty() && !options_.redis_url.empty();
      wo.evict_idle = options_.budget.evict_idle;
      wo.max_resident_docs =
          std::max<size_t>(1, options_.budget.max_resident_docs / options_.workers);
      wo.max_resident_bytes =
          std::max<size_t>(1, options_.budget.max_resident_bytes / options_.workers);
      Result<std::unique_ptr<MergeWorker>> w =
          MergeWorker::Create(std::move(wo), ingress_.ring(i), std::move(docs[i]));
      if (!w.ok()) return w.status();
      workers_.push_back(std::move(*w));
    }
    std::vector<EgressRing*> rings;
    for (auto& w : workers_) {
      EgressRing& ring = w->egress();
      rings.push_back(&ring);
      Result<EgressRing::Reader> persist = ring.AddReader();
      if (!persist.ok()) return persist.status();
      Result<EgressRing::Reader> bcast = ring.AddReader();
      if (!bcast.ok()) return bcast.status();
      Result<EgressRing::Reader> acks = ring.AddReader({&*persist});
      if (!acks.ok()) return acks.status();
      persist_readers_.push_back(std::move(*persist));
      bcast_readers_.push_back(std::move(*bcast));
      ack_readers_.push_back(std::move(*acks));
    }
    PersisterOptions po;
    po.data_dir = options_.data_dir;
    po.fs = options_.fs;
    po.open_log = std::move(open_log_);
    po.log = options_.log;
    if (!options_.redis_url.empty()) {
      RedisWriterOptions ro;
      ro.url = options_.redis_url;
      ro.prefix = options_.redis_prefix;
      ro.node_id = node_id_;
      ro.log = options_.log;
      ro.on_progress = [this] {
        acks_->Flush();
        if (redis_docs_) redis_docs_->RetryReads();
      };
      ro.skip_conn = kRedisConn;
      ro.trim_min_age = options_.redis_trim_min_age;
      ro.follow.entries = [this](std::string_view doc, std::span<const redis::Entry> entries) {
        redis_docs_->OnEntries(doc, entries);
      };
      ro.follow.gap = [this](std::string_view doc, redis::StreamId) { redis_docs_->OnGap(doc); };
      ro.follow.refused = [this](std::string_view doc, const Status& why) {
        redis_docs_->OnRefused(doc, why);
      };
      Result<std::unique_ptr<RedisWriter>> w = RedisWriter::Create(&loop_, rings, std::move(ro));
      if (!w.ok()) return w.status().WithContext("redis");
      redis_ = std::move(*w);
      RedisDocsOptions rdo;
      rdo.node_id = node_id_;
      rdo.workers = options_.workers;
      rdo.compact_every = options_.redis_compact_every;
      redis_docs_ =
          std::make_unique<RedisDocs>(redis_.get(), rdo, static_cast<RedisDocs::Host*>(this));
    }
    persister_ = std::make_unique<Persister>(
        std::move(rings), std::move(persist_readers_), std::move(po), std::move(log_writer_),
        recovered_.get(), [this] { uv_async_send(&wake_async_); });
    recovered_.reset();
    acks_ = std::make_unique<Acks>(
        workers_.size(), persister_.get(), redis_.get(), [this](uint64_t id) { return Find(id); },
        &edit_to_ack_);
    return Status::Ok();
  }

  // ---- Redis (redis_docs.h) ------------------------------------------------------

  // RedisDocs::Host. A followed entry travels as a relaying peer's op
  // batch would: its frame in a pool slot, to its document's worker, under
  // kRedisConn (which may author any agent).
  bool PublishFollowed(std::string_view doc, redis::StreamId id,
                       std::span<const std::byte> update) override {
    // Behind control entries queued for the worker, in order.
    if (const uint32_t w = WorkerFor(doc, options_.workers); ingress_.waiting(w)) {
      WaitForRoom(w);
      return false;
    }
    std::string body = EncodeFrame(OpBatch{doc, update});
    Result<SlotRef> slot =
        alloc_.AllocateEvent(0, std::as_bytes(std::span(body.data(), body.size())));
    if (slot.ok()) {
      Result<Message> m = DecodeFrame(ringbuf::PayloadOf(**slot));
      const OpBatch* b = m.ok() ? std::get_if<OpBatch>(&*m) : nullptr;
      if (b == nullptr) return true;
      IngressEntry e;
      e.kind = IngressEntry::Kind::kApply;
      e.worker = WorkerFor(b->doc, options_.workers);
      e.conn = kRedisConn;
      e.received_micros = NowMicros();
      e.doc = b->doc;
      e.update = b->update;
      e.frame = std::move(*slot);
      const uint32_t w = e.worker;
      if (!ingress_.TryPublish(std::move(e))) {
        WaitForRoom(w);
        return false;
      }
      return true;
    }
    if (slot.status().code() == StatusCode::kTooLarge) {
      // No node writes a batch this large (a frame is at most one XL
      // slot): a foreign entry, skipped. Waiting for a slot would stall
      // the document for good.
      std::string line = rejected_log_.Admit("redis: skipping entry " + id.ToString() + " of '" +
                                             std::string(doc) + "': " + slot.status().ToString());
      if (!line.empty()) Log(line);
      return true;
    }
    WaitForSlots();  // the pools are empty for now
    return false;
  }

  bool InUse(std::string_view doc) const override {
    return subscriptions_.InUse(doc) || known_docs_.contains(doc);
  }
  bool Relays(std::string_view doc) const override { return !subscriptions_.Readers(doc).empty(); }
  void Log(const std::string& line) override { options_.log(line); }

  bool RedisBacklogEmpty() const { return !redis_docs_ || redis_docs_->backlog_empty(); }

  void OpenRedisConn() {
    auto control = std::make_shared<ControlData>();
    control->any_agent = true;
    IngressEntry opened;
    opened.kind = IngressEntry::Kind::kConnOpened;
    opened.conn = kRedisConn;
    opened.control = std::move(control);
    PublishControl(std::move(opened));
  }

  // From worker threads: something was published on an egress ring.
  void Wake() {
    persister_->Wake();
    uv_async_send(&wake_async_);
  }

  // Publishes a control entry, queueing it behind others while the ring is
  // full: control entries are never dropped and keep their order.
  void PublishControl(IngressEntry&& e) {
    ingress_.PublishControl(std::move(e));
    WatchQueuedControl();
  }

  void Announce(uint64_t conn, const std::string& doc) {
    auto control = std::make_shared<ControlData>();
    control->doc = doc;
    IngressEntry e;
    e.kind = IngressEntry::Kind::kAnnounce;
    e.worker = WorkerFor(doc, options_.workers);
    e.conn = conn;
    e.control = std::move(control);
    PublishControl(std::move(e));
  }

  // Waiting without a timer. Whatever the loop cannot do now (a frame with
  // no slot, an entry with no ring space) waits in stalled_, the ingress
  // queues or the Redis backlog, and Drain retries it. What runs Drain:
  //  - slots freed on other threads: a worker whose egress reclaim dropped
  //    references (MergeWorkerOptions::released), the persister once it
  //    wrote what it held for a failing disk (its progress callback); the
  //    loop's own releases (a write done, a connection closed) are
  //    followed by a retry at the end of that loop turn (slot_check_,
  //    active only while a frame waits for a slot);
  //  - a worker that made room on its ingress ring the loop watches
  //    (MergeWorkerOptions::room);
  //  - a worker's or the persister's egress entries (Wake).
  // A room watch, when newly set, is followed by one retry of its own: room
  // made just before it raised nothing (the Dekker pair in
  // EventProcessor::WatchRoom).

  // The pools ran dry.
  void WaitForSlots() {
    // The loop's half of the Dekker pair with the workers' `released`
    // callback: the flag is ordered before the retry (slot_check_) reads
    // the pools, so a slot freed meanwhile is found there or reported.
    want_slots_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&slot_check_))) {
      uv_check_start(&slot_check_, [](uv_check_t* h) {
        Impl* n = static_cast<Impl*>(h->data);
        // Stops first: a retry that stalls again starts it again.
        uv_check_stop(h);
        n->RetryStalled();
      });
    }
    // Slots the workers' egress rings still hold, though every reader
    // passed them, go back when the workers reclaim (and say so).
    for (auto& w : workers_) w->Wake();
  }

  // `worker`'s ingress ring is full (or control entries wait for it).
  void WaitForRoom(uint32_t worker) {
    if (workers_[worker]->WatchRoom()) RetrySoon();
  }

  void WatchQueuedControl() {
    for (uint32_t w = 0; w < workers_.size(); ++w) {
      if (ingress_.waiting(w)) WaitForRoom(w);
    }
  }

  // Drain runs at the loop's next turn, not from inside whatever stalled.
  void RetrySoon() { uv_async_send(&wake_async_); }

  // What waited for slots or ring space tries again; what still cannot go
  // watches again.
  void RetryStalled() {
    if (ingress_.waiting()) {
      ingress_.Flush();
      WatchQueuedControl();
    }
    if (!stalled_.empty()) {
      // One whose worker is still behind (or has control entries queued),
      // or that finds no slot, stalls again.
      std::set<uint64_t> stalled;
      stalled.swap(stalled_);
      for (uint64_t id : stalled) {
        if (Connection* c = Find(id)) c->Retry();
      }
    }
    if (!RedisBacklogEmpty()) redis_docs_->DrainBacklog();
    // Relaxed: only spares the workers' wake-ups; a stall sets it again
    // (with its fence) before it asks them for anything.
    if (stalled_.empty() && RedisBacklogEmpty()) {
      want_slots_.store(false, std::memory_order_relaxed);
    }
  }

  // Everything the workers and the persister published: relays, catch-ups,
  // rejections, acks; then whatever waited. Loop thread.
  void Drain() {
    ingress_.Reclaim();
    if (redis_) redis_->Poll();
    const bool waiting = !stalled_.empty() || !RedisBacklogEmpty();
    for (size_t i = 0; i < bcast_readers_.size(); ++i) {
      const EgressRing& ring = workers_[i]->egress();
      size_t passed = bcast_readers_[i].Poll(
          [&](const EgressEntry::Slot& slot, int64_t seq) { Broadcast(ring.Read(slot, seq)); });
      passed += ack_readers_[i].Poll([&](const EgressEntry::Slot& slot, int64_t seq) {
        const EgressView e = ring.Read(slot, seq);
        ReturnCredit(e);
        acks_->Passed(e, i, seq);
      });
      // The slots of the entries passed go back once the worker reclaims.
      if (passed != 0 && waiting) workers_[i]->Wake();
    }
    acks_->Flush();
    RetryStalled();
    MaybeFinishStop();
  }

  void Broadcast(const EgressView& e) {
    switch (e.kind) {
      case EgressEntry::Kind::kAccepted: {
        ++accepted_;
        if (redis_docs_ && e.conn != kRedisConn) redis_docs_->CountOwn(e.doc);
        if (!e.relay) return;
        for (uint64_t id : subscriptions_.Readers(e.doc)) {
          if (id == e.conn) continue;
          if (Connection* c = Find(id)) c->SendFrameBody(e.frame);
        }
        return;
      }
      case EgressEntry::Kind::kRejected:
        // Counted even when the connection is gone: it sent them.
        if (e.control->code == ErrorCode::kForeignAgent) ++forged_;
        if (Connection* c = Find(e.conn)) {
          std::string line = rejected_log_.Admit("rejecting conn " + std::to_string(e.conn) + " (" +
                                                 c->peer_name() + "): " + e.control->reason);
          if (!line.empty()) Log(line);
          c->Fail(e.control->code, e.control->reason);
        }
        return;
      case EgressEntry::Kind::kDropped: {
        ++dropped_;
        std::string line =
            dropped_log_.Admit("dropped a batch of '" + e.control->doc + "' from conn " +
                               std::to_string(e.conn) + ": " + e.control->reason);
        if (!line.empty()) Log(line);
        return;
      }
      case EgressEntry::Kind::kSubscribed: {
        if (Find(e.conn) == nullptr) return;
        subscriptions_.Answered(e.conn, e.control->doc);
        return;
      }
      case EgressEntry::Kind::kSendOps:
        if (Connection* c = Find(e.conn)) {
          const std::string& update = e.control->update;
          c->SendCatchUp(e.control->doc, e.control,
                         std::as_bytes(std::span(update.data(), update.size())));
        }
        return;
      case EgressEntry::Kind::kRelayOps: {
        const std::string& update = e.control->update;
        for (uint64_t id : subscriptions_.Readers(e.control->doc)) {
          if (Connection* c = Find(id)) {
            c->SendCatchUp(e.control->doc, e.control,
                           std::as_bytes(std::span(update.data(), update.size())));
          }
        }
        return;
      }
      case EgressEntry::Kind::kSendSyncDone:
        if (Connection* c = Find(e.conn)) {
          c->Send(SyncDone{e.control->doc, e.control->version});
          ConnBook& book = books_[e.conn];
          if (book.catch_ups > 0) --book.catch_ups;
          ResumeIfWaiting(e.conn, book);
        }
        return;
      case EgressEntry::Kind::kSendSubscribe:
        if (Connection* c = Find(e.conn)) c->Send(Subscribe{e.control->doc, e.control->version});
        return;
      case EgressEntry::Kind::kDocCreated:
        known_docs_.insert(e.control->doc);
        for (auto& [id, c] : conns_) {
          if (c->ready() && c->peer_relays()) Announce(id, e.control->doc);
        }
        return;
      case EgressEntry::Kind::kRedisSnapshot:
        if (redis_docs_) redis_docs_->CompactWith(e);
        return;
      case EgressEntry::Kind::kNotice: {
        std::string line = dropped_log_.Admit(e.control->reason);
        if (!line.empty()) Log(line);
        return;
      }
      case EgressEntry::Kind::kEvictable:
        if (redis_docs_) redis_docs_->MaybeEvict(e.control->doc);
        return;
      case EgressEntry::Kind::kSnapshot:
      case EgressEntry::Kind::kNone:
        return;
    }
  }

  // A connection's batch `e` is through the pipeline: its credit returns.
  void ReturnCredit(const EgressView& e) {
    auto it = books_.find(e.conn);
    if (it == books_.end() || e.batch_bytes == 0) return;
    ConnBook& book = it->second;
    auto pool = static_cast<size_t>(ringbuf::estimate_size(e.batch_bytes));
    if (book.in_slots[pool] > 0) --book.in_slots[pool];
    book.in_bytes -= std::min<size_t>(book.in_bytes, e.batch_bytes);
    ResumeIfWaiting(e.conn, book);
  }

  void ResumeIfWaiting(uint64_t conn, ConnBook& book) {
    if (!book.waiting) return;
    book.waiting = false;
    if (Connection* c = Find(conn)) c->Retry();  // refuses again if still over
  }

  // ---- Connections ----------------------------------------------------------------

  Connection* Find(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() || it->second->closing() ? nullptr : it->second.get();
  }

  Connection& NewConnection(bool client, bool websocket = false) {
    ConnectionOptions co;
    co.websocket = websocket;
    co.handshake.client = client;
    co.handshake.node_id = node_id_;
    co.handshake.secret = options_.secret;
    co.handshake.node_secret = options_.node_secret;
    co.handshake.is_node = true;
    co.handshake.label = "node";
    co.credit = credit_;
    co.outbound_credit_bytes = options_.budget.outbound_credit_bytes;
    co.max_outbound_bytes = options_.budget.max_outbound_bytes;
    uint64_t id = ++next_conn_id_;
    auto c = std::make_unique<Connection>(&loop_, id, &alloc_, this, std::move(co));
    Connection& ref = *c;
    conns_.emplace(id, std::move(c));
    return ref;
  }

  static void OnConnection(uv_stream_t* server, int status) {
    Impl* n = static_cast<Impl*>(server->data);
    if (status < 0 || n->stopping_) return;
    bool full = n->conns_.size() >= n->options_.budget.max_connections;
    Connection& c = n->NewConnection(false);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(c.tcp())) != 0) {
      c.Close("accept failed");
      return;
    }
    c.Start();
    if (full) {
      c.Fail(ErrorCode::kOverloaded,
             "over " + std::to_string(n->options_.budget.max_connections) + " connections");
    }
  }

  static void OnStats(uv_timer_t* t) {
    Impl* n = static_cast<Impl*>(t->data);
    NodeFigures f = n->Figures();
    double seconds = static_cast<double>(n->options_.stats_interval.count()) / 1000.0;
    f.ops_per_s = static_cast<double>(n->accepted_ - n->accepted_at_last_stats_) / seconds;
    n->accepted_at_last_stats_ = n->accepted_;
    n->Log(FormatStatsLine(f));
  }

  // What the stats line and GET /metrics report (ops_per_s left 0).
  NodeFigures Figures() const {
    NodeFigures f;
    ringbuf::EventPoolsStats pools = alloc_.Stats();
    for (const ringbuf::SlotPoolStats& p : pools.pools) {
      f.pool_in_use += p.in_use;
      f.pool_capacity += p.capacity;
    }
    for (const auto& [id, c] : conns_) f.peers += c->ready() && c->peer_relays() ? 1 : 0;
    f.conns = conns_.size();
    f.docs = known_docs_.size();
    f.accepted = accepted_;
    f.dropped = dropped_;
    f.forged = forged_;
    f.persisted_bytes = persister_ ? persister_->persisted_bytes() : 0;
    f.disk_ok = !persister_ || persister_->disk_ok();
    for (const auto& w : workers_) {
      ResidencyStats r = w->residency();
      f.resident_docs += r.docs;
      f.resident_bytes += r.bytes;
      f.evicted += r.evicted;
      f.loaded += r.loaded;
    }
    if (redis_) {
      f.redis = redis_->stats();
      f.redis_docs = redis_docs_->size();
    }
    return f;
  }

  // ---- HTTP -------------------------------------------------------------------------
  //
  // The page, health and metrics (http_listener.h); WebSocket clients it
  // upgrades become Connections like TCP ones.

  Status InitHttp() {
    if (!options_.http) return Status::Ok();
    Result<WebFiles> files = WebFiles::Load(options_.web_root);
    if (!files.ok()) return files.status();
    HttpHooks hooks;
    hooks.healthy = [this] {
      return (!persister_ || persister_->disk_ok()) && (!redis_ || redis_->healthy());
    };
    hooks.metrics = [this] { return Metrics(); };
    hooks.adopt_websocket = [this](uv_os_sock_t fd, std::string early) {
      AdoptWebSocket(fd, std::move(early));
    };
    hooks.log = options_.log;
    Result<sockaddr_storage> addr = Resolve(*options_.http);
    if (!addr.ok()) return addr.status();
    http_ = std::make_unique<HttpListener>(&loop_, std::move(*files), std::move(hooks));
    return http_->Listen(*addr, options_.http->ToString());
  }

  std::string Metrics() {
    NodeFigures f = Figures();
    // The rate over the last second or more: scrapes closer together than
    // that see the same figure.
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - metrics_rate_at_).count();
    if (seconds >= 1.0) {
      metrics_rate_ = static_cast<double>(accepted_ - metrics_accepted_at_) / seconds;
      metrics_rate_at_ = now;
      metrics_accepted_at_ = accepted_;
    }
    f.ops_per_s = metrics_rate_;
    return FormatMetrics(f, edit_to_ack_);
  }

  void AdoptWebSocket(uv_os_sock_t fd, std::string early) {
    if (stopping_) {
      ::close(fd);
      return;
    }
    Connection& c = NewConnection(false, true);
    if (int rc = uv_tcp_open(c.tcp(), fd); rc != 0) {
      ::close(fd);
      c.Close(std::string("cannot adopt a WebSocket: ") + uv_strerror(rc));
      return;
    }
    c.Start(std::as_bytes(std::span(early.data(), early.size())));
  }

  static void OnHeartbeat(uv_timer_t* t) {
    Impl* n = static_cast<Impl*>(t->data);
    if (n->redis_docs_) n->redis_docs_->RetryReads();
    // Idle workers wake for their housekeeping (evicting idle documents).
    if (!n->stopping_) {
      for (auto& w : n->workers_) w->Wake();
    }
    auto now = Connection::Clock::now();
    // Silence is judged by the clock and by pings: a peer is silent only
    // after peer_timeout without a byte *and* as many unanswered pings as
    // heartbeats fit in it. If this loop itself stalled (a long drain, a
    // starved process), the clock says every peer has been silent, but
    // they were neither pinged nor read meanwhile: one tick has passed, so
    // one ping more is counted, and their answers are read next.
    const int64_t heartbeats =
        n->options_.peer_timeout / std::max(n->options_.heartbeat, std::chrono::milliseconds(1));
    const uint32_t pings = static_cast<uint32_t>(std::clamp<int64_t>(heartbeats, 1, 1000));
    std::vector<Connection*> silent, stuck;
    for (auto& [id, c] : n->conns_) {
      if (c->closing()) continue;
      // However much it sends: a queue that takes nothing is a dead reader.
      if (c->outbound_bytes() > 0 &&
          now - c->last_write_progress() > n->options_.budget.drain_timeout) {
        stuck.push_back(c.get());
        continue;
      }
      // A connection we stopped reading (back-pressure) is not silent.
      if (c->paused()) continue;
      // A connection still in its handshake is never pinged: the clock
      // alone judges it.
      bool unanswered = !c->ready() || c->pings_since_heard() >= pings;
      if (now - c->last_heard() > n->options_.peer_timeout && unanswered) {
        silent.push_back(c.get());
      } else if (c->ready()) {
        c->SendPing(++n->ping_nonce_, NowMicros());
      }
    }
    for (Connection* c : silent) {
      c->Fail(ErrorCode::kTimeout,
              "silent for over " + std::to_string(n->options_.peer_timeout.count()) + " ms");
    }
    for (Connection* c : stuck) {
      c->Fail(ErrorCode::kOverloaded,
              "took nothing of its queue (" + std::to_string(c->outbound_bytes()) +
                  " bytes) for over " + std::to_string(n->options_.budget.drain_timeout.count()) +
                  " ms");
    }
  }

  static void OnSignal(uv_signal_t* s, int signum) {
    Impl* n = static_cast<Impl*>(s->data);
    n->Log(std::string("received ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") +
           ": shutting down");
    n->BeginStop();
  }

  // ---- Shutdown ---------------------------------------------------------------------
  //
  // Stop accepting and dialing, close every connection with an Error frame,
  // close the ingress ring once its backlog is in, let the workers and the
  // persister drain, then close the loop's own handles.

  void BeginStop() {
    if (stopping_) return;
    stopping_ = true;
    if (redis_docs_) redis_docs_->Stop();
    // A failing disk must not hold the stop up for longer than this.
    persister_->AbandonAfter(options_.stop_grace);
    // Every author is being disconnected: what Redis has not confirmed
    // yet will never be acked, so nothing acked depends on waiting.
    if (redis_) redis_->Close([] {});
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    if (http_) http_->Close(nullptr);
    dialer_->Stop();
    std::vector<Connection*> all;
    for (auto& [id, c] : conns_) all.push_back(c.get());
    for (Connection* c : all) c->Fail(ErrorCode::kShuttingDown, "node shutting down");
    RetrySoon();
  }

  void MaybeFinishStop() {
    if (!stopping_ || finished_) return;
    // Connections still closing publish their kConnClosed; control entries
    // still queued must reach the ring before it closes.
    if (!conns_.empty() || ingress_.waiting()) return;
    if (!ingress_closed_) {
      ingress_.Close();
      ingress_closed_ = true;
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      EgressRing& ring = workers_[i]->egress();
      int64_t published = ring.Stats().published;
      if (!ring.closed() || bcast_readers_[i].cursor() < published ||
          ack_readers_[i].cursor() < published) {
        return;
      }
    }
    finished_ = true;
    for (auto& w : workers_) w->egress().Reclaim();
    ingress_.Reclaim();
    persister_->Wake();
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&wake_async_),
          reinterpret_cast<uv_handle_t*>(&stop_async_), reinterpret_cast<uv_handle_t*>(&heartbeat_),
          reinterpret_cast<uv_handle_t*>(&slot_check_),
          reinterpret_cast<uv_handle_t*>(&stats_timer_)}) {
      uv_close(h, nullptr);
    }
    if (options_.handle_signals) {
      uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
    }
    dialer_->Close();
  }

  NodeOptions options_;
  uint64_t node_id_;  // set by Init
  const ConnectionCredit credit_;
  ringbuf::EventAllocator alloc_;
  IngressRings ingress_;
  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t stop_async_{};
  uv_async_t wake_async_{};
  uv_check_t slot_check_{};
  // A frame or Redis entry waits for a pool slot: workers report what
  // their reclaims free (set by the loop, read by the workers).
  std::atomic<bool> want_slots_{false};
  uv_timer_t heartbeat_{};
  uv_timer_t stats_timer_{};
  uint64_t accepted_ = 0;  // op batches the workers accepted (loop thread)
  uint64_t accepted_at_last_stats_ = 0;
  std::unique_ptr<HttpListener> http_;
  LatencyHistogram edit_to_ack_;  // loop thread
  std::chrono::steady_clock::time_point metrics_rate_at_ = std::chrono::steady_clock::now();
  uint64_t metrics_accepted_at_ = 0;
  double metrics_rate_ = 0;
  uint64_t dropped_ = 0;  // batches dropped for a full Pending set (loop thread)
  uint64_t forged_ = 0;   // batches refused for ops under another's agent (loop thread)
  LogLimiter dropped_log_{5, std::chrono::seconds(10)};
  LogLimiter rejected_log_{5, std::chrono::seconds(10)};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  uint16_t port_ = 0;
  bool ran_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool ingress_closed_ = false;
  uint64_t next_conn_id_ = 0;
  uint64_t ping_nonce_ = 0;

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::unique_ptr<PeerDialer> dialer_;  // the links to --peer nodes
  Subscriptions subscriptions_;
  std::set<std::string, std::less<>> known_docs_;
  std::unordered_map<uint64_t, ConnBook> books_;
  std::set<uint64_t> stalled_;  // connections waiting for slots or ring space

  std::vector<std::unique_ptr<MergeWorker>> workers_;
  std::vector<EgressRing::Reader> persist_readers_;
  std::vector<EgressRing::Reader> bcast_readers_;
  std::vector<EgressRing::Reader> ack_readers_;
  std::unique_ptr<Persister> persister_;
  std::unique_ptr<RedisWriter> redis_;                  // with --redis; loop thread
  std::unique_ptr<Acks> acks_;                          // uses persister_ and redis_
  std::unique_ptr<RedisDocs> redis_docs_;               // with --redis; uses redis_
  std::unique_ptr<persist::RecoveredState> recovered_;  // from Init until the pipeline starts
  std::unique_ptr<persist::OpLogWriter> log_writer_;    // likewise, then the persister's
  // The op log could not be opened at start (a full disk): the persister
  // opens it once it can.
  std::function<Result<std::unique_ptr<persist::OpLogWriter>>()> open_log_;
  std::vector<std::thread> threads_;
};

Result<std::unique_ptr<Node>> Node::Create(NodeOptions options) {
  WEFT_RETURN_IF_ERROR(options.budget.Validate());
  if (options.node_secret && options.secret && *options.node_secret == *options.secret) {
    // A client would then hold the credential that makes a relay.
    return Status::InvalidArgument("the node secret must differ from the client secret");
  }
  if (!options.peers.empty() && options.secret && !options.node_secret) {
    return Status::InvalidArgument("peers need a node secret when clients need a secret");
  }
  // The rings are built with the Impl: options that would make them
  // malformed are refused before.
  WEFT_RETURN_IF_ERROR(IngressRing::Validate(IngressOptions(options)).WithContext("ingress ring"));
  auto impl = std::make_unique<Impl>(std::move(options));
  if (Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;
uint16_t Node::port() const { return impl_->port(); }
uint16_t Node::http_port() const { return impl_->http_port(); }
uint64_t Node::node_id() const { return impl_->node_id(); }
Status Node::Run() { return impl_->Run(); }
void Node::Stop() { impl_->Stop(); }

}  // namespace weft::node
