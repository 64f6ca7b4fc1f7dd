#include "serve/stack_trace.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <typeinfo>
#include <unistd.h>
#include <vector>

namespace malt::detail {
namespace {

std::atomic<bool> recording{false};
constexpr int max_frames = 48;
thread_local void* frames[max_frames];
thread_local int frame_count = 0;

// A program's full symbol table (.symtab), which names local functions and the .cold
// parts g++ splits off them; the dynamic table that dladdr reads has neither.
struct symbol_table {
  struct symbol {
    std::uintptr_t start, size;
    std::string_view name;  // in strings
  };
  bool absolute = false;  // ET_EXEC: addresses, not offsets from the load base
  std::vector<char> strings;
  std::vector<symbol> symbols;  // sorted by start

  // Reads only the headers and the two tables: a program's debug information can be many
  // times their size.
  explicit symbol_table(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    auto read_at = [fd](void* to, std::size_t n, std::uint64_t offset) {
      return ::pread(fd, to, n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n);
    };
    Elf64_Ehdr eh;
    std::vector<Elf64_Shdr> sections;
    if (read_at(&eh, sizeof eh, 0) && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
        eh.e_shentsize == sizeof(Elf64_Shdr)) {
      sections.resize(eh.e_shnum);
      if (!read_at(sections.data(), sections.size() * sizeof(Elf64_Shdr), eh.e_shoff)) sections.clear();
    }
    absolute = eh.e_type == ET_EXEC;
    for (const auto& sh : sections) {
      if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= sections.size()) continue;
      const auto& names = sections[sh.sh_link];
      std::vector<Elf64_Sym> table(sh.sh_size / sizeof(Elf64_Sym));
      strings.resize(names.sh_size);
      if (!read_at(table.data(), table.size() * sizeof(Elf64_Sym), sh.sh_offset) ||
          !read_at(strings.data(), strings.size(), names.sh_offset))
        break;
      for (const auto& sym : table) {
        if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0 || sym.st_name >= strings.size()) continue;
        const char* name = strings.data() + sym.st_name;
        symbols.push_back({sym.st_value, sym.st_size, {name, strnlen(name, strings.size() - sym.st_name)}});
      }
      break;
    }
    ::close(fd);
    std::sort(symbols.begin(), symbols.end(), [](const symbol& a, const symbol& b) { return a.start < b.start; });
  }

  const char* find(std::uintptr_t where) const {
    auto it = std::upper_bound(symbols.begin(), symbols.end(), where,
                               [](std::uintptr_t w, const symbol& s) { return w < s.start; });
    if (it == symbols.begin()) return nullptr;
    --it;
    return where < it->start + it->size ? it->name.data() : nullptr;  // names end with '\0'
  }
};

// Read once per program or library, when a failure first needs it.
const char* symbol_name(const Dl_info& info, void* address) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<symbol_table>> tables;
  if (!info.dli_fname) return nullptr;
  std::lock_guard lock(mutex);
  auto& table = tables[info.dli_fname];
  if (!table) table = std::make_unique<symbol_table>(info.dli_fname);
  const auto raw = reinterpret_cast<std::uintptr_t>(address);
  const char* name = table->find(table->absolute ? raw : raw - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
  return name ? name : info.dli_sname;
}

}  // namespace

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

void record_throw_stacks() { recording.store(true, std::memory_order_relaxed); }

std::string last_throw_stack() {
  // The frames above __cxa_throw are the recording; the frames from the library's own
  // dispatch down are the same for every call. What is between is the user's.
  std::vector<std::string> names;
  for (int i = 0; i < frame_count; ++i) {
    Dl_info info{};
    // A return address points after the call; step back into the calling instruction.
    void* where = static_cast<char*>(frames[i]) - (i > 0 ? 1 : 0);
    const char* symbol = dladdr(where, &info) ? symbol_name(info, where) : nullptr;
    std::string_view raw = symbol ? symbol : "";
    if (raw == "__cxa_throw") {
      names.clear();
      continue;
    }
    if (raw.find("N4malt6detail") != std::string_view::npos) break;
    const char* object = info.dli_fname ? info.dli_fname : "?";
    if (symbol) {
      names.push_back(demangle(symbol) + " in " + object);
    } else {  // a stripped program: give what addr2line needs
      char offset[32];
      std::snprintf(offset, sizeof offset, "+0x%zx",
                    static_cast<std::size_t>(static_cast<char*>(where) - static_cast<char*>(info.dli_fbase)));
      names.push_back(std::string("?? in ") + object + offset);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += " [" + std::to_string(i) + "] " + names[i] + "\n";
  return out;
}

}  // namespace malt::detail

// Defining the Itanium ABI's throw function puts this one in front of libstdc++'s for every
// throw of the program; it records the stack, then hands over to the real one.
namespace __cxxabiv1 {
extern "C" void __cxa_throw(void* object, std::type_info* type, void (_GLIBCXX_CDTOR_CALLABI* destructor)(void*)) {
  using real_throw = void (*)(void*, std::type_info*, void (_GLIBCXX_CDTOR_CALLABI*)(void*));
  static const auto real = reinterpret_cast<real_throw>(dlsym(RTLD_NEXT, "__cxa_throw"));
  if (malt::detail::recording.load(std::memory_order_relaxed))
    malt::detail::frame_count = backtrace(malt::detail::frames, malt::detail::max_frames);
  real(object, type, destructor);
  std::abort();  // not reached: the real __cxa_throw does not return
}
}  // namespace __cxxabiv1
