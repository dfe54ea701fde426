#include "peer_dialer.h"

#include <algorithm>
#include <string>

namespace weft::node {

PeerDialer::PeerDialer(uv_loop_t* loop, PeerDialerOptions options)
    : loop_(loop), options_(std::move(options)) {}

Status PeerDialer::Add(const HostPort& peer) {
  Result<sockaddr_storage> a = Resolve(peer);
  if (!a.ok()) return a.status();
  auto link = std::make_unique<Link>();
  link->dialer = this;
  link->addr = peer;
  link->sockaddr = *a;
  link->delay = options_.reconnect_min;
  // The timer lives as long as the link; Close() closes it.
  uv_timer_init(loop_, &link->timer);
  link->timer.data = link.get();
  links_.push_back(std::move(link));
  return Status::Ok();
}

void PeerDialer::Start() {
  for (auto& link : links_) Dial(*link);
}

PeerDialer::Link* PeerDialer::LinkOf(uint64_t conn) {
  if (conn == 0) return nullptr;
  for (auto& l : links_) {
    if (l->conn == conn) return l.get();
  }
  return nullptr;
}

void PeerDialer::Ready(uint64_t conn) {
  if (Link* link = LinkOf(conn)) link->delay = options_.reconnect_min;
}

void PeerDialer::Closed(uint64_t conn) {
  if (Link* link = LinkOf(conn)) {
    link->conn = 0;
    Schedule(*link);
  }
}

void PeerDialer::Dial(Link& link) {
  if (stopping_) return;
  Connection& c = options_.connect();
  link.conn = c.id();
  link.connect.data = &link;
  int rc = uv_tcp_connect(
      &link.connect, c.tcp(), reinterpret_cast<sockaddr*>(&link.sockaddr),
      [](uv_connect_t* req, int status) {
        auto* link = static_cast<Link*>(req->data);
        Connection* c = link->dialer->options_.find(link->conn);
        if (c == nullptr) return;
        if (status < 0) {
          c->Close("connect to " + link->addr.ToString() + " failed: " + uv_strerror(status));
          return;
        }
        c->Start();
      });
  if (rc != 0) c.Close(std::string("connect failed: ") + uv_strerror(rc));
}

void PeerDialer::Schedule(Link& link) {
  if (stopping_) return;
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  auto wait = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(link.delay.count()) * jitter(rng_)));
  link.delay = std::min(link.delay * 2, options_.reconnect_max);
  uv_timer_start(
      &link.timer,
      [](uv_timer_t* t) {
        auto* link = static_cast<Link*>(t->data);
        link->dialer->Dial(*link);
      },
      static_cast<uint64_t>(wait.count()), 0);
}

void PeerDialer::Stop() {
  stopping_ = true;
  for (auto& link : links_) uv_timer_stop(&link->timer);
}

void PeerDialer::Close() {
  for (auto& link : links_) uv_close(reinterpret_cast<uv_handle_t*>(&link->timer), nullptr);
}

}  // namespace weft::node
