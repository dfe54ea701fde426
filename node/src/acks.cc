#include "acks.h"

#include <algorithm>
#include <utility>

namespace weft::node {

Acks::Acks(size_t rings, const Persister* persister, const RedisWriter* redis,
           std::function<Connection*(uint64_t)> find, LatencyHistogram* edit_to_ack)
    : persister_(persister),
      redis_(redis),
      find_(std::move(find)),
      edit_to_ack_(edit_to_ack),
      held_(rings) {}

int64_t Acks::Durable(size_t ring) const {
  int64_t d = persister_->durable(ring);
  return redis_ != nullptr ? std::min(d, redis_->confirmed(ring)) : d;
}

void Acks::Passed(const EgressView& e, size_t ring, int64_t seq) {
  if (e.kind != EgressEntry::Kind::kAccepted || e.ack_agent == 0) return;
  Connection* c = find_(e.conn);
  // Nodes author nothing of their own: they are not acked.
  if (c == nullptr || c->peer_relays()) return;
  if (seq > Durable(ring)) {
    // The persister passed it without storing it (the disk is failing),
    // or Redis has not confirmed it yet.
    held_[ring].push_back(Held{seq, e.conn, std::string(e.doc), e.ack_agent, e.ack_next_seq});
    return;
  }
  engine::VersionVector durable;
  durable.Set(e.ack_agent, e.ack_next_seq);
  c->Send(Ack{std::string(e.doc), std::move(durable)});
  if (e.received_micros != 0) edit_to_ack_->Record(NowMicros() - e.received_micros);
}

// While the disk fails, nothing the authors of held acks sent since can be
// acknowledged until it recovers: they are told, and disconnected.
void Acks::Flush() {
  const bool failing = persister_->failing();
  for (size_t ring = 0; ring < held_.size(); ++ring) {
    std::deque<Held>& acks = held_[ring];
    const int64_t durable = Durable(ring);
    while (!acks.empty() && acks.front().seq <= durable) {
      const Held& a = acks.front();
      if (Connection* c = find_(a.conn)) {
        engine::VersionVector v;
        v.Set(a.agent, a.next_seq);
        c->Send(Ack{a.doc, std::move(v)});
      }
      acks.pop_front();
    }
    if (!failing) continue;
    for (const Held& a : acks) {
      if (Connection* c = find_(a.conn)) c->Fail(ErrorCode::kStorage, kCannotStore);
    }
  }
}

}  // namespace weft::node
