#include "process/sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace malt::detail {
namespace {

[[noreturn]] void refuse(const std::string& what, int err) {
  throw std::runtime_error("isolation refused by the kernel: " + what + ": " + std::strerror(err));
}

bool write_file(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// A user namespace in which this process keeps its own user and group, and holds the
// capabilities to create the other namespaces: the unprivileged way in.
bool enter_user_namespace() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0) return false;
  write_file("/proc/self/setgroups", "deny");  // absent on old kernels; required before gid_map on new ones
  return write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n") &&
         write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
}

// unshare(flags), from a user namespace of its own when the process lacks the privilege.
int unshare_namespaces(int flags, bool& in_user_namespace) {
  if (::unshare(flags) == 0) return 0;
  if (errno != EPERM || in_user_namespace) return errno;
  if (!enter_user_namespace()) return errno;
  in_user_namespace = true;
  return ::unshare(flags) == 0 ? 0 : errno;
}

// The first process of the descendants' PID namespace. It reaps the orphans that land on
// it, and ends with the supervisor (its parent-death signal); when it ends, the kernel
// kills every process left in the namespace.
[[noreturn]] void be_reaper(int supervisor_pidfd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd gone{supervisor_pidfd, POLLIN, 0};
  if (::poll(&gone, 1, 0) != 0) ::_exit(0);  // it ended before the signal was set
  ::prctl(PR_SET_NAME, "malt-reaper");
  ::close_range(0, ~0u, 0);  // no socket, pipe or pidfd of the worker's stays open here
  std::signal(SIGCHLD, SIG_DFL);
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, nullptr);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  for (;;) {
    int signo = 0;
    ::sigwait(&child, &signo);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
}

pid_t supervised = -1;

void forward_signal(int signo, siginfo_t* info, void*) {
  if (info->si_code == SI_QUEUE)
    ::sigqueue(supervised, signo, info->si_value);  // the interrupt signal's call id goes along
  else
    ::kill(supervised, signo);
}

// The process the host started, and knows (its pid, its signals, its exit status), when the
// worker runs in a PID namespace: the worker proper must be a member of the namespace, not
// its first process, to start threads and to die of the signals it is sent. It passes on
// every signal it gets, and once the worker has ended and the reaper with it (so nothing
// of the worker's is left), it ends the way the worker did.
[[noreturn]] void supervise(pid_t worker, pid_t reaper) {
  ::prctl(PR_SET_NAME, "malt-supervisor");
  ::close_range(0, ~0u, 0);  // the worker's socket and output are the worker's alone
  supervised = worker;
  struct sigaction forward {};
  forward.sa_sigaction = forward_signal;
  forward.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&forward.sa_mask);
  for (int signo = 1; signo < NSIG; ++signo)
    if (signo != SIGKILL && signo != SIGSTOP && signo != SIGCHLD) ::sigaction(signo, &forward, nullptr);
  int status = 0;
  while (::waitpid(worker, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(reaper, SIGKILL);  // its end waits for every process of the namespace to end
  while (::waitpid(reaper, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  const int signo = WTERMSIG(status);
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);  // the worker dumped its own core, if it was allowed to
  std::signal(signo, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signo);
  ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
  ::raise(signo);
  ::_exit(128 + signo);
}

// Called in the namespace's new member: whether the process that forked it lives on.
void check_supervisor(int supervisor_pidfd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd gone{supervisor_pidfd, POLLIN, 0};
  if (::poll(&gone, 1, 0) != 0) ::_exit(1);
  ::close(supervisor_pidfd);
}

// This process becomes the supervisor; the function returns in the worker, a member of the
// new PID namespace whose first process is the reaper.
void split_into_supervisor_and_worker(bool own_proc) {
  const int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  if (self < 0) throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
  const pid_t reaper = ::fork();
  if (reaper == 0) be_reaper(self);
  if (reaper < 0) throw std::runtime_error(std::string("cannot start the reaper: ") + std::strerror(errno));
  const pid_t worker = ::fork();
  if (worker == 0) {
    check_supervisor(self);
    // An isolated worker gets a /proc of its own, so that it sees only its own processes
    // (not the host's /proc/<pid>/mem); the mount namespace and its teardown cost too much
    // at every spawn to be the default.
    if (own_proc) ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    return;
  }
  if (worker < 0) {
    ::kill(reaper, SIGKILL);
    throw std::runtime_error(std::string("cannot start the worker in its PID namespace: ") + std::strerror(errno));
  }
  supervise(worker, reaper);
}

int mount_setattr(const char* path, std::uint64_t set, std::uint64_t clear) {
  mount_attr attr{};
  attr.attr_set = set;
  attr.attr_clr = clear;
  return static_cast<int>(::syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr));
}

void make_filesystem_read_only(const std::vector<std::string>& writable) {
  for (const auto& path : writable)  // a mount of its own, to be left writable below
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      refuse("writable path '" + path + "'", errno);
  if (mount_setattr("/", MOUNT_ATTR_RDONLY, 0) != 0) refuse("a read-only filesystem", errno);
  for (const auto& path : writable)
    if (mount_setattr(path.c_str(), 0, MOUNT_ATTR_RDONLY) != 0) refuse("writable path '" + path + "'", errno);
}

// System calls a sandboxed computation does not need, refused with EPERM.
constexpr const char* refused_calls[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",            // other processes
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",   // the kernel
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick",
    "mount_setattr", "open_by_handle_at", "name_to_handle_at", "chroot",               // the filesystem
    "setns", "unshare",                                                                  // namespaces
    "keyctl", "add_key", "request_key",                                                  // keyrings
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",                      // clocks
    "swapon", "swapoff", "reboot", "acct", "quotactl", "sethostname", "setdomainname", "syslog",
    "iopl", "ioperm", "vhangup", "personality", "lookup_dcookie"};

void load_seccomp_filter(bool refuse_sockets, bool refuse_system_calls) {
  scmp_filter_ctx filter = ::seccomp_init(SCMP_ACT_ALLOW);  // other architectures' calls: killed
  if (!filter) refuse("a seccomp filter", ENOMEM);
  struct release {
    scmp_filter_ctx f;
    ~release() { ::seccomp_release(f); }
  } released{filter};
  auto add = [&](int call, unsigned count, const scmp_arg_cmp* args, int err) {
    if (int rc = ::seccomp_rule_add_array(filter, SCMP_ACT_ERRNO(err), call, count, args); rc != 0)
      refuse(std::string("seccomp rule for ") + ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, call), -rc);
  };
  if (refuse_sockets) add(SCMP_SYS(socket), 0, nullptr, EPERM);
  if (refuse_system_calls) {
    for (const char* name : refused_calls) {
      const int call = ::seccomp_syscall_resolve_name(name);
      if (call != __NR_SCMP_ERROR) add(call, 0, nullptr, EPERM);
    }
    // clone3 passes its flags in memory, out of a filter's sight: glibc falls back to
    // clone, whose flags a filter can see, on ENOSYS.
    add(SCMP_SYS(clone3), 0, nullptr, ENOSYS);
    for (const long flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC,
                            CLONE_NEWCGROUP}) {
      const scmp_arg_cmp has_flag = SCMP_A0(SCMP_CMP_MASKED_EQ, static_cast<scmp_datum_t>(flag),
                                            static_cast<scmp_datum_t>(flag));
      add(SCMP_SYS(clone), 1, &has_flag, EPERM);
    }
  }
  if (int rc = ::seccomp_load(filter); rc != 0) refuse("loading the seccomp filter", -rc);
}

}  // namespace

namespace {
pid_t pid_seen_by_host = 0;
}

pid_t worker_pid_seen_by_host() noexcept { return pid_seen_by_host != 0 ? pid_seen_by_host : ::getpid(); }

void enter_sandbox(const sandbox_request& r) {
  pid_seen_by_host = ::getpid();
  bool in_user_namespace = false;
  int isolation = 0;
  if (r.no_network) isolation |= CLONE_NEWNET;
  if (r.read_only) isolation |= CLONE_NEWNS;
  // A contained worker that is isolated too gets a /proc of its own: a mount namespace.
  const bool own_proc = r.no_network || r.read_only || r.syscall_filter;
  const bool contained =
      r.contain &&
      unshare_namespaces(isolation | CLONE_NEWPID | (own_proc ? CLONE_NEWNS : 0), in_user_namespace) == 0;
  if (!contained && isolation != 0)
    if (int err = unshare_namespaces(isolation, in_user_namespace); err != 0)
      refuse(r.no_network ? "a network namespace" : "a mount namespace", err);
  // Nothing mounted in this mount namespace shows in the host's.
  if ((r.read_only || (contained && own_proc)) && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    refuse("a private mount namespace", errno);
  if (contained) split_into_supervisor_and_worker(own_proc);
  if (r.read_only) make_filesystem_read_only(r.writable);
  if (r.no_network || r.syscall_filter) load_seccomp_filter(r.no_network, r.syscall_filter);
}

pid_t supervised_worker(pid_t supervisor) {
  const std::string dir = "/proc/" + std::to_string(supervisor);
  const int fd = ::open((dir + "/task/" + std::to_string(supervisor) + "/children").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // Two children: the reaper, pid 1 in the namespace, and the worker.
  for (char* p = buf; *p;) {
    char* end = nullptr;
    const long child = std::strtol(p, &end, 10);
    if (end == p) break;
    p = end;
    const int status = ::open(("/proc/" + std::to_string(child) + "/status").c_str(), O_RDONLY | O_CLOEXEC);
    if (status < 0) continue;
    char text[4096];
    const ssize_t m = ::read(status, text, sizeof text - 1);
    ::close(status);
    if (m <= 0) continue;
    text[m] = '\0';
    const char* line = std::strstr(text, "\nNSpid:");
    const char* eol = line ? std::strchr(line + 1, '\n') : nullptr;
    if (!line || !eol) continue;
    const char* last = eol;
    while (last > line && (last[-1] >= '0' && last[-1] <= '9')) --last;  // its pid in the namespace
    if (std::strtol(last, nullptr, 10) != 1) return static_cast<pid_t>(child);
  }
  return -1;
}

containment containment_of(pid_t pid) {
  auto target = [](const std::string& link) {
    char buf[64];
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  const std::string worker = target("/proc/" + std::to_string(pid) + "/ns/pid_for_children");
  const std::string host = target("/proc/self/ns/pid_for_children");
  return !worker.empty() && !host.empty() && worker != host ? containment::pid_namespace : containment::process_group;
}

}  // namespace malt::detail
