#include "weft/node/node.h"

#include <pthread.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "node_impl.h"

namespace weft::node {

Status Node::Impl::Init() {
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
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, OnConnection); rc != 0) {
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

Status Node::Impl::Run() {
  ran_ = true;
  // The loop thread allocates incoming frames and reclaims the ingress
  // ring, so it owns the pools.
  alloc_.AdoptCurrentThread();
  uv_async_init(&loop_, &wake_async_, [](uv_async_t* a) { static_cast<Impl*>(a->data)->Drain(); });
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
  uv_timer_start(&heartbeat_, OnHeartbeat, options_.heartbeat.count(), options_.heartbeat.count());
  if (options_.handle_signals) {
    for (uv_signal_t* s : {&sigint_, &sigterm_}) {
      uv_signal_init(&loop_, s);
      s->data = this;
    }
    uv_signal_start(&sigint_, OnSignal, SIGINT);
    uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  }
  if (redis_) OpenRedisConn();
  // Named, so that top -H, perf and gdb tell the stages apart.
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_.emplace_back([w = workers_[i].get(), i] {
      pthread_setname_np(pthread_self(), ("weft-merge-" + std::to_string(i)).substr(0, 15).c_str());
      w->Run();
    });
  }
  threads_.emplace_back([p = persister_.get()] {
    pthread_setname_np(pthread_self(), "weft-persist");
    p->Run();
  });
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

std::string Node::Impl::Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string Node::Impl::AccessNote() const {
  if (!options_.secret && !options_.node_secret) {
    return "; no secret configured: accepting any client and any peer node, and letting any "
           "peer that says it is a node relay others' ops";
  }
  if (!options_.node_secret) return "; no node secret: clients only, no peer nodes";
  if (!options_.secret) return "; no client secret: accepting any client";
  return "";
}

Status Node::Impl::BuildPipeline() {
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
  persister_ = std::make_unique<Persister>(std::move(rings), std::move(persist_readers_),
                                           std::move(po), std::move(log_writer_), recovered_.get(),
                                           [this] { uv_async_send(&wake_async_); });
  recovered_.reset();
  acks_ = std::make_unique<Acks>(
      workers_.size(), persister_.get(), redis_.get(), [this](uint64_t id) { return Find(id); },
      &edit_to_ack_);
  return Status::Ok();
}

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
