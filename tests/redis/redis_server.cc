#include "redis/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

extern char** environ;

namespace weft::testing {

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

Result<std::unique_ptr<RedisServer>> RedisServer::Start(RedisServerOptions options,
                                                        std::chrono::seconds deadline) {
  std::unique_ptr<RedisServer> s(new RedisServer());
  s->options_ = std::move(options);
  char tmpl[] = "/tmp/weft-redis-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::IoError("mkdtemp failed");
  s->dir_ = tmpl;
  // The port is free when chosen, but another process may take it first:
  // try a few.
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = FreePort();
    last = s->Spawn(deadline);
    if (last.ok()) return s;
  }
  return last;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) Kill(SIGKILL);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status RedisServer::Spawn(std::chrono::seconds deadline) {
  const char* binary = std::getenv("WEFT_REDIS_SERVER");
  std::vector<std::string> args = {binary != nullptr ? binary : "redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--appendonly",
                                   "yes",
                                   "--appendfsync",
                                   options_.appendfsync,
                                   "--save",
                                   "",
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  for (const std::string& e : options_.extra) args.push_back(e);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ); rc != 0) {
    return Status::Unavailable("cannot start " + args[0] +
                               " (install the redis-server package): " + std::strerror(rc));
  }
  pid_ = pid;
  // Ready once it answers PING; gone if the process exits first (its port
  // was taken, say). Each probe is a real connection attempt.
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("redis-server exited at start; see " + dir_ + "/redis.log");
    }
    Reply pong = Command({"PING"});
    if (pong && pong->type == REDIS_REPLY_STATUS) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill(SIGKILL);
  return Status::Unavailable("redis-server did not answer in time");
}

void RedisServer::Kill(int sig) {
  if (pid_ <= 0) return;
  if (sig == SIGSTOP || sig == SIGCONT) {
    kill(pid_, sig);
    return;
  }
  kill(pid_, SIGCONT);  // a paused server must run to die of SIGTERM
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::Pause() { Kill(SIGSTOP); }
void RedisServer::Resume() { Kill(SIGCONT); }

Status RedisServer::Restart(std::chrono::seconds deadline) { return Spawn(deadline); }

RedisServer::Reply RedisServer::Command(const std::vector<std::string>& argv) const {
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c == nullptr) return nullptr;
  if (c->err != 0) {
    redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  redisFree(c);
  return Reply(r);
}

}  // namespace weft::testing
