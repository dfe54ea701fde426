#include "weft/redis/doc_store.h"

#include <hiredis/hiredis.h>
#include <uv.h>

#include <cstdio>
#include <random>

#include "connection.h"
#include "doc_reader.h"
#include "entry_codec.h"
#include "follower.h"
#include "scripts.h"

namespace weft::redis {

using detail::Connection;
using detail::ConnectionOptions;
using detail::LinkState;
using detail::ReplyText;

namespace {

std::string_view Chars(std::span<const std::byte> b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

LinkHealth HealthOf(const Connection& c) {
  if (c.ready()) return LinkHealth::kConnected;
  return c.last_error().ok() ? LinkHealth::kConnecting : LinkHealth::kFailing;
}

Status ValidateOptions(const StoreOptions& o) {
  WEFT_RETURN_IF_ERROR(ValidatePrefix(o.prefix));
  if (o.page_entries == 0) return Status::InvalidArgument("page_entries must be at least 1");
  // A page of entries, or the first page with the snapshot, must fit one
  // reply, or a reader could never make progress.
  size_t page = static_cast<size_t>(o.page_entries) * (o.max_entry_bytes + 128);
  if (o.max_reply_bytes < o.max_snapshot_bytes + page + 4096) {
    return Status::InvalidArgument(
        "max_reply_bytes must hold max_snapshot_bytes plus page_entries entries of "
        "max_entry_bytes");
  }
  if (o.max_reply_elements < static_cast<size_t>(o.page_entries) * 16 + 64) {
    return Status::InvalidArgument("max_reply_elements must hold a page of entries");
  }
  if (o.lease_ttl.count() <= 0) return Status::InvalidArgument("lease_ttl must be positive");
  if (o.gap_check.count() < 0) return Status::InvalidArgument("gap_check must not be negative");
  return Status::Ok();
}

}  // namespace

class DocStore::Impl {
 public:
  Impl(uv_loop_t* loop, StoreOptions options)
      : loop_(loop),
        options_(std::move(options)),
        node_hex_(detail::NodeHex(options_.node_id)),
        token_(node_hex_ +
               detail::NodeHex(std::random_device{}() | (uint64_t{std::random_device{}()} << 32))),
        writer_(
            loop, ConnectionFor("writer", Millis{0}), [this] { LinkChanged(); },
            [this](const Status&) { LinkChanged(); }),
        follower_(loop, options_, ConnectionFor("follower", options_.block),
                  detail::FollowerHooks{
                      [this](const std::string& id) { Unblock(id); },
                      [this](const BadEntry& b) { ReportBad(b); },
                      [this] { LinkChanged(); },
                  },
                  &stats_),
        reader_(writer_, options_, &stats_, [this](const BadEntry& b) { ReportBad(b); }) {
    if (!options_.log) {
      options_.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    }
    uv_check_init(loop_, &wait_check_);
    wait_check_.data = this;
    if (options_.wait_replicas > 0) {
      uv_check_start(&wait_check_, [](uv_check_t* c) { static_cast<Impl*>(c->data)->SendWait(); });
      uv_unref(reinterpret_cast<uv_handle_t*>(&wait_check_));
    }
    writer_.Start();
    follower_.Start();
  }

  ConnectionOptions ConnectionFor(const char* name, Millis heartbeat_off_if_blocking) {
    ConnectionOptions c;
    c.address = options_.address;
    c.name = name;
    c.connect_timeout = options_.connect_timeout;
    c.command_timeout = options_.command_timeout;
    c.reconnect_min = options_.reconnect_min;
    c.reconnect_max = options_.reconnect_max;
    // The follower's XREAD BLOCK is its heartbeat: it has a deadline and
    // is always in flight.
    c.heartbeat = heartbeat_off_if_blocking.count() > 0 ? Millis{0} : options_.heartbeat;
    c.max_reply_bytes = options_.max_reply_bytes;
    c.max_reply_elements = options_.max_reply_elements;
    c.log = [this](const std::string& line) { Log(line); };
    return c;
  }

  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  // ---- Appends ------------------------------------------------------------------

  Status Append(std::string_view doc, std::span<const std::byte> update, AppendDone done) {
    WEFT_RETURN_IF_ERROR(ValidateDocName(doc));
    if (update.size() > options_.max_entry_bytes) {
      return Status::InvalidArgument("update of " + std::to_string(update.size()) +
                                     " bytes, over max_entry_bytes");
    }
    if (in_flight_ >= options_.max_in_flight) {
      return Status::ResourceExhausted("too many appends in flight");
    }
    ops_key_.assign(options_.prefix).append(":{").append(doc).append("}:ops");
    std::string crc = detail::CrcHex(update);
    std::string_view argv[] = {"XADD", ops_key_, "*", "u", Chars(update), "n", node_hex_, "c", crc};
    std::shared_ptr<WaitBatch> batch;
    size_t index = 0;
    if (options_.wait_replicas > 0) {
      if (!open_batch_) open_batch_ = std::make_shared<WaitBatch>();
      batch = open_batch_;
      index = batch->items.size();
      batch->items.push_back(WaitBatch::Item{std::move(done), StreamId{}, false});
    }
    Status s = writer_.Command(argv, [this, done = batch ? AppendDone() : std::move(done), batch,
                                      index](const redisReply* r, const Status& st) mutable {
      --in_flight_;
      Result<StreamId> id = AppendResult(r, st);
      if (!batch) return Finish(done, std::move(id));
      WaitBatch::Item& item = batch->items[index];
      if (!id.ok()) {
        item.finished = true;
        Finish(item.done, std::move(id));
      } else {
        item.id = *id;
      }
    });
    if (!s.ok()) {
      if (batch) batch->items.pop_back();
      return s;
    }
    ++in_flight_;
    return Status::Ok();
  }

  static Result<StreamId> AppendResult(const redisReply* r, const Status& st) {
    if (!st.ok()) return st;
    if (r->type != REDIS_REPLY_STRING) return Status::Internal("XADD answered with no id");
    return StreamId::Parse(ReplyText(r));
  }

  void Finish(AppendDone& done, Result<StreamId> id) {
    if (id.ok()) {
      ++stats_.appends_confirmed;
    } else {
      ++stats_.appends_failed;
    }
    if (done) done(std::move(id));
  }

  // With wait_replicas: the appends of one loop iteration share one WAIT,
  // sent after them on the same connection, so its answer comes after
  // theirs.
  struct WaitBatch {
    struct Item {
      AppendDone done;
      StreamId id;
      bool finished = false;
    };
    std::vector<Item> items;
  };

  void SendWait() {
    if (!open_batch_ || open_batch_->items.empty()) return;
    std::shared_ptr<WaitBatch> batch = std::move(open_batch_);
    std::string n = std::to_string(options_.wait_replicas);
    std::string t = std::to_string(options_.wait_timeout.count());
    std::string_view argv[] = {"WAIT", n, t};
    auto finish_all = [this, batch](const Status& why) {
      for (WaitBatch::Item& item : batch->items) {
        if (item.finished) continue;
        item.finished = true;
        if (why.ok()) {
          Finish(item.done, item.id);
        } else {
          Finish(item.done, why);
        }
      }
    };
    Status s = writer_.Command(
        argv,
        [this, finish_all](const redisReply* r, const Status& st) {
          if (!st.ok()) return finish_all(st);
          if (r->type != REDIS_REPLY_INTEGER || r->integer < options_.wait_replicas) {
            return finish_all(Status::Unavailable(
                "only " + std::to_string(r->type == REDIS_REPLY_INTEGER ? r->integer : 0) + " of " +
                std::to_string(options_.wait_replicas) + " replicas confirmed within " +
                std::to_string(options_.wait_timeout.count()) + " ms"));
          }
          finish_all(Status::Ok());
        },
        options_.wait_timeout);
    // The connection dropped after the appends went out: their callbacks
    // failed or will; any that succeeded are not confirmed by replicas.
    if (!s.ok()) finish_all(s);
  }

  // ---- Reads ----------------------------------------------------------------------

  Status Read(std::string_view doc, ReadDone done) { return reader_.Read(doc, std::move(done)); }

  // ---- Leases and compaction -------------------------------------------------------

  Status AcquireLease(std::string_view doc, LeaseDone done) {
    WEFT_RETURN_IF_ERROR(ValidateDocName(doc));
    DocKeys keys = KeysFor(options_.prefix, doc);
    std::string ttl = std::to_string(options_.lease_ttl.count());
    // Pipelined: SET NX PX takes a free lease; the renew script extends
    // one this store holds already. Held if either says so.
    std::string_view set[] = {"SET", keys.lease, token_, "NX", "PX", ttl};
    auto acquired = std::make_shared<bool>(false);
    WEFT_RETURN_IF_ERROR(writer_.Command(set, [acquired](const redisReply* r, const Status& st) {
      *acquired = st.ok() && r->type == REDIS_REPLY_STATUS;
    }));
    std::string_view renew[] = {"EVAL", detail::kRenewScript, "1", keys.lease, token_, ttl};
    Status s = writer_.Command(
        renew, [acquired, done = std::move(done)](const redisReply* r, const Status& st) {
          if (!st.ok()) return done(st);
          done(*acquired || (r->type == REDIS_REPLY_INTEGER && r->integer == 1));
        });
    // The SET went out; its answer alone is not enough to say, so a failed
    // renew send (the link just dropped) is reported as unavailable.
    return s;
  }

  Status ReleaseLease(std::string_view doc, LeaseDone done) {
    WEFT_RETURN_IF_ERROR(ValidateDocName(doc));
    DocKeys keys = KeysFor(options_.prefix, doc);
    std::string_view argv[] = {"EVAL", detail::kReleaseScript, "1", keys.lease, token_};
    return writer_.Command(argv, [done = std::move(done)](const redisReply* r, const Status& st) {
      if (!st.ok()) return done(st);
      done(r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    });
  }

  Status Compact(std::string_view doc, StreamId covers, std::span<const std::byte> snapshot,
                 CompactDone done) {
    WEFT_RETURN_IF_ERROR(ValidateDocName(doc));
    if (covers.is_zero()) return Status::InvalidArgument("a snapshot must cover some entry");
    if (snapshot.size() > options_.max_snapshot_bytes) {
      return Status::InvalidArgument("snapshot over max_snapshot_bytes");
    }
    DocKeys keys = KeysFor(options_.prefix, doc);
    std::string c = covers.ToString();
    std::string next = covers.Next().ToString();
    std::string crc = detail::CrcHex(snapshot);
    std::string age = std::to_string(options_.trim_min_age.count());
    std::string_view argv[] = {
        "EVAL", detail::kCompactScript, "3", keys.snap, keys.ops, keys.lease, token_, c,
        next,   Chars(snapshot),        crc, age};
    return writer_.Command(
        argv, [this, done = std::move(done)](const redisReply* r, const Status& st) {
          if (!st.ok()) return done(st);
          if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
              r->element[0]->type != REDIS_REPLY_INTEGER) {
            return done(Status::Internal("unexpected reply to the compaction script"));
          }
          if (r->element[0]->integer == 1) {
            CompactResult out{true, static_cast<uint64_t>(r->element[1]->integer)};
            ++stats_.compactions;
            stats_.trimmed += out.trimmed;
            return done(out);
          }
          std::string_view why = ReplyText(r->element[1]);
          if (why == "stale") return done(CompactResult{false, 0});
          if (why == "lease") return done(Status::FailedPrecondition("the lease is not held"));
          return done(Status::FailedPrecondition("the snapshot covers entries the stream lacks"));
        });
  }

  // ---- Health -------------------------------------------------------------------

  Health health() const {
    Health h;
    h.writer = HealthOf(writer_);
    h.follower = HealthOf(follower_conn());
    h.last_error = last_error_;
    return h;
  }

  const Connection& follower_conn() const { return follower_.connection(); }

  void LinkChanged() {
    const Connection& f = follower_conn();
    for (const Connection* c : {static_cast<const Connection*>(&writer_), &f}) {
      if (!c->last_error().ok()) last_error_ = c->last_error();
    }
    Health h = health();
    stats_.reconnects = (writer_.connects() > 0 ? writer_.connects() - 1 : 0) +
                        (f.connects() > 0 ? f.connects() - 1 : 0);
    if (writer_.ready()) reader_.WriterReady();
    if (h.writer == reported_.writer && h.follower == reported_.follower) return;
    reported_ = h;
    if (options_.health_changed) options_.health_changed(h);
  }

  void Unblock(const std::string& client_id) {
    std::string_view argv[] = {"CLIENT", "UNBLOCK", client_id};
    // If the writer is down too, the XREAD ends by its own timeout.
    (void)writer_.Command(argv, [](const redisReply*, const Status&) {});
  }

  void ReportBad(const BadEntry& b) {
    Log("redis: skipping entry " + b.id.ToString() + " of '" + b.doc + "': " + b.reason);
    if (options_.bad_entry) options_.bad_entry(b);
  }

  void Close(std::function<void()> done) {
    reader_.Abandon();
    closed_done_ = std::move(done);
    pending_closes_ = 3;
    auto one = [this] {
      if (--pending_closes_ == 0 && closed_done_) {
        auto fn = std::move(closed_done_);
        fn();
      }
    };
    writer_.Close(one);
    follower_.Close(one);
    one_closed_ = one;
    uv_close(reinterpret_cast<uv_handle_t*>(&wait_check_),
             [](uv_handle_t* h) { static_cast<Impl*>(h->data)->one_closed_(); });
  }

  uv_loop_t* loop_;
  StoreOptions options_;
  std::string node_hex_;
  std::string token_;
  StoreStats stats_;
  Status last_error_;
  Health reported_;
  size_t in_flight_ = 0;
  std::string ops_key_;  // reused by Append
  Connection writer_;
  detail::Follower follower_;
  detail::DocReader reader_;
  std::shared_ptr<WaitBatch> open_batch_;
  uv_check_t wait_check_{};
  std::function<void()> closed_done_;
  std::function<void()> one_closed_;
  int pending_closes_ = 0;
};

Result<std::unique_ptr<DocStore>> DocStore::Create(uv_loop_s* loop, StoreOptions options) {
  WEFT_RETURN_IF_ERROR(ValidateOptions(options));
  return std::unique_ptr<DocStore>(new DocStore(std::make_unique<Impl>(loop, std::move(options))));
}

DocStore::DocStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DocStore::~DocStore() = default;

Status DocStore::Append(std::string_view doc, std::span<const std::byte> update, AppendDone done) {
  return impl_->Append(doc, update, std::move(done));
}
Status DocStore::Read(std::string_view doc, ReadDone done) {
  return impl_->Read(doc, std::move(done));
}
Status DocStore::Follow(std::string_view doc, StreamId after) {
  return impl_->follower_.Follow(doc, after);
}
void DocStore::Unfollow(std::string_view doc) { impl_->follower_.Unfollow(doc); }
bool DocStore::following(std::string_view doc) const { return impl_->follower_.following(doc); }
void DocStore::PauseFollowing() { impl_->follower_.Pause(); }
void DocStore::ResumeFollowing() { impl_->follower_.Resume(); }
Status DocStore::AcquireLease(std::string_view doc, LeaseDone done) {
  return impl_->AcquireLease(doc, std::move(done));
}
Status DocStore::ReleaseLease(std::string_view doc, LeaseDone done) {
  return impl_->ReleaseLease(doc, std::move(done));
}
Status DocStore::Compact(std::string_view doc, StreamId covers, std::span<const std::byte> snapshot,
                         CompactDone done) {
  return impl_->Compact(doc, covers, snapshot, std::move(done));
}
Health DocStore::health() const { return impl_->health(); }
StoreStats DocStore::stats() const { return impl_->stats_; }
const StoreOptions& DocStore::options() const { return impl_->options_; }
const std::string& DocStore::token() const { return impl_->token_; }
void DocStore::Close(std::function<void()> done) { impl_->Close(std::move(done)); }

}  // namespace weft::redis
