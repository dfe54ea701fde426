#include "node_impl.h"

namespace weft::node {

void Node::Impl::Wake() {
  persister_->Wake();
  uv_async_send(&wake_async_);
}

void Node::Impl::Drain() {
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

void Node::Impl::Broadcast(const EgressView& e) {
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

void Node::Impl::ReturnCredit(const EgressView& e) {
  auto it = books_.find(e.conn);
  if (it == books_.end() || e.batch_bytes == 0) return;
  ConnBook& book = it->second;
  auto pool = static_cast<size_t>(ringbuf::estimate_size(e.batch_bytes));
  if (book.in_slots[pool] > 0) --book.in_slots[pool];
  book.in_bytes -= std::min<size_t>(book.in_bytes, e.batch_bytes);
  ResumeIfWaiting(e.conn, book);
}

void Node::Impl::ResumeIfWaiting(uint64_t conn, ConnBook& book) {
  if (!book.waiting) return;
  book.waiting = false;
  if (Connection* c = Find(conn)) c->Retry();  // refuses again if still over
}

}  // namespace weft::node
