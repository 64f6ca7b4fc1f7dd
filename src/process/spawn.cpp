#include "process/spawn.hpp"

#include <malt/error.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace malt::detail {

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}
unique_fd::~unique_fd() {
  if (fd_ >= 0) ::close(fd_);
}
int unique_fd::release() noexcept {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_signal(int pidfd, int signo) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
}

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw spawn_error(errc::spawn_failed, what + ": " + std::strerror(err));
}

void validate(const worker_options& o, const std::string& exe) {
  auto bad = [](const std::string& m) { throw error(errc::invalid_options, "invalid worker_options: " + m); };
  const bool launched = !o.launcher.empty();
  if (o.max_frame_size < 4096) bad("max_frame_size must be at least 4096 bytes");
  if (o.max_decode_depth == 0) bad("max_decode_depth must be at least 1");
  if (o.limits.cpu_time.count() < 0) bad("limits.cpu_time cannot be negative");
  if (o.startup_timeout.count() <= 0) bad("startup_timeout must be positive");
  for (const auto& path : o.isolation.writable_paths) {
    struct stat st {};
    if (path.empty() || path[0] != '/')
      bad("isolation.writable_paths: '" + path + "' is not an absolute path");
    if (!launched && ::stat(path.c_str(), &st) != 0) bad("isolation.writable_paths: '" + path + "' does not exist");
  }
  if (o.exit_timeout.count() < 0 || o.term_timeout.count() < 0) bad("stop timeouts cannot be negative");
  for (const auto& [k, v] : o.env)
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
      bad("environment variable name '" + k + "' is empty or contains '='");
  if (launched) {
    // The worker lives where the launcher puts it: what is checked here is the host's.
    if (o.launcher[0].empty()) bad("launcher: the command is empty");
    if (o.limits.processes != 0 || o.limits.resident_memory != 0)
      bad("limits.processes and limits.resident_memory need a cgroup of the host's; a launched worker has none");
    if (!o.monitor_stdout || !o.monitor_stderr)
      bad("a launched worker's output comes over its channel: monitor_stdout and monitor_stderr stay on "
          "(on_output takes the lines)");
    return;
  }
  struct stat st {};
  if (::stat(exe.c_str(), &st) != 0) fail("cannot start worker executable '" + exe + "'", errno);
  if (!S_ISREG(st.st_mode) || ::access(exe.c_str(), X_OK) != 0)
    throw spawn_error(errc::spawn_failed, "worker executable '" + exe + "' is not an executable file");
  if (!o.working_directory.empty()) {
    if (::stat(o.working_directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      bad("working_directory '" + o.working_directory + "' is not a directory");
  }
}

std::string self_executable() {
  std::vector<char> buf(4096);
  ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size());
  if (n <= 0) fail("cannot find this program's executable", errno);
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

std::vector<std::string> environment(const worker_options& o) {
  std::map<std::string, std::string> vars;
  if (o.inherit_env)
    for (char** e = environ; e && *e; ++e) {
      std::string_view kv(*e);
      auto eq = kv.find('=');
      if (eq != std::string_view::npos) vars.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
  for (const auto& [k, v] : o.env) vars[k] = v;
  std::vector<std::string> out;
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

struct spawn_attributes {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  spawn_attributes() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_attributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// The worker's own argument: how it finds its channel, and what it sets up on itself.
std::string worker_argument(const worker_options& options, bool launched) {
  const auto& isolation = options.isolation;
  return std::string(worker_flag) +
         (launched ? std::string("stdio=1")
                   : "fd=" + std::to_string(worker_socket_fd) + ",parent=" + std::to_string(::getpid())) +
         ",max-frame=" + std::to_string(options.max_frame_size) +
         (options.lua_libraries == lua_libraries::safe ? ",lua-safe=1" : "") +
         (options.lua_memory_limit != 0 ? ",lua-memory=" + std::to_string(options.lua_memory_limit) : "") +
         (options.containment == containment::pid_namespace ? ",contain=1" : "") +
         (isolation.no_network ? ",no-network=1" : "") + (isolation.read_only_filesystem ? ",read-only=1" : "") +
         (isolation.syscall_filter ? ",syscall-filter=1" : "") + limit_arguments(options.limits);
}

// The launcher's command line: the launcher, then env(1) setting the worker's environment
// and directory where it runs, then the worker's command line.
std::vector<std::string> launcher_command(const worker_options& o, const std::string& exe) {
  std::vector<std::string> words;
  if (!o.inherit_env || !o.env.empty() || !o.working_directory.empty()) {
    words.push_back("env");
    if (!o.inherit_env) words.push_back("-i");
    if (!o.working_directory.empty()) words.push_back("--chdir=" + o.working_directory);
    for (const auto& [k, v] : o.env) words.push_back(k + "=" + v);
  }
  words.push_back(exe);
  words.push_back(worker_argument(o, true));
  if (o.isolation.read_only_filesystem)
    for (const auto& path : o.isolation.writable_paths) words.push_back(writable_flag + path);
  words.insert(words.end(), o.args.begin(), o.args.end());
  std::vector<std::string> argv = o.launcher;
  for (auto& w : words) argv.push_back(o.launcher_uses_shell ? shell_quoted(w) : std::move(w));
  return argv;
}

// A launcher: its stdin and stdout the socket, its stderr a pipe (ssh's complaints), its
// own process group, the host's environment and directory.
child_process spawn_launcher(const worker_options& options, const std::string& exe) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair", errno);
  unique_fd host_end(sv[0]), child_end(sv[1]);
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) fail("pipe", errno);
  unique_fd err_r(err[0]), err_w(err[1]);
  std::vector<std::string> argv_strings = launcher_command(options, exe);
  auto argv = pointers(argv_strings);

  spawn_attributes sa;
  posix_spawn_file_actions_adddup2(&sa.actions, child_end.get(), 0);
  posix_spawn_file_actions_adddup2(&sa.actions, child_end.get(), 1);
  posix_spawn_file_actions_adddup2(&sa.actions, err_w.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&sa.attr, &none);
  posix_spawnattr_setsigdefault(&sa.attr, &all);
  posix_spawnattr_setpgroup(&sa.attr, 0);
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  child_process child;
  child.launched = true;
  if (int rc = ::posix_spawnp(&child.pid, argv_strings[0].c_str(), &sa.actions, &sa.attr, argv.data(), environ); rc != 0)
    fail("cannot start the launcher '" + argv_strings[0] + "'", rc);
  child.pidfd = unique_fd(pidfd_open(child.pid));
  if (!child.pidfd) {
    const int e = errno;
    ::kill(child.pid, SIGKILL);
    siginfo_t info{};
    kill_group_and_reap(child.pid, -1, info, 0);
    fail("pidfd_open", e);
  }
  child.socket = std::move(host_end);
  child.stderr_pipe = std::move(err_r);
  return child;
}

}  // namespace

std::string shell_quoted(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_-+=/.,:@%") == std::string::npos;
  if (plain) return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// The limits, for the worker to set on itself before it starts anything (and so before any
// process it starts): ",as=N,cpu=N,nofile=N,fsize=N,core=0|1".
std::string limit_arguments(const worker_limits& l) {
  std::string out = l.core_dumps ? ",core=1" : ",core=0";
  auto add = [&](const char* key, std::uint64_t v) {
    if (v != 0) out += std::string(",") + key + "=" + std::to_string(v);
  };
  add("as", l.address_space);
  add("cpu", static_cast<std::uint64_t>(l.cpu_time.count()));
  add("nofile", l.open_files);
  add("fsize", l.file_size);
  return out;
}

int kill_group_and_reap(pid_t pid, int pidfd, siginfo_t& info, int options) noexcept {
  // While it is a zombie, its process group id cannot name another group.
  const idtype_t by = pidfd < 0 ? P_PID : static_cast<idtype_t>(P_PIDFD);
  const id_t id = pidfd < 0 ? static_cast<id_t>(pid) : static_cast<id_t>(pidfd);
  if (::waitid(by, id, &info, WEXITED | WNOWAIT | options) == 0 && info.si_pid != 0) ::killpg(pid, SIGKILL);
  info = {};
  return ::waitid(by, id, &info, WEXITED | options);
}

std::string limit_reached(const worker_limits& limits, int signo, bool oom_killed) {
  if (signo == SIGKILL && oom_killed && limits.resident_memory != 0)
    return "resident memory limit " + std::to_string(limits.resident_memory) +
           " bytes (worker_options::limits.resident_memory)";
  if (signo == SIGXCPU && limits.cpu_time.count() != 0)
    return "CPU limit " + std::to_string(limits.cpu_time.count()) + " s (worker_options::limits.cpu_time)";
  if (signo == SIGXFSZ && limits.file_size != 0)
    return "file size limit " + std::to_string(limits.file_size) + " bytes (worker_options::limits.file_size)";
  return {};
}

std::string drain(int fd, std::size_t limit) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;  // nothing more to read right now
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

child_process spawn_child(const worker_options& options) {
  const std::string exe = options.executable.empty() ? self_executable() : options.executable;
  validate(options, exe);
  if (!options.launcher.empty()) return spawn_launcher(options, exe);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair", errno);
  unique_fd host_end(sv[0]), child_end(sv[1]);
  if (child_end.get() == worker_socket_fd) {  // dup2 onto itself would keep FD_CLOEXEC set
    child_end = unique_fd(::fcntl(child_end.get(), F_DUPFD_CLOEXEC, 10));
    if (!child_end) fail("fcntl", errno);
  }
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) fail("pipe", errno);
  unique_fd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) fail("pipe", errno);
  unique_fd err_r(err[0]), err_w(err[1]);
  unique_fd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_in) fail("open /dev/null", errno);

  // Everything the child needs is built before the spawn: only the exec runs in it.
  const auto& isolation = options.isolation;
  std::vector<std::string> argv_strings{exe, worker_argument(options, false)};
  if (isolation.read_only_filesystem)
    for (const auto& path : isolation.writable_paths) argv_strings.push_back(writable_flag + path);
  worker_cgroup cgroup;
  try {
    cgroup = worker_cgroup::create(options.limits);
  } catch (const std::exception& e) {
    throw spawn_error(errc::spawn_failed, e.what());
  }
  for (const auto& dir : cgroup.directories()) argv_strings.push_back(cgroup_flag + dir);
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env_strings = environment(options);
  auto argv = pointers(argv_strings);
  auto envp = pointers(env_strings);

  spawn_attributes sa;
  posix_spawn_file_actions_adddup2(&sa.actions, null_in.get(), 0);
  posix_spawn_file_actions_adddup2(&sa.actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&sa.actions, err_w.get(), 2);
  posix_spawn_file_actions_adddup2(&sa.actions, child_end.get(), worker_socket_fd);
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, worker_socket_fd + 1);
  if (!options.working_directory.empty())
    posix_spawn_file_actions_addchdir_np(&sa.actions, options.working_directory.c_str());
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&sa.attr, &none);
  posix_spawnattr_setsigdefault(&sa.attr, &all);
  posix_spawnattr_setpgroup(&sa.attr, 0);  // its own group: a terminal's Ctrl-C does not reach it
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  child_process child;
  if (int rc = ::posix_spawn(&child.pid, exe.c_str(), &sa.actions, &sa.attr, argv.data(), envp.data()); rc != 0)
    fail("cannot start worker executable '" + exe + "'", rc);
  auto end_child = [&] {
    ::kill(child.pid, SIGKILL);
    siginfo_t info{};
    kill_group_and_reap(child.pid, -1, info, 0);
  };
  child.pidfd = unique_fd(pidfd_open(child.pid));
  if (!child.pidfd) {
    const int e = errno;
    end_child();
    fail("pidfd_open", e);
  }
  child.socket = std::move(host_end);
  child.stdout_pipe = std::move(out_r);
  child.stderr_pipe = std::move(err_r);
  child.cgroup = std::move(cgroup);
  return child;  // the child's ends close here, so the host sees EOF when the worker ends
}

}  // namespace malt::detail

namespace malt {

worker_options ssh_worker_options(std::string destination, std::string remote_executable,
                                  std::vector<std::string> ssh_arguments) {
  worker_options o;
  o.executable = std::move(remote_executable);
  o.launcher = {"ssh", "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"};
  o.launcher.insert(o.launcher.end(), ssh_arguments.begin(), ssh_arguments.end());
  o.launcher.push_back("--");
  o.launcher.push_back(std::move(destination));
  o.launcher_uses_shell = true;
  return o;
}

}  // namespace malt
