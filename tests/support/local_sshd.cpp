#include "local_sshd.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <netinet/in.h>
#include <pwd.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace malt_test {
namespace {

constexpr const char* sshd_program = "/usr/sbin/sshd";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "type base64" of a public key file, without its comment.
std::string key_of(const std::string& pub_file) {
  std::istringstream in(read_file(pub_file));
  std::string type, key;
  in >> type >> key;
  return type + " " + key;
}

void make_key(const std::string& path) {
  const std::string command = "ssh-keygen -q -t ed25519 -N '' -C malt-test -f '" + path + "' </dev/null >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("ssh-keygen could not make " + path);
}

bool accepts(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

}  // namespace

int unused_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("no free port: ") + std::strerror(errno));
  ::close(s);
  return ntohs(a.sin_port);
}

local_sshd::local_sshd() {
  if (::access(sshd_program, X_OK) != 0)
    throw std::runtime_error(std::string(sshd_program) + " is not installed (Debian's openssh-server)");
  char templ[] = "/tmp/malt-sshd-XXXXXX";
  if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  ::mkdir("/run/sshd", 0755);  // its privilege separation directory, where it runs as root
  for (const char* key : {"host_key", "client_key", "other_key"}) make_key(dir_ + "/" + key);
  port_ = unused_port();
  std::ofstream(dir_ + "/authorized_keys") << key_of(dir_ + "/client_key.pub") << "\n";
  const std::string host = "[127.0.0.1]:" + std::to_string(port_);
  std::ofstream(dir_ + "/known_hosts") << host << " " << key_of(dir_ + "/host_key.pub") << "\n";
  std::ofstream(dir_ + "/wrong_known_hosts") << host << " " << key_of(dir_ + "/other_key.pub") << "\n";
  std::ofstream(dir_ + "/sshd_config") << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << dir_
                                       << "/host_key\nAuthorizedKeysFile " << dir_
                                       << "/authorized_keys\nPidFile " << dir_
                                       << "/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                                          "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                                          "LogLevel ERROR\n";
  std::vector<std::string> argv{sshd_program, "-D", "-f", dir_ + "/sshd_config", "-E", dir_ + "/sshd.log"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // The listener adopts what its sessions leave orphaned (and reaps it, as it reaps any
  // child), as the remote machine's init would: without it those processes would come to
  // this test process, itself a subreaper, and count as left behind by the test.
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("cannot start sshd: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    ::execve(sshd_program, args.data(), environ);
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sshd exited: " + read_file(dir_ + "/sshd.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      throw std::runtime_error("sshd did not listen within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

local_sshd::~local_sshd() {
  if (pid_ > 0) {
    // The processes of a connection that has just closed end by themselves in a moment,
    // reaped by the listener: stopped first, it would leave them behind.
    const std::string children = "/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!read_file(children).empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
}

std::string local_sshd::destination() const {
  const passwd* pw = ::getpwuid(::getuid());
  return std::string(pw ? pw->pw_name : "root") + "@127.0.0.1";
}

std::vector<std::string> local_sshd::ssh_arguments_with(const std::string& known_hosts) const {
  return {"-F", "/dev/null", "-p", std::to_string(port_), "-i", dir_ + "/client_key", "-o", "IdentitiesOnly=yes",
          "-o", "UserKnownHostsFile=" + known_hosts, "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"};
}

}  // namespace malt_test
