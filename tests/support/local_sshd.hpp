#ifndef MALT_TEST_LOCAL_SSHD_HPP
#define MALT_TEST_LOCAL_SSHD_HPP

// An sshd of the test's own on 127.0.0.1, on a free port, with a throwaway host key and
// one authorized client key in a temporary directory. The workers a test starts through
// it run as the test's user, on this machine. Stopped, and the directory removed, when it
// goes.

#include <string>
#include <sys/types.h>
#include <vector>

namespace malt_test {

class local_sshd {
 public:
  /// Starts it and waits until it accepts connections. Throws std::runtime_error saying
  /// why it cannot (no sshd installed, say), for the test to report as a skip.
  local_sshd();
  ~local_sshd();
  local_sshd(const local_sshd&) = delete;
  local_sshd& operator=(const local_sshd&) = delete;

  /// ssh's arguments for it: port, client key, its known host key, no user configuration.
  std::vector<std::string> ssh_arguments() const { return ssh_arguments_with(dir_ + "/known_hosts"); }
  /// The same, but knowing another key for the host: ssh must refuse to connect.
  std::vector<std::string> ssh_arguments_with_wrong_host_key() const {
    return ssh_arguments_with(dir_ + "/wrong_known_hosts");
  }
  std::string destination() const;
  int port() const noexcept { return port_; }
  const std::string& directory() const noexcept { return dir_; }

 private:
  std::vector<std::string> ssh_arguments_with(const std::string& known_hosts) const;

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

/// A port on 127.0.0.1 nothing listens on (just now).
int unused_port();

}  // namespace malt_test

#endif
