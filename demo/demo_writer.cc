#include "demo_writer.h"

#include <poll.h>

#include <algorithm>

namespace weft::demo {

using std::chrono::milliseconds;

// ---- Latency --------------------------------------------------------------------

void Latency::Typed(uint64_t agent, uint64_t next_seq) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Clock::time_point>& v = typed_[agent];
  while (v.size() < next_seq) v.push_back(Clock::now());
}

void Latency::Seen(const engine::VersionVector& version, uint64_t observer) {
  Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [agent, next] : version.entries()) {
    if (agent == observer) continue;
    uint64_t& seen = seen_[observer][agent];
    const std::vector<Clock::time_point>& t = typed_[agent];
    for (; seen < next && seen < t.size(); ++seen) {
      samples_.push_back(std::chrono::duration<double, std::milli>(now - t[seen]).count());
    }
  }
}

std::pair<double, double> Latency::P50P99() {
  std::lock_guard<std::mutex> l(mu_);
  if (samples_.empty()) return {0, 0};
  std::sort(samples_.begin(), samples_.end());
  return {samples_[samples_.size() / 2], samples_[samples_.size() * 99 / 100]};
}

// ---- Writer ---------------------------------------------------------------------

Writer::Writer(uint64_t agent, std::string doc, std::function<std::string()> addr, Latency* latency,
               std::vector<uint64_t> also)
    : agent_(agent),
      also_(std::move(also)),
      doc_name_(std::move(doc)),
      addr_(std::move(addr)),
      latency_(latency),
      doc_(agent) {}

Writer::~Writer() { Stop(); }

bool Writer::Connect() {
  std::lock_guard<std::mutex> l(mu_);
  return ConnectLocked();
}

void Writer::Start(std::function<void(Writer&)> work) {
  thread_ = std::thread([this, work = std::move(work)] {
    work(*this);
    work_done_.store(true, std::memory_order_relaxed);
    while (!stopping()) WaitUntil(Clock::now() + milliseconds(50));
  });
}

void Writer::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

bool Writer::ConnectLocked() {
  client_.reset();
  transport::ClientOptions o;
  Result<transport::HostPort> hp = transport::ParseHostPort(addr_());
  if (!hp.ok()) return false;
  o.server = *hp;
  o.agents = {agent_};
  o.agents.insert(o.agents.end(), also_.begin(), also_.end());
  o.label = "demo writer";
  // Connect and catch-up wait this long at most; a restarted node may still
  // be recovering. Only this writer waits: the others run on.
  o.timeout = milliseconds(10000);
  Result<std::unique_ptr<transport::Client>> c = transport::Client::Connect(o);
  if (!c.ok()) return false;
  client_ = std::move(*c);
  if (!client_->Subscribe(doc_name_, &doc_).ok()) {
    client_.reset();
    return false;
  }
  SendWhatTheNodeLacks(client_->synced_version(doc_name_));
  return true;
}

void Writer::SendWhatTheNodeLacks(const engine::VersionVector& node_has) {
  // Handed batches first, in the order they were handed: every one the
  // node lacks (acknowledged ones left the outbox already).
  for (const TraceBatch& b : outbox_) {
    if (node_has.Get(b.agent) < b.end) (void)client_->SendUpdate(doc_name_, b.update);
  }
  // Then the writer's own edits beyond what the node has. The handed
  // agents' ops went above; the replica's copies of them are not resent.
  engine::VersionVector since = node_has;
  for (uint64_t a : also_) since.Set(a, std::max(node_has.Get(a), doc_.known_seqs(a)));
  (void)client_->SendOpsSince(doc_name_, doc_, since);
}

void Writer::Edit(const std::function<void(engine::Doc&)>& edit) {
  {
    std::lock_guard<std::mutex> l(mu_);
    // SendOpsSince reads the writer's own agents only.
    engine::VersionVector before = doc_.version(also_);
    before.Set(agent_, doc_.known_seqs(agent_));
    edit(doc_);
    latency_->Typed(agent_, doc_.known_seqs(agent_));
    // Offline, the edit stays in the replica: the next connect sends it.
    if (client_) (void)client_->SendOpsSince(doc_name_, doc_, before);
  }
  Serve();
}

void Writer::WaitUntil(Clock::time_point until) {
  do {
    Serve();
    // Pacing between keystrokes; 2 ms keeps pings answered and relays
    // applied promptly without spinning a core.
    poll(nullptr, 0, 2);
  } while (Clock::now() < until && !stopping());
}

void Writer::Send(TraceBatch batch) {
  std::lock_guard<std::mutex> l(handed_mu_);
  handed_.push_back(std::move(batch));
}

bool Writer::idle() const {
  if (!work_done_.load(std::memory_order_relaxed)) return false;
  std::lock_guard<std::mutex> l(handed_mu_);
  return handed_.empty();
}

Replica Writer::State() const {
  std::lock_guard<std::mutex> l(mu_);
  return Replica{true, doc_.Text(), doc_.version(), doc_.pending_ops()};
}

void Writer::Serve() {
  std::lock_guard<std::mutex> l(mu_);
  TakeHandedBatches();
  if (client_ && client_->Poll().ok()) {
    DropAcknowledged();
    latency_->Seen(doc_.version(), agent_);
    return;
  }
  // Offline: try again at most every 200 ms. What was typed or handed over
  // meanwhile goes out with the reconnect.
  if (Clock::now() < next_attempt_) return;
  next_attempt_ = Clock::now() + milliseconds(200);
  if (ConnectLocked()) reconnects_.fetch_add(1, std::memory_order_relaxed);
}

void Writer::TakeHandedBatches() {
  std::vector<TraceBatch> taken;
  {
    std::lock_guard<std::mutex> l(handed_mu_);
    taken.swap(handed_);
  }
  for (TraceBatch& b : taken) {
    // The replica holds what its writer sent, as a replica of any author
    // would (ops whose dependencies another writer sends wait in Pending).
    (void)doc_.ApplyUpdate(b.update);
    if (client_) (void)client_->SendUpdate(doc_name_, b.update);
    outbox_.push_back(std::move(b));
  }
}

void Writer::DropAcknowledged() {
  if (outbox_.empty()) return;
  engine::VersionVector acked = client_->acked(doc_name_);
  std::erase_if(outbox_, [&](const TraceBatch& b) { return acked.Get(b.agent) >= b.end; });
}

}  // namespace weft::demo
