#include "follower.h"

#include <hiredis/hiredis.h>

#include "entry_codec.h"
#include "scripts.h"

namespace weft::redis::detail {

Follower::Follower(uv_loop_t* loop, const StoreOptions& options, ConnectionOptions connection,
                   FollowerHooks hooks, StoreStats* stats)
    : loop_(loop),
      options_(options),
      hooks_(std::move(hooks)),
      stats_(stats),
      conn_(
          loop, std::move(connection), [this] { OnReady(); },
          [this](const Status&) {
            busy_ = false;
            blocking_ = false;
            if (hooks_.link_changed) hooks_.link_changed();
          }) {}

Status Follower::Follow(std::string_view doc, StreamId after) {
  WEFT_RETURN_IF_ERROR(ValidateDocName(doc));
  DocKeys keys = KeysFor(options_.prefix, doc);
  Followed& f = followed_[keys.ops];
  f.doc = std::string(doc);
  f.snap_key = std::move(keys.snap);
  f.pos = after;
  f.unchecked.reset();
  f.checking = false;
  f.epoch = ++next_epoch_;
  to_probe_.insert(keys.ops);
  if (blocking_ && !unblock_sent_ && !client_id_.empty() && hooks_.unblock) {
    unblock_sent_ = true;
    hooks_.unblock(client_id_);
  }
  Pump();
  return Status::Ok();
}

void Follower::Unfollow(std::string_view doc) {
  if (ValidateDocName(doc).ok()) Drop(KeysFor(options_.prefix, doc).ops);
}

bool Follower::following(std::string_view doc) const {
  return ValidateDocName(doc).ok() && followed_.count(KeysFor(options_.prefix, doc).ops) != 0;
}

void Follower::Drop(const std::string& ops_key) {
  followed_.erase(ops_key);
  to_probe_.erase(ops_key);
}

void Follower::Refuse(const std::string& ops_key, const Status& why) {
  auto it = followed_.find(ops_key);
  if (it == followed_.end()) return;
  std::string doc = std::move(it->second.doc);
  Drop(ops_key);
  if (options_.follow.refused) options_.follow.refused(doc, why);
}

void Follower::OnReady() {
  busy_ = false;
  blocking_ = false;
  if (hooks_.link_changed) hooks_.link_changed();
  // Whatever happened while the connection was down (appends, trims) is
  // checked document by document before the next XREAD.
  for (const auto& [key, f] : followed_) to_probe_.insert(key);
  busy_ = true;
  std::string_view argv[] = {"CLIENT", "ID"};
  Status s = conn_.Command(argv, [this](const redisReply* r, const Status& st) {
    busy_ = false;
    if (st.ok() && r->type == REDIS_REPLY_INTEGER) client_id_ = std::to_string(r->integer);
    Pump();
  });
  if (!s.ok()) busy_ = false;
}

void Follower::Pump() {
  if (busy_ || paused_ || !conn_.ready()) return;
  SendChecks();
  if (!to_probe_.empty()) return Probe(*to_probe_.begin());
  if (!followed_.empty()) Read();
}

void Follower::Probe(const std::string& ops_key) {
  const Followed& f = followed_.at(ops_key);
  std::string after = f.pos.ToString();
  std::string count = std::to_string(options_.page_entries);
  std::string max_field = std::to_string(options_.max_entry_bytes);
  std::string_view argv[] = {"EVAL", kPageScript, "2",       f.snap_key, ops_key,
                             after,  count,       max_field, "0"};
  busy_ = true;
  Status s = conn_.Command(argv, [this, ops_key](const redisReply* r, const Status& st) {
    busy_ = false;
    OnProbe(ops_key, r, st);
    Pump();
  });
  if (!s.ok()) busy_ = false;
}

void Follower::OnProbe(const std::string& ops_key, const redisReply* r, const Status& s) {
  auto it = followed_.find(ops_key);
  if (it == followed_.end()) return;  // unfollowed meanwhile
  if (!s.ok()) {
    if (s.code() != StatusCode::kFailedPrecondition) return;  // the link drops; probed again
    return Refuse(ops_key, s);
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      r->element[2]->type != REDIS_REPLY_ARRAY) {
    return Refuse(ops_key, Status::Corruption("unexpected reply to a page read"));
  }
  if (r->element[0]->type == REDIS_REPLY_STRING) {
    Result<StreamId> covers = StreamId::Parse(ReplyText(r->element[0]));
    if (!covers.ok()) return Refuse(ops_key, covers.status());
    if (*covers > it->second.pos) return Gap(ops_key, *covers);
  }
  size_t n = Deliver(ops_key, r->element[2]);
  // A full page may have more behind it; probe again before blocking.
  if (n < options_.page_entries) to_probe_.erase(ops_key);
}

void Follower::Gap(const std::string& ops_key, StreamId covers) {
  auto it = followed_.find(ops_key);
  if (it == followed_.end()) return;
  std::string doc = std::move(it->second.doc);
  Drop(ops_key);
  ++stats_->gaps;
  if (options_.follow.gap) options_.follow.gap(doc, covers);
}

// Sent just before the next probe or read, on the same connection, so each
// runs after the reads it checks.
void Follower::SendChecks() {
  uint64_t now = uv_now(loop_);
  if (now < next_check_ms_) return;
  for (auto& [key, f] : followed_) {
    if (!f.unchecked || f.checking) continue;
    std::string_view argv[] = {"EVAL", kTrimmedScript, "2", f.snap_key, key};
    // (An init-capture: clang cannot capture a structured binding.)
    Status s = conn_.Command(argv, [this, ops_key = key, epoch = f.epoch, sent_pos = f.pos](
                                       const redisReply* r, const Status& st) {
      OnCheck(ops_key, epoch, sent_pos, r, st);
    });
    if (!s.ok()) return;
    f.checking = true;
    next_check_ms_ = now + static_cast<uint64_t>(options_.gap_check.count());
  }
}

void Follower::OnCheck(const std::string& ops_key, uint64_t epoch, StreamId sent_pos,
                       const redisReply* r, const Status& s) {
  auto it = followed_.find(ops_key);
  if (it == followed_.end() || it->second.epoch != epoch) return;
  Followed& f = it->second;
  f.checking = false;
  if (!f.unchecked) return;  // (only a Follow clears it, and that changes the epoch)
  if (!s.ok()) {
    // A dropped link keeps the check for after the reconnect (the probes
    // then compare with the moved position, which cannot see the hole).
    if (s.code() != StatusCode::kFailedPrecondition) return;
    return Refuse(ops_key, s);
  }
  auto id_or_nil = [](const redisReply* e) -> std::optional<Result<StreamId>> {
    if (e->type == REDIS_REPLY_NIL) return std::nullopt;
    if (e->type != REDIS_REPLY_STRING) return Result<StreamId>(Status::Corruption("not an id"));
    return StreamId::Parse(ReplyText(e));
  };
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    return Refuse(ops_key, Status::Corruption("unexpected reply to a trim check"));
  }
  std::optional<Result<StreamId>> first = id_or_nil(r->element[0]);
  std::optional<Result<StreamId>> covers = id_or_nil(r->element[1]);
  if (first && !first->ok()) return Refuse(ops_key, first->status());
  if (covers && !covers->ok()) return Refuse(ops_key, covers->status());
  StreamId from = *f.unchecked;
  if (covers && **covers > from && (!first || **first > from)) return Gap(ops_key, **covers);
  // Reads that came back after this check was sent still need one.
  if (f.pos == sent_pos) {
    f.unchecked.reset();
  } else {
    f.unchecked = sent_pos;
  }
}

void Follower::Read() {
  // XREAD COUNT n BLOCK ms STREAMS key... id...
  std::vector<std::string> ids;
  ids.reserve(followed_.size());
  for (const auto& [key, f] : followed_) ids.push_back(f.pos.ToString());
  std::string count = std::to_string(options_.page_entries);
  std::string block = std::to_string(options_.block.count());
  std::vector<std::string_view> argv = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS"};
  argv.reserve(argv.size() + 2 * followed_.size());
  for (const auto& [key, f] : followed_) argv.push_back(key);
  for (const std::string& id : ids) argv.push_back(id);
  busy_ = true;
  blocking_ = true;
  unblock_sent_ = false;
  Status s = conn_.Command(
      argv,
      [this](const redisReply* r, const Status& st) {
        busy_ = false;
        blocking_ = false;
        OnRead(r, st);
        Pump();
      },
      options_.block);
  if (!s.ok()) busy_ = blocking_ = false;
}

void Follower::OnRead(const redisReply* r, const Status& s) {
  if (!s.ok()) {
    if (s.code() != StatusCode::kFailedPrecondition) return;  // the link drops; probes follow
    // Redis refused the whole XREAD (one stream key of the wrong type, a
    // damaged id): the probes find out which document and drop it. Twice
    // in a row means the probes did not: back off through a reconnect.
    if (++read_errors_in_a_row_ >= 2) {
      read_errors_in_a_row_ = 0;
      conn_.Fail(s.WithContext("XREAD"));
      return;
    }
    for (const auto& [key, f] : followed_) to_probe_.insert(key);
    return;
  }
  read_errors_in_a_row_ = 0;
  if (r->type == REDIS_REPLY_NIL) return;  // timed out or unblocked
  if (r->type != REDIS_REPLY_ARRAY) return conn_.Fail(Status::Corruption("unexpected XREAD reply"));
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* stream = r->element[i];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
        stream->element[0]->type != REDIS_REPLY_STRING ||
        stream->element[1]->type != REDIS_REPLY_ARRAY) {
      return conn_.Fail(Status::Corruption("unexpected XREAD reply"));
    }
    std::string key(ReplyText(stream->element[0]));
    auto it = followed_.find(key);
    if (it == followed_.end()) continue;
    StreamId from = it->second.pos;
    uint64_t epoch = it->second.epoch;
    Deliver(key, stream->element[1]);
    // The handler may have dropped or followed it again.
    it = followed_.find(key);
    if (it != followed_.end() && it->second.epoch == epoch && it->second.pos != from &&
        !it->second.unchecked) {
      it->second.unchecked = from;
    }
  }
}

size_t Follower::Deliver(const std::string& ops_key, const redisReply* entries) {
  auto it = followed_.find(ops_key);
  Followed& f = it->second;
  batch_.clear();
  for (size_t i = 0; i < entries->elements; ++i) {
    Result<ParsedEntry> p = ParseEntry(entries->element[i], options_.max_entry_bytes);
    if (!p.ok()) {
      // An id Redis itself would never send: nothing can be trusted after it.
      Refuse(ops_key, p.status());
      return entries->elements;
    }
    if (p->id <= f.pos) continue;  // already delivered (a probe and a read overlapped)
    f.pos = p->id;
    if (p->entry) {
      batch_.push_back(*p->entry);
    } else {
      ++stats_->bad_entries;
      if (hooks_.bad_entry) hooks_.bad_entry(BadEntry{f.doc, p->id, p->bad});
    }
  }
  if (!batch_.empty()) {
    stats_->entries_followed += batch_.size();
    // The handler may Unfollow (or Follow) and so invalidate `f`.
    std::string doc = f.doc;
    if (options_.follow.entries) options_.follow.entries(doc, batch_);
  }
  return entries->elements;
}

}  // namespace weft::redis::detail
