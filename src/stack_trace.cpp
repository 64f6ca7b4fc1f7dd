#include "stack_trace.hpp"

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
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <typeinfo>
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
    std::string name;
  };
  bool absolute = false;  // ET_EXEC: addresses, not offsets from the load base
  std::vector<symbol> symbols;  // sorted by start

  explicit symbol_table(const char* path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (file.size() < sizeof(Elf64_Ehdr) || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0 ||
        file[EI_CLASS] != ELFCLASS64)
      return;
    auto at = [&](std::size_t offset, std::size_t size) { return offset + size <= file.size(); };
    Elf64_Ehdr eh;
    std::memcpy(&eh, file.data(), sizeof eh);
    absolute = eh.e_type == ET_EXEC;
    if (!at(eh.e_shoff, std::size_t(eh.e_shnum) * sizeof(Elf64_Shdr))) return;
    std::vector<Elf64_Shdr> sections(eh.e_shnum);
    std::memcpy(sections.data(), file.data() + eh.e_shoff, sections.size() * sizeof(Elf64_Shdr));
    for (const auto& sh : sections) {
      if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= sections.size()) continue;
      const auto& strings = sections[sh.sh_link];
      if (!at(sh.sh_offset, sh.sh_size) || !at(strings.sh_offset, strings.sh_size)) return;
      for (std::size_t i = 0; i + sizeof(Elf64_Sym) <= sh.sh_size; i += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, file.data() + sh.sh_offset + i, sizeof sym);
        if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0 || sym.st_name >= strings.sh_size) continue;
        const char* name = file.data() + strings.sh_offset + sym.st_name;
        symbols.push_back({sym.st_value, sym.st_size, std::string(name, strnlen(name, strings.sh_size - sym.st_name))});
      }
    }
    std::sort(symbols.begin(), symbols.end(), [](const symbol& a, const symbol& b) { return a.start < b.start; });
  }

  const char* find(std::uintptr_t where) const {
    auto it = std::upper_bound(symbols.begin(), symbols.end(), where,
                               [](std::uintptr_t w, const symbol& s) { return w < s.start; });
    if (it == symbols.begin()) return nullptr;
    --it;
    return where < it->start + it->size ? it->name.c_str() : nullptr;
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
