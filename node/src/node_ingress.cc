#include "node_impl.h"

namespace weft::node {

void Node::Impl::OnReady(Connection& c) {
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

bool Node::Impl::OnMessage(Connection& c, const FrameRef& frame, const Message& m) {
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
        c.Fail(ErrorCode::kOverloaded, "over " + std::to_string(options_.budget.max_subscriptions) +
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

void Node::Impl::OnClosed(Connection& c, const std::string& reason) {
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

void Node::Impl::OnStalled(Connection& c) {
  stalled_.insert(c.id());
  WaitForSlots();
}

bool Node::Impl::PublishFollowed(std::string_view doc, redis::StreamId id,
                                 std::span<const std::byte> update) {
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

bool Node::Impl::InUse(std::string_view doc) const {
  return subscriptions_.InUse(doc) || known_docs_.contains(doc);
}

void Node::Impl::OpenRedisConn() {
  auto control = std::make_shared<ControlData>();
  control->any_agent = true;
  IngressEntry opened;
  opened.kind = IngressEntry::Kind::kConnOpened;
  opened.conn = kRedisConn;
  opened.control = std::move(control);
  PublishControl(std::move(opened));
}

void Node::Impl::PublishControl(IngressEntry&& e) {
  ingress_.PublishControl(std::move(e));
  WatchQueuedControl();
}

void Node::Impl::Announce(uint64_t conn, const std::string& doc) {
  auto control = std::make_shared<ControlData>();
  control->doc = doc;
  IngressEntry e;
  e.kind = IngressEntry::Kind::kAnnounce;
  e.worker = WorkerFor(doc, options_.workers);
  e.conn = conn;
  e.control = std::move(control);
  PublishControl(std::move(e));
}

void Node::Impl::WaitForSlots() {
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

void Node::Impl::WaitForRoom(uint32_t worker) {
  if (workers_[worker]->WatchRoom()) RetrySoon();
}

void Node::Impl::WatchQueuedControl() {
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    if (ingress_.waiting(w)) WaitForRoom(w);
  }
}

void Node::Impl::RetryStalled() {
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

}  // namespace weft::node
