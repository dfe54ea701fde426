#include "redis_writer.h"

#include <algorithm>
#include <utility>

namespace weft::node {

Result<std::unique_ptr<RedisWriter>> RedisWriter::Create(uv_loop_s* loop,
                                                         const std::vector<EgressRing*>& rings,
                                                         RedisWriterOptions options) {
  Result<redis::RedisAddress> address = redis::ParseRedisUrl(options.url);
  if (!address.ok()) return address.status();
  std::unique_ptr<RedisWriter> w(new RedisWriter(rings, std::move(options)));
  for (EgressRing* ring : rings) {
    Result<EgressRing::Reader> r = ring->AddReader();
    if (!r.ok()) return r.status();
    w->readers_.push_back(std::move(*r));
  }
  redis::StoreOptions so;
  so.address = *address;
  so.prefix = w->options_.prefix;
  so.node_id = w->options_.node_id;
  so.log = w->options_.log;
  so.follow = w->options_.follow;
  so.trim_min_age = w->options_.trim_min_age;
  so.bad_entry = [self = w.get()](const redis::BadEntry& b) {
    if (self->options_.log) {
      self->options_.log("redis: skipping a bad entry of '" + b.doc + "': " + b.reason);
    }
  };
  RedisWriter* self = w.get();
  so.health_changed = [self](const redis::Health& h) {
    if (self->closed_) return;
    if (h.writer == redis::LinkHealth::kConnected) {
      self->SendQueued();
    } else if (self->options_.log && h.writer == redis::LinkHealth::kFailing) {
      self->options_.log("redis unreachable, holding acks until it is back: " +
                         h.last_error.ToString());
    }
    if (self->options_.on_progress) self->options_.on_progress();
  };
  Result<std::unique_ptr<redis::DocStore>> store = redis::DocStore::Create(loop, std::move(so));
  if (!store.ok()) return store.status();
  w->store_ = std::move(*store);
  return w;
}

RedisWriter::RedisWriter(std::vector<EgressRing*> rings, RedisWriterOptions options)
    : rings_(std::move(rings)),
      options_(std::move(options)),
      confirmed_(rings_.size(), -1),
      taken_(rings_.size(), -1),
      queued_seqs_(rings_.size()) {}

RedisWriter::~RedisWriter() = default;

void RedisWriter::Poll() {
  if (closed_) {
    // Stopping: what is left is never acknowledged; keep the rings moving.
    for (EgressRing::Reader& r : readers_) r.Poll([](const EgressEntry::Slot&, int64_t) {});
    return;
  }
  for (size_t i = 0; i < readers_.size(); ++i) {
    // Past the bound the rings fill up behind this reader, and the node
    // stops reading writers: back-pressure while Redis is slow or away.
    if (queue_.size() >= kMaxQueued) break;
    readers_[i].Poll(
        [&](const EgressEntry::Slot& slot, int64_t seq) {
          const EgressView e = rings_[i]->Read(slot, seq);
          taken_[i] = seq;
          if (e.kind != EgressEntry::Kind::kAccepted || e.update.empty() ||
              e.conn == options_.skip_conn) {
            // Nothing to append: confirmed as soon as what is before it is.
            if (queued_seqs_[i].empty()) confirmed_[i] = seq;
            return;
          }
          queued_seqs_[i].push_back(seq);
          queue_.push_back(
              Batch{i, seq, std::string(e.doc),
                    std::string(reinterpret_cast<const char*>(e.update.data()), e.update.size())});
        },
        kMaxQueued - queue_.size());
  }
  SendQueued();
}

void RedisWriter::SendQueued() {
  while (!closed_ && sent_ < queue_.size()) {
    const Batch& b = queue_[sent_];
    uint64_t epoch = epoch_;
    Status s = store_->Append(b.doc, std::as_bytes(std::span(b.update.data(), b.update.size())),
                              [this, epoch](Result<redis::StreamId> r) { OnAppended(epoch, r); });
    if (s.code() == StatusCode::kInvalidArgument) {
      // A name or an update Redis can never take: report it and pass it,
      // unconfirmed entries behind it would otherwise wait forever.
      if (options_.log)
        options_.log("redis: not appending a batch of " + b.doc + ": " + s.ToString());
      std::deque<int64_t>& seqs = queued_seqs_[b.ring];
      bool first = !seqs.empty() && seqs.front() == b.seq;
      std::erase(seqs, b.seq);
      if (first) confirmed_[b.ring] = seqs.empty() ? taken_[b.ring] : seqs.front() - 1;
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(sent_));
      continue;
    }
    // Unavailable: wait for the connection; ResourceExhausted: for replies.
    if (!s.ok()) return;
    ++sent_;
  }
}

void RedisWriter::OnAppended(uint64_t epoch, Result<redis::StreamId> r) {
  if (closed_ || epoch != epoch_) return;
  if (!r.ok()) {
    // Everything in flight is sent again, in order, once the writer
    // connection is back (health_changed).
    ++epoch_;
    sent_ = 0;
    return;
  }
  if (queue_.empty() || sent_ == 0) return;
  size_t ring = queue_.front().ring;
  queue_.pop_front();
  --sent_;
  std::deque<int64_t>& seqs = queued_seqs_[ring];
  seqs.pop_front();
  confirmed_[ring] = seqs.empty() ? taken_[ring] : seqs.front() - 1;
  if (options_.on_progress) options_.on_progress();
  Poll();  // room again for what the rings hold
}

bool RedisWriter::healthy() const {
  return store_ && store_->health().writer == redis::LinkHealth::kConnected;
}

bool RedisWriter::caught_up() const {
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (readers_[i].cursor() < rings_[i]->Stats().published) return false;
  }
  return true;
}

redis::StoreStats RedisWriter::stats() const { return store_->stats(); }

void RedisWriter::Follow(const std::string& doc, redis::StreamId after) {
  if (closed_) return;
  if (Status s = store_->Follow(doc, after); !s.ok() && options_.log) {
    options_.log("redis: cannot follow '" + doc + "': " + s.ToString());
  }
}

void RedisWriter::Close(std::function<void()> done) {
  closed_ = true;
  store_->Close(std::move(done));
}

}  // namespace weft::node
