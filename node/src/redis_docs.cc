#include "redis_docs.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

namespace weft::node {

RedisDocs::RedisDocs(RedisWriter* writer, RedisDocsOptions options, Host* host)
    : writer_(writer), options_(options), host_(host) {}

// When pool slots or ring space run out, entries wait in backlog_ in order
// and the follower pauses until they are in.
void RedisDocs::OnEntries(std::string_view doc, std::span<const redis::Entry> entries) {
  for (const redis::Entry& entry : entries) {
    if (backlog_.empty() && Publish(doc, entry.id, entry.node, entry.update)) continue;
    backlog_.push_back(BacklogEntry{
        std::string(doc), entry.id, entry.node,
        std::string(reinterpret_cast<const char*>(entry.update.data()), entry.update.size())});
  }
  if (backlog_.empty()) return;
  if (!paused_) {
    // Bounded: a read in flight still delivers at most one page.
    writer_->store().PauseFollowing();
    paused_ = true;
  }
}

// One followed entry to its document's worker; false, with nothing done,
// while there is no slot or ring space for it.
bool RedisDocs::Publish(std::string_view doc, redis::StreamId id, uint64_t node,
                        std::span<const std::byte> update) {
  auto d = docs_.find(doc);
  if (node != options_.node_id) {
    if (!host_->PublishFollowed(doc, id, update)) return false;
    if (d != docs_.end()) ++d->second.since_compaction;
  }
  if (d != docs_.end()) {
    d->second.position = std::max(d->second.position, id);
    MaybeCompact(d->first, d->second);
  }
  return true;
}

void RedisDocs::DrainBacklog() {
  while (!backlog_.empty()) {
    const BacklogEntry& b = backlog_.front();
    if (!Publish(b.doc, b.id, b.node, std::as_bytes(std::span(b.update.data(), b.update.size())))) {
      return;  // it waits for room or slots, which wake the node's drain
    }
    backlog_.pop_front();
  }
  if (paused_) {
    paused_ = false;
    if (!writer_->closed()) writer_->store().ResumeFollowing();
  }
}

void RedisDocs::OnRefused(std::string_view doc, const Status& why) {
  Log("redis: no longer following '" + std::string(doc) + "': " + why.ToString());
  if (auto it = docs_.find(doc); it != docs_.end()) it->second.refused = true;
}

// The document's state, reading it if this is its first use.
RedisDocs::Doc& RedisDocs::Use(std::string_view doc) {
  auto it = docs_.find(doc);
  if (it != docs_.end()) return it->second;
  it = docs_.emplace(std::string(doc), Doc{}).first;
  Read(it->first, it->second);
  return it->second;
}

bool RedisDocs::Hold(IngressEntry& e) {
  Doc& d = Use(e.control->doc);
  if (d.loaded || (d.read_failed && !Starting())) return false;
  d.held.push_back(std::move(e));
  return true;
}

void RedisDocs::CountOwn(std::string_view doc) { ++Use(doc).since_compaction; }

void RedisDocs::Read(const std::string& doc, Doc& d) {
  d.read_failed = false;
  if (stopping_ || writer_->closed()) return;
  auto started = std::chrono::steady_clock::now();
  Status s = writer_->store().Read(doc, [this, doc, started](Result<redis::DocImage> image) {
    if (image.ok()) {
      char line[256];
      std::snprintf(
          line, sizeof line,
          "redis: read '%s' in %.1f ms: a snapshot of %zu bytes and %zu entries after it",
          doc.c_str(),
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count(),
          image->snapshot.size(), image->tail.size());
      Log(line);
    }
    OnImage(doc, std::move(image));
  });
  if (s.ok()) {
    d.reading = true;
  } else if (s.code() == StatusCode::kUnavailable) {
    Away(d);
  } else {
    Refuse(doc, d, s);
  }
}

void RedisDocs::OnImage(const std::string& doc, Result<redis::DocImage> image) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;
  Doc& d = it->second;
  d.reading = false;
  if (stopping_) return;
  if (!image.ok()) {
    if (image.status().code() == StatusCode::kUnavailable) {
      Away(d);
    } else {
      Refuse(doc, d, image.status());
    }
    return;
  }
  if (d.held.empty() && !host_->InUse(doc)) {
    // Its subscribers left while Redis answered, and this node never held
    // it: neither load nor follow it (the next use reads it again).
    Forget(doc);
    return;
  }
  auto control = std::make_shared<ControlData>();
  control->doc = doc;
  control->snapshot = std::move(image->snapshot);
  control->updates.reserve(image->tail.size());
  for (redis::DocImage::Stored& entry : image->tail) {
    control->updates.push_back(std::move(entry.update));
  }
  control->relay = host_->Relays(doc);
  d.since_compaction += image->tail.size();
  IngressEntry e;
  e.kind = IngressEntry::Kind::kLoadImage;
  e.worker = WorkerFor(doc, options_.workers);
  e.control = std::move(control);
  host_->PublishControl(std::move(e));
  d.position = std::max(d.position, image->last);
  ReleaseHeld(d);
  writer_->Follow(doc, image->last);
  MaybeCompact(doc, d);
}

// Redis is away: subscribers are served what this node holds now, and get
// the rest relayed once a read at a later heartbeat brings it.
void RedisDocs::Away(Doc& d) {
  d.read_failed = true;
  ++reads_failed_;
  // Still connecting for the first time (a node just started): worth a
  // short wait, the read goes out as soon as the connection is up.
  if (Starting()) return;
  PublishHeld(d);
}

// What Redis holds for `doc` is refused (reported): the node serves what it
// has, and does not follow the document.
void RedisDocs::Refuse(const std::string& doc, Doc& d, const Status& why) {
  // Rate-limited: a client can ask for any number of names Redis refuses.
  std::string line = refused_log_.Admit("redis: cannot read '" + doc +
                                        "', serving what this node holds: " + why.ToString());
  if (!line.empty()) Log(line);
  d.refused = true;
  ReleaseHeld(d);
}

// The worker would ignore them, but they would keep the document followed.
void RedisDocs::DropHeld(const std::string& doc, uint64_t conn) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;
  std::erase_if(it->second.held, [conn](const IngressEntry& e) { return e.conn == conn; });
}

void RedisDocs::ReleaseHeld(Doc& d) {
  d.loaded = true;
  PublishHeld(d);
}

// The subscriptions waiting for the document's image go to the worker,
// which answers them with what it holds.
void RedisDocs::PublishHeld(Doc& d) {
  for (IngressEntry& e : d.held) host_->PublishControl(std::move(e));
  d.held.clear();
}

// Not while Redis has not confirmed every append: the follower skips this
// node's own entries, so one appended after a new read would be missed.
// Subscriptions published from now on find it unknown and wait for a new
// read, whose image reaches the worker after the kEvict.
void RedisDocs::MaybeEvict(const std::string& doc) {
  if (writer_->closed() || !writer_->idle() || !Forget(doc)) return;
  auto control = std::make_shared<ControlData>();
  control->doc = doc;
  IngressEntry e;
  e.kind = IngressEntry::Kind::kEvict;
  e.worker = WorkerFor(doc, options_.workers);
  e.control = std::move(control);
  host_->PublishControl(std::move(e));
}

bool RedisDocs::Forget(const std::string& doc) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return true;
  const Doc& d = it->second;
  if (d.reading || d.compacting || !d.held.empty()) return false;
  if (d.read_failed && reads_failed_ > 0) --reads_failed_;
  docs_.erase(it);
  if (!writer_->closed()) writer_->store().Unfollow(doc);
  return true;
}

void RedisDocs::OnGap(std::string_view doc) {
  auto it = docs_.find(doc);
  if (it == docs_.end() || it->second.reading) return;
  Read(it->first, it->second);
}

bool RedisDocs::Starting() const {
  return writer_->store().health().writer == redis::LinkHealth::kConnecting;
}

void RedisDocs::RetryReads() {
  if (reads_failed_ == 0) return;
  if (writer_->healthy()) {
    reads_failed_ = 0;
    for (auto& [doc, d] : docs_) {
      if (d.read_failed) Read(doc, d);
    }
  } else if (!Starting()) {
    // The first connection failed: stop holding subscriptions for it.
    for (auto& [doc, d] : docs_) {
      if (d.read_failed) PublishHeld(d);
    }
  }
}

// Past compact_every batches, the holder of the document's lease asks the
// worker for a snapshot covering `position` (every entry up to it is on the
// ring before the request).
void RedisDocs::MaybeCompact(const std::string& doc, Doc& d) {
  if (options_.compact_every == 0 || d.compacting || !d.loaded || d.refused ||
      d.since_compaction < options_.compact_every || d.position.is_zero() || stopping_ ||
      writer_->closed()) {
    return;
  }
  d.since_compaction = 0;
  Status s = writer_->store().AcquireLease(doc, [this, doc](Result<bool> held) {
    auto it = docs_.find(doc);
    if (it == docs_.end()) return;
    Doc& d = it->second;
    if (!held.ok() || !*held || stopping_) {
      d.compacting = false;  // another node compacts it, or Redis is away
      return;
    }
    auto control = std::make_shared<ControlData>();
    control->doc = doc;
    control->covers = d.position;
    IngressEntry e;
    e.kind = IngressEntry::Kind::kSnapshotFor;
    e.worker = WorkerFor(doc, options_.workers);
    e.control = std::move(control);
    host_->PublishControl(std::move(e));
  });
  d.compacting = s.ok();
}

void RedisDocs::CompactWith(const EgressView& e) {
  const std::string& doc = e.control->doc;
  auto done = [this, doc] {
    if (auto it = docs_.find(doc); it != docs_.end()) it->second.compacting = false;
    if (!writer_->closed()) (void)writer_->store().ReleaseLease(doc, [](Result<bool>) {});
  };
  if (e.control->snapshot.empty() || writer_->closed()) return done();
  std::shared_ptr<const ControlData> keep = e.control;
  const std::string& snap = keep->snapshot;
  Status s = writer_->store().Compact(
      doc, keep->covers, std::as_bytes(std::span(snap.data(), snap.size())),
      [this, keep, done](Result<redis::CompactResult> r) {
        if (!r.ok() && r.status().code() != StatusCode::kUnavailable) {
          Log("redis: compacting '" + keep->doc + "' failed: " + r.status().ToString());
        }
        done();
      });
  if (!s.ok()) {
    Log("redis: cannot compact '" + doc + "': " + s.ToString());
    done();
  }
}

}  // namespace weft::node
