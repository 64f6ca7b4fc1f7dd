#ifndef MALT_SRC_PROCESS_RESIDENT_MEMORY_HPP
#define MALT_SRC_PROCESS_RESIDENT_MEMORY_HPP

// How much memory a worker holds: the resident bytes of a process and of all its
// descendants (a contained worker is a supervisor whose worker proper is a grandchild),
// read from /proc. Processes that end while it reads count as nothing.

#include <cstddef>
#include <sys/types.h>

namespace malt::detail {

std::size_t resident_bytes_of_tree(pid_t root);

}  // namespace malt::detail

#endif
