#ifndef MALT_WORKER_MAIN_HPP
#define MALT_WORKER_MAIN_HPP

// Entry points for worker programs.
//
// A program of your own that serves as a worker (worker_options::executable):
//   int main(int argc, char** argv) { return malt::worker_main(argc, argv); }
//
// A host that re-runs itself as its workers (the default executable):
//   int main(int argc, char** argv) {
//     if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
//     ... host code ...
//   }

#include <optional>
#include <string_view>

namespace malt {

/// Serves the host that started this process until it asks the worker to exit or goes
/// away, then stops this worker's own workers and returns the exit code. Arguments other
/// than the library's own are left to the caller. Returns 2 with a message on stderr when
/// the program was not started by spawn_worker.
int worker_main(int argc, char** argv);

/// worker_main's result if this process was started as a worker, else nullopt.
std::optional<int> maybe_run_worker(int argc, char** argv);

/// Whether arg is one of those spawn_worker gives every worker ("--malt-..."), which a
/// worker program that reads options of its own passes over.
bool is_worker_argument(std::string_view arg) noexcept;

}  // namespace malt

#endif
