#include "connection.h"

// hiredis's headers are C; they stay inside this file.
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <array>
#include <cassert>
#include <vector>

#include "reply_limits.h"

namespace weft::redis::detail {

struct Connection::Limits {
  ReplyLimits reply;
};

namespace {

// Error replies whose first word says "try again later" rather than "this
// command is wrong": Redis loading its data, a busy script, a replica
// without its master, a cluster resharding.
bool IsTransientError(std::string_view text) {
  for (std::string_view word :
       {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MOVED", "ASK"}) {
    if (text.substr(0, word.size()) == word &&
        (text.size() == word.size() || text[word.size()] == ' ')) {
      return true;
    }
  }
  return false;
}

// hiredis's hooks into the loop, in place of its stock libuv adapter,
// which re-armed the socket in epoll on every call (a read wanted after
// every write, a write wanted for every command) and sent each command
// only in the loop pass after the one that queued it, once epoll said the
// socket was writable. Here a command queued while connected is written
// just before the loop next waits (a prepare handle), together with every
// other command queued until then; the socket is watched for writability
// only while the kernel cannot take the rest, or while connecting (hiredis
// takes the first writable event as "connected"). The poll handle is
// changed only when what it should watch changes.
struct LoopEvents {
  redisAsyncContext* context = nullptr;  // null once hiredis let go
  uv_poll_t poll{};
  uv_prepare_t flush{};
  int events = 0;         // what the poll handle watches (UV_READABLE, UV_WRITABLE)
  bool flushing = false;  // inside redisAsyncHandleWrite from Flush
  int open_handles = 2;

  void Watch(int wanted) {
    if (wanted == events) return;
    events = wanted;
    if (events != 0) {
      uv_poll_start(&poll, events, OnPoll);
    } else {
      uv_poll_stop(&poll);
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int ready) {
    auto* p = static_cast<LoopEvents*>(handle->data);
    // A poll error stops the handle; Connection::OnCheck notices that.
    if (status != 0) return;
    if (p->context != nullptr && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context != nullptr && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
  }

  static void Flush(uv_prepare_t* handle) {
    auto* p = static_cast<LoopEvents*>(handle->data);
    uv_prepare_stop(handle);
    if (p->context == nullptr) return;
    p->flushing = true;
    redisAsyncHandleWrite(p->context);
    p->flushing = false;
  }

  static void AddRead(void* data) {
    auto* p = static_cast<LoopEvents*>(data);
    p->Watch(p->events | UV_READABLE);
  }
  static void DelRead(void* data) {
    auto* p = static_cast<LoopEvents*>(data);
    p->Watch(p->events & ~UV_READABLE);
  }
  static void AddWrite(void* data) {
    auto* p = static_cast<LoopEvents*>(data);
    // Called again from inside the flush: the kernel took only part.
    if (p->flushing || p->context == nullptr || !(p->context->c.flags & REDIS_CONNECTED)) {
      p->Watch(p->events | UV_WRITABLE);
      return;
    }
    if (!(p->events & UV_WRITABLE)) uv_prepare_start(&p->flush, Flush);
  }
  static void DelWrite(void* data) {
    auto* p = static_cast<LoopEvents*>(data);
    uv_prepare_stop(&p->flush);
    p->Watch(p->events & ~UV_WRITABLE);
  }
  static void Cleanup(void* data) {
    auto* p = static_cast<LoopEvents*>(data);
    p->context = nullptr;
    auto closed = [](uv_handle_t* h) {
      auto* events = static_cast<LoopEvents*>(h->data);
      if (--events->open_handles == 0) delete events;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&p->flush), closed);
  }
};

bool AttachToLoop(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data != nullptr) return false;
  auto* p = new LoopEvents;
  if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    delete p;
    return false;
  }
  uv_prepare_init(loop, &p->flush);
  // A pending flush must not keep a loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&p->flush));
  p->poll.data = p;
  p->flush.data = p;
  p->context = ac;
  ac->ev.data = p;
  ac->ev.addRead = LoopEvents::AddRead;
  ac->ev.delRead = LoopEvents::DelRead;
  ac->ev.addWrite = LoopEvents::AddWrite;
  ac->ev.delWrite = LoopEvents::DelWrite;
  ac->ev.cleanup = LoopEvents::Cleanup;
  return true;
}

}  // namespace

std::string_view ReplyText(const redisReply* r) {
  if (r == nullptr || r->str == nullptr) return {};
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string_view(r->str, r->len);
    default:
      return {};
  }
}

Connection::Connection(uv_loop_t* loop, ConnectionOptions options, std::function<void()> on_ready,
                       std::function<void(const Status&)> on_down)
    : loop_(loop),
      options_(std::move(options)),
      on_ready_(std::move(on_ready)),
      on_down_(std::move(on_down)),
      limits_(std::make_unique<Limits>()),
      backoff_(options_.reconnect_min) {
  limits_->reply.max_bytes = options_.max_reply_bytes;
  limits_->reply.max_elements = options_.max_reply_elements;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_check_init(loop_, &check_);
  check_.data = this;
  open_handles_ = 2;
  uv_check_start(&check_, [](uv_check_t* c) { static_cast<Connection*>(c->data)->OnCheck(); });
  // The check only watches the connection; it must not keep a loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
}

Connection::~Connection() {
  // REQUIRES: Close() finished. The handles are the loop's until then.
  assert(state_ == LinkState::kClosed && open_handles_ == 0);
}

void Connection::Log(const std::string& line) const {
  if (options_.log) options_.log("redis " + options_.name + ": " + line);
}

void Connection::Connect() {
  state_ = LinkState::kConnecting;
  limits_->reply.exceeded = false;
  redisAsyncContext* ac = redisAsyncConnect(options_.address.host.c_str(), options_.address.port);
  Status failed;
  if (ac == nullptr) {
    failed = Status::Unavailable("cannot allocate a Redis context");
  } else if (ac->err != 0) {
    failed =
        Status::Unavailable("cannot connect to " + options_.address.ToString() + ": " + ac->errstr);
  } else if (!AttachToLoop(ac, loop_)) {
    failed = Status::Unavailable("cannot watch the Redis socket");
  }
  if (!failed.ok()) {
    if (ac != nullptr) redisAsyncFree(ac);
    last_error_ = failed;
    ScheduleReconnect();
    if (on_down_) on_down_(failed);
    return;
  }
  ac->data = this;
  InstallReplyLimits(ac->c.reader, &limits_->reply);
  redisAsyncSetConnectCallback(ac, ConnectTrampoline);
  redisAsyncSetDisconnectCallback(ac, DisconnectTrampoline);
  ac_ = ac;
  connect_deadline_ms_ = uv_now(loop_) + static_cast<uint64_t>(options_.connect_timeout.count());
  ArmTimer(connect_deadline_ms_);
}

void Connection::ConnectTrampoline(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self->ac_ != ac) return;
  if (status != REDIS_OK) {
    // hiredis frees the context once this returns.
    self->ac_ = nullptr;
    self->last_error_ = Status::Unavailable("cannot connect to " +
                                            self->options_.address.ToString() + ": " + ac->errstr);
    if (self->state_ == LinkState::kClosed) return;
    self->ScheduleReconnect();
    if (self->on_down_) self->on_down_(self->last_error_);
    return;
  }
  self->Handshake();
}

void Connection::Handshake() {
  // Pipelined: AUTH and SELECT if asked for, then a PING, which a Redis
  // still loading its data refuses. Ready once the PING is answered.
  const RedisAddress& a = options_.address;
  auto check = [this](const redisReply*, const Status& s) {
    if (!s.ok() && state_ == LinkState::kConnecting) Fail(s.WithContext("handshake"));
  };
  if (!a.password.empty()) {
    if (a.user.empty()) {
      std::string_view argv[] = {"AUTH", a.password};
      (void)SendInternal(argv, check, Millis{0});
    } else {
      std::string_view argv[] = {"AUTH", a.user, a.password};
      (void)SendInternal(argv, check, Millis{0});
    }
  }
  std::string db = std::to_string(a.db);
  if (a.db != 0) {
    std::string_view argv[] = {"SELECT", db};
    (void)SendInternal(argv, check, Millis{0});
  }
  std::string_view ping[] = {"PING"};
  (void)SendInternal(
      ping,
      [this](const redisReply*, const Status& s) {
        if (state_ != LinkState::kConnecting) return;
        if (!s.ok()) return Fail(s.WithContext("handshake"));
        BecomeReady();
      },
      Millis{0});
}

void Connection::BecomeReady() {
  state_ = LinkState::kReady;
  backoff_ = options_.reconnect_min;
  ++connects_;
  last_heard_ms_ = uv_now(loop_);
  // The timer still holds the connect deadline: replace it with what a
  // ready connection waits for.
  if (!pending_.empty()) {
    ArmTimer(pending_.front().deadline_ms);
  } else if (options_.heartbeat.count() > 0) {
    ArmTimer(last_heard_ms_ + static_cast<uint64_t>(options_.heartbeat.count()));
  } else {
    uv_timer_stop(&timer_);
  }
  if (connects_ > 1 || !last_error_.ok()) Log("connected to " + options_.address.ToString());
  if (on_ready_) on_ready_();
}

Status Connection::Command(std::span<const std::string_view> argv, ReplyCallback done,
                           Millis block) {
  if (state_ != LinkState::kReady) {
    return Status::Unavailable("redis " + options_.name + " not connected" +
                               (last_error_.ok() ? "" : ": " + last_error_.ToString()));
  }
  return SendInternal(argv, std::move(done), block);
}

Status Connection::SendInternal(std::span<const std::string_view> argv, ReplyCallback done,
                                Millis block) {
  // Arguments by pointer and length: binary safe, copied into hiredis's
  // output buffer before this returns.
  constexpr size_t kInline = 16;
  std::array<const char*, kInline> ptr_inline;
  std::array<size_t, kInline> len_inline;
  std::vector<const char*> ptr_heap;
  std::vector<size_t> len_heap;
  const char** ptrs = ptr_inline.data();
  size_t* lens = len_inline.data();
  if (argv.size() > kInline) {
    ptr_heap.resize(argv.size());
    len_heap.resize(argv.size());
    ptrs = ptr_heap.data();
    lens = len_heap.data();
  }
  for (size_t i = 0; i < argv.size(); ++i) {
    ptrs[i] = argv[i].data();
    lens[i] = argv[i].size();
  }
  uint64_t deadline =
      uv_now(loop_) + static_cast<uint64_t>((options_.command_timeout + block).count());
  bool was_idle = pending_.empty();
  pending_.push_back(Pending{std::move(done), deadline});
  if (redisAsyncCommandArgv(ac_, ReplyTrampoline, nullptr, static_cast<int>(argv.size()), ptrs,
                            lens) != REDIS_OK) {
    // Only when the context is going away (or out of memory): the reply
    // callback will never come for this one.
    pending_.pop_back();
    return Status::Unavailable("redis " + options_.name + " is disconnecting");
  }
  // The timer watches the oldest command; an idle connection's timer may
  // be set for later (a heartbeat) or not at all.
  if (was_idle && (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)) ||
                   uv_now(loop_) + uv_timer_get_due_in(&timer_) > deadline)) {
    ArmTimer(deadline);
  }
  return Status::Ok();
}

void Connection::ReplyTrampoline(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<Connection*>(ac->data);
  // No reply: the context is being freed. From here on it takes no
  // commands, so callbacks that try get Unavailable at once.
  if (reply == nullptr && self->state_ != LinkState::kClosed) self->state_ = LinkState::kWaiting;
  if (reply == nullptr && self->fail_status_.ok()) {
    // hiredis is tearing the context down by itself (EOF, a read error, a
    // reply over the caps): say why.
    self->fail_status_ =
        self->limits_->reply.exceeded
            ? Status::ResourceExhausted(
                  "a Redis reply passed " + std::to_string(self->options_.max_reply_bytes) +
                  " bytes or " + std::to_string(self->options_.max_reply_elements) + " elements")
            : Status::Unavailable("connection to " + self->options_.address.ToString() +
                                  " lost: " + (ac->errstr[0] ? ac->errstr : "closed"));
  }
  self->OnReply(static_cast<redisReply*>(reply));
}

void Connection::OnReply(redisReply* reply) {
  // Replies come in the order the commands went out; a context being freed
  // runs every remaining callback, in order, with no reply.
  assert(!pending_.empty());
  if (pending_.empty()) return;
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  ++callback_depth_;
  if (reply == nullptr) {
    p.done(nullptr, fail_status_);
  } else {
    last_heard_ms_ = uv_now(loop_);
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string text(ReplyText(reply));
      p.done(nullptr,
             IsTransientError(text) ? Status::Unavailable(text) : Status::FailedPrecondition(text));
    } else {
      p.done(reply, Status::Ok());
    }
  }
  --callback_depth_;
}

void Connection::Fail(const Status& why) {
  if (ac_ == nullptr || !fail_status_.ok()) return;  // already going
  fail_status_ = why.ok() ? Status::Unavailable("dropped") : why;
  if (state_ != LinkState::kClosed) state_ = LinkState::kWaiting;
  redisAsyncContext* ac = ac_;
  // Inside a hiredis callback the free waits until it returns; either way
  // every command in flight then fails with fail_status_, and the
  // disconnect callback (for a connected context) calls Gone().
  redisAsyncFree(ac);
  if (callback_depth_ == 0 && ac_ == ac) Gone();
}

void Connection::DisconnectTrampoline(const redisAsyncContext* ac, int) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self->ac_ != ac) return;
  if (self->fail_status_.ok()) {
    self->fail_status_ = Status::Unavailable("connection to " + self->options_.address.ToString() +
                                             " lost: " + (ac->errstr[0] ? ac->errstr : "closed"));
  }
  self->Gone();
}

void Connection::Gone() {
  ac_ = nullptr;
  Status why = fail_status_.ok() ? Status::Unavailable("connection lost") : fail_status_;
  fail_status_ = Status::Ok();
  // Every callback ran while the context was freed; nothing should remain.
  while (!pending_.empty()) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    p.done(nullptr, why);
  }
  if (state_ == LinkState::kClosed) {
    uv_timer_stop(&timer_);
    return;
  }
  last_error_ = why;
  Log(why.ToString());
  ScheduleReconnect();
  if (on_down_) on_down_(why);
}

void Connection::ScheduleReconnect() {
  state_ = LinkState::kWaiting;
  // Exponential backoff with jitter (half to all of the current delay), so
  // nodes that lost the same Redis do not come back in lockstep.
  std::uniform_int_distribution<int64_t> jitter(backoff_.count() / 2, backoff_.count());
  Millis wait{jitter(rng_)};
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  ArmTimer(uv_now(loop_) + static_cast<uint64_t>(wait.count()));
}

void Connection::ArmTimer(uint64_t at_ms) {
  uint64_t now = uv_now(loop_);
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->OnTimer(); },
      at_ms > now ? at_ms - now : 0, 0);
}

void Connection::OnTimer() {
  uint64_t now = uv_now(loop_);
  switch (state_) {
    case LinkState::kWaiting:
      Connect();
      return;
    case LinkState::kConnecting:
      if (now >= connect_deadline_ms_) {
        Fail(Status::Unavailable("no answer from " + options_.address.ToString() + " within " +
                                 std::to_string(options_.connect_timeout.count()) + " ms"));
      } else {
        ArmTimer(connect_deadline_ms_);
      }
      return;
    case LinkState::kReady:
      if (!pending_.empty()) {
        if (now >= pending_.front().deadline_ms) {
          Fail(Status::Unavailable("no reply from " + options_.address.ToString() + " within " +
                                   std::to_string(options_.command_timeout.count()) + " ms"));
        } else {
          ArmTimer(pending_.front().deadline_ms);
        }
        return;
      }
      if (options_.heartbeat.count() > 0) {
        uint64_t due = last_heard_ms_ + static_cast<uint64_t>(options_.heartbeat.count());
        if (now >= due) {
          // An idle connection proves the server is still there.
          std::string_view ping[] = {"PING"};
          if (SendInternal(
                  ping, [](const redisReply*, const Status&) {}, Millis{0})
                  .ok()) {
            ArmTimer(pending_.front().deadline_ms);
          }
        } else {
          ArmTimer(due);
        }
      }
      return;
    case LinkState::kClosed:
      return;
  }
}

void Connection::OnCheck() {
  if (ac_ == nullptr || !fail_status_.ok()) return;
  // A poll error (a refused connect, a reset) stops the poll handle, and
  // hiredis hears nothing of it. A stopped poll that still wants events is
  // that case.
  auto* ev = static_cast<LoopEvents*>(ac_->ev.data);
  if (ev != nullptr && ev->events != 0 &&
      !uv_is_active(reinterpret_cast<uv_handle_t*>(&ev->poll))) {
    Fail(Status::Unavailable("socket error on the connection to " + options_.address.ToString()));
    return;
  }
  // hiredis reads at most 16 KiB per readable event, and this check runs
  // once per loop iteration: the unparsed part of a reply stays within the
  // cap plus 16 KiB, however large the value it announces.
  const redisReader* r = ac_->c.reader;
  if (r != nullptr && r->len - r->pos > options_.max_reply_bytes) {
    limits_->reply.exceeded = true;
    Fail(Status::ResourceExhausted("a Redis reply passed " +
                                   std::to_string(options_.max_reply_bytes) + " bytes"));
  }
}

void Connection::Close(std::function<void()> done) {
  on_closed_ = std::move(done);
  bool was_closed = state_ == LinkState::kClosed;
  state_ = LinkState::kClosed;
  if (was_closed) return;
  if (ac_ != nullptr) {
    fail_status_ = Status::Ok();
    Fail(Status::Unavailable("redis " + options_.name + " closed"));
  }
  uv_timer_stop(&timer_);
  auto closed = [](uv_handle_t* h) {
    auto* self = static_cast<Connection*>(h->data);
    if (--self->open_handles_ == 0 && self->on_closed_) {
      auto fn = std::move(self->on_closed_);
      fn();
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), closed);
}

}  // namespace weft::redis::detail
