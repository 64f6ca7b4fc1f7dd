#include "serve/stack_trace.hpp"

#include <algorithm>
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
#include <sys/auxv.h>
#include <unistd.h>
#include <unwind.h>
#include <utility>
#include <vector>

namespace malt::detail {
namespace {

// The buffer of the innermost run_recording_throw running on this thread.
thread_local throw_stack* recording = nullptr;

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

// Where this program is loaded. A statically linked program has no link map for dladdr
// to read: it is the program itself, found from its program headers.
Dl_info static_program() {
  Dl_info info{};
  static const std::uintptr_t base = [] {
    Elf64_Ehdr eh{};
    const int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (::pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) eh = {};
      ::close(fd);
    }
    return eh.e_type == ET_DYN ? getauxval(AT_PHDR) - eh.e_phoff : 0;  // static-pie; else absolute
  }();
  static const std::string path = [] {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("/proc/self/exe");
  }();
  info.dli_fname = path.c_str();
  info.dli_fbase = reinterpret_cast<void*>(base);
  return info;
}

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
}  // namespace malt::detail

extern "C" _Unwind_Reason_Code __gxx_personality_v0(int, _Unwind_Action, _Unwind_Exception_Class, _Unwind_Exception*,
                                                    _Unwind_Context*);

// The personality routine of run_recording_throw's frame: libstdc++'s, which reads the
// frame's catch clauses, after recording the stack when the unwinder is searching for a
// handler (then the thrower's frames are still below).
extern "C" [[gnu::visibility("hidden")]] _Unwind_Reason_Code malt_recording_personality(
    int version, _Unwind_Action actions, _Unwind_Exception_Class exception_class, _Unwind_Exception* exception,
    _Unwind_Context* context) {
  if ((actions & _UA_SEARCH_PHASE) && malt::detail::recording)
    malt::detail::recording->count = backtrace(malt::detail::recording->frames, malt::detail::throw_stack::capacity);
  return __gxx_personality_v0(version, actions, exception_class, exception, context);
}

#if defined(__x86_64__) || defined(__aarch64__)
#define MALT_RECORDING_PERSONALITY 1
// The frame description names its personality routine indirectly (encoding 0x9b:
// indirect, pc-relative, 4 bytes), through this pointer, as compilers do for their own.
asm(".section .data.rel.ro\n"
    ".p2align 3\n"
    "malt_recording_personality_ref:\n"
    ".quad malt_recording_personality\n"
    ".text\n");
#endif

namespace malt::detail {
namespace {

}  // namespace

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

std::exception_ptr run_recording_throw(void (*fn)(void*), void* arg, throw_stack& stack) noexcept {
#ifdef MALT_RECORDING_PERSONALITY
  // This frame's personality routine is the one above, in place of the compiler's.
  asm volatile(".cfi_personality 0x9b, malt_recording_personality_ref");
#endif
  stack.count = 0;
  throw_stack* const outer = std::exchange(recording, &stack);
  std::exception_ptr failure;
  try {
    fn(arg);
  } catch (...) {
    failure = std::current_exception();
  }
  recording = outer;
  return failure;
}

std::string format_throw_stack(const throw_stack& stack) {
  // The frames up to the throw are the recording and the unwinder; the frames from the
  // library's own dispatch down are the same for every call. What is between is the user's.
  std::vector<std::string> names;
  for (int i = 0; i < stack.count; ++i) {
    Dl_info info{};
    // A return address points after the call; step back into the calling instruction.
    void* where = static_cast<char*>(stack.frames[i]) - (i > 0 ? 1 : 0);
    if (!dladdr(where, &info) || !info.dli_fname) info = static_program();
    const char* symbol = symbol_name(info, where);
    std::string_view raw = symbol ? symbol : "";
    if (raw == "__cxa_throw" || raw == "__cxa_rethrow" || raw == "_Unwind_RaiseException" ||
        raw == "_Unwind_Resume_or_Rethrow") {
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
