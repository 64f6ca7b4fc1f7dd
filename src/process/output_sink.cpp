#include "process/output_sink.hpp"

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace malt::detail {
namespace {

class output_sink {
 public:
  void write(int fd, std::string_view text) {
    std::lock_guard lock(m_);
    auto& s = streams_[fd == 2 ? 1 : 0];
    if (s.broken) return;
    if (s.dropped != 0 && s.pending.size() + text.size() + 64 <= output_backlog_limit) {
      s.pending += "[... " + std::to_string(s.dropped) + " bytes of worker output dropped]\n";
      s.dropped = 0;
    }
    if (s.pending.size() + text.size() > output_backlog_limit) {
      s.dropped += text.size();
      return;
    }
    s.pending.append(text);
    if (!thread_started_) {
      thread_started_ = true;
      std::thread([this] { run(); }).detach();
    }
    wake_.notify_one();
  }

  void flush(std::chrono::milliseconds limit) {
    std::unique_lock lock(m_);
    idle_.wait_for(lock, limit, [&] { return !busy_ && streams_[0].pending.empty() && streams_[1].pending.empty(); });
  }

 private:
  struct stream {
    std::string pending;
    std::size_t dropped = 0;
    bool broken = false;  // its reader has gone
  };

  void run() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);  // EPIPE instead of a signal that ends the host
    std::unique_lock lock(m_);
    for (;;) {
      wake_.wait(lock, [&] { return !streams_[0].pending.empty() || !streams_[1].pending.empty(); });
      for (int i = 0; i < 2; ++i) {
        std::string text;
        text.swap(streams_[i].pending);
        if (text.empty()) continue;
        busy_ = true;
        lock.unlock();
        const bool ok = write_all(i + 1, text);
        lock.lock();
        busy_ = false;
        if (!ok) {
          streams_[i].broken = true;
          streams_[i].pending.clear();
        }
      }
      idle_.notify_all();
    }
  }

  static bool write_all(int fd, std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(fd, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {  // a stream the user made non-blocking: wait a little
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      if (n <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  std::mutex m_;
  std::condition_variable wake_, idle_;
  stream streams_[2];
  bool thread_started_ = false;
  bool busy_ = false;
};

// Never destroyed: the thread may outlive static destruction.
output_sink& sink() {
  static auto* s = new output_sink;
  return *s;
}

// A host that returns from main() writes what its workers printed last, briefly.
struct flush_at_exit {
  ~flush_at_exit() { flush_output(std::chrono::milliseconds(1000)); }
} flush_at_exit_instance;

}  // namespace

void write_output(int fd, std::string_view text) { sink().write(fd, text); }
void flush_output(std::chrono::milliseconds limit) { sink().flush(limit); }

}  // namespace malt::detail
