#include "process/interrupt_signal.hpp"
#include "process/output_sink.hpp"
#include "process/sandbox.hpp"
#include "process/spawn.hpp"
#include "host/live_workers.hpp"
#include "serve/launched_streams.hpp"
#include "serve/worker_session.hpp"

#include <malt/worker_main.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <fcntl.h>
#include <string_view>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace malt {

namespace detail {
void register_builtins();
}

namespace {

struct worker_arguments {
  int fd = -1;
  pid_t parent = -1;
  bool launched = false;  // the channel is stdin/stdout (a launcher's)
  std::uint32_t max_frame = 0;
  detail::sandbox_request sandbox;
  detail::evaluator_settings lua;
  worker_limits limits;
};

const char* find_worker_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]).starts_with(detail::worker_flag)) return argv[i] + std::strlen(detail::worker_flag);
  return nullptr;
}

// "fd=3,parent=123,max-frame=268435456" or "stdio=1,max-frame=268435456", then "[,lua-safe=1][,lua-memory=N][,contain=1][,no-network=1]
// [,read-only=1][,syscall-filter=1][,core=0|1][,as=N][,cpu=S][,nofile=N][,fsize=N]"
bool parse(std::string_view spec, worker_arguments& out) {
  while (!spec.empty()) {
    auto comma = spec.find(',');
    auto item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) return false;
    auto key = item.substr(0, eq), value = item.substr(eq + 1);
    long long v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || v < 0) return false;
    if (key == "fd") out.fd = static_cast<int>(v);
    else if (key == "parent") out.parent = static_cast<pid_t>(v);
    else if (key == "stdio") out.launched = v != 0;
    else if (key == "max-frame") out.max_frame = static_cast<std::uint32_t>(v);
    else if (key == "lua-safe") out.lua.safe_libraries = v != 0;
    else if (key == "lua-memory") out.lua.memory_limit = static_cast<std::size_t>(v);
    else if (key == "as") out.limits.address_space = static_cast<std::uint64_t>(v);
    else if (key == "cpu") out.limits.cpu_time = std::chrono::seconds(v);
    else if (key == "nofile") out.limits.open_files = static_cast<std::uint64_t>(v);
    else if (key == "fsize") out.limits.file_size = static_cast<std::uint64_t>(v);
    else if (key == "core") out.limits.core_dumps = v != 0;
    else if (key == "contain") out.sandbox.contain = v != 0;
    else if (key == "no-network") out.sandbox.no_network = v != 0;
    else if (key == "read-only") out.sandbox.read_only = v != 0;
    else if (key == "syscall-filter") out.sandbox.syscall_filter = v != 0;
  }
  return (out.launched || (out.fd >= 0 && out.parent > 0)) && out.max_frame > 0;
}

// Sets the limits on this process, before it starts anything: what it starts inherits them.
bool apply_limits(const worker_limits& l, const char* program) {
  auto set = [program](__rlimit_resource_t resource, const char* name, rlim_t soft, rlim_t hard) {
    const rlimit value{soft, hard};
    if (::setrlimit(resource, &value) == 0) return true;
    std::fprintf(stderr, "%s: cannot set the worker's %s limit: %s\n", program, name, std::strerror(errno));
    return false;
  };
  bool ok = true;
  if (l.address_space != 0) ok &= set(RLIMIT_AS, "address space", l.address_space, l.address_space);
  if (l.cpu_time.count() != 0) {
    const auto s = static_cast<rlim_t>(l.cpu_time.count());
    ok &= set(RLIMIT_CPU, "CPU time", s, s + 1);  // SIGXCPU, then SIGKILL a second later
  }
  if (l.open_files != 0) ok &= set(RLIMIT_NOFILE, "open files", l.open_files, l.open_files);
  if (l.file_size != 0) ok &= set(RLIMIT_FSIZE, "file size", l.file_size, l.file_size);
  if (!l.core_dumps) ok &= set(RLIMIT_CORE, "core file", 0, 0);
  return ok;
}

}  // namespace

int worker_main(int argc, char** argv) {
  const char* program = argc > 0 ? argv[0] : "malt worker";
  const char* spec = find_worker_flag(argc, argv);
  worker_arguments args;
  if (!spec || !parse(spec, args)) {
    std::fprintf(stderr, "%s: this is a malt worker program; it is started by malt::spawn_worker\n", program);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(detail::writable_flag))
      args.sandbox.writable.emplace_back(arg.substr(std::strlen(detail::writable_flag)));
    // The cgroups of the limits rlimits cannot set: joined first, so that everything this
    // worker starts is counted.
    if (arg.starts_with(detail::cgroup_flag)) {
      const std::string dir(arg.substr(std::strlen(detail::cgroup_flag)));
      if (int err = detail::join_cgroup(dir); err != 0) {
        std::fprintf(stderr, "%s: cannot join the cgroup %s: %s\n", program, dir.c_str(), std::strerror(err));
        return 2;
      }
    }
  }
  // Never outlive the host: die with it, and check it did not die before this line (a
  // parent outside this process's PID namespace shows as 0). A launched worker's parent is
  // the launcher's (sshd's session, srun...): it watches its channel too (launched_streams).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (const pid_t parent = ::getppid(); !args.launched && parent != args.parent && parent != 0) ::_exit(1);
  if (!apply_limits(args.limits, program)) return 2;
  detail::install_interrupt_signal_handler();
  const pid_t started_as = ::getpid();  // the pid the host or launcher knows, before the sandbox forks
  try {
    detail::enter_sandbox(args.sandbox);  // before any thread starts
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (!args.launched) {
    struct stat st {};
    if (::fstat(args.fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      std::fprintf(stderr, "%s: fd %d is not the host's socket\n", program, args.fd);
      return 2;
    }
    ::fcntl(args.fd, F_SETFD, FD_CLOEXEC);  // programs this worker runs must not hold the host's socket
  }
  boost::asio::io_context io(1);
  std::unique_ptr<detail::launched_streams> launched;
  std::shared_ptr<detail::connection> channel;
  if (args.launched) {
    try {
      launched = std::make_unique<detail::launched_streams>(io.get_executor(), args.max_frame);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
    channel = launched->channel();
  } else {
    channel = std::make_shared<detail::connection>(
        detail::stream_socket(io, boost::asio::local::stream_protocol(), args.fd), args.max_frame);
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the host forwards stdout line by line, as it comes

  detail::enter_worker_mode();
  detail::register_builtins();

  // Going: stop this worker's own workers first, then end the process (calls may still run
  // on pool threads: no static destructors under them).
  auto exit_process = [&io, streams = launched.get()](detail::worker_session&, int code) {
    boost::asio::co_spawn(
        io, [code, streams]() -> boost::asio::awaitable<void> {
          co_await detail::stop_all_workers();
          std::cout.flush();
          std::fflush(nullptr);
          detail::flush_output(std::chrono::milliseconds(500));  // what its own workers printed last
          if (streams) co_await streams->flush(std::chrono::milliseconds(500));  // all it printed, to the host
          ::_exit(code);
        },
        boost::asio::detached);
  };
  auto session = std::make_shared<detail::worker_session>(io.get_executor(), channel, args.lua, exit_process, true);
  session->announce_pid(started_as);
  if (launched) session->on_greeted([streams = launched.get()] { streams->start_relay(); });
  session->start();
  session->run(io);
  std::fflush(nullptr);
  detail::flush_output(std::chrono::milliseconds(500));
  ::_exit(0);
}

bool is_worker_argument(std::string_view arg) noexcept {
  return arg.starts_with(detail::worker_flag) || arg.starts_with(detail::writable_flag) ||
         arg.starts_with(detail::cgroup_flag);
}

std::optional<int> maybe_run_worker(int argc, char** argv) {
  if (!find_worker_flag(argc, argv)) return std::nullopt;
  return worker_main(argc, argv);
}

}  // namespace malt
