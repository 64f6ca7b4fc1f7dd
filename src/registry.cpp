#include <malt/detail/registry.hpp>
#include <malt/error.hpp>

#include <cctype>
#include <cstdio>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace malt::detail {
namespace {

// Functions register during static initialisation and are only read afterwards, but a
// registration may come from a library loaded later, so the tables are guarded.
struct tables {
  std::mutex mutex;
  std::deque<function_entry> entries;  // a deque keeps their addresses
  std::unordered_map<std::string, const function_entry*> by_name;
  std::unordered_map<erased_function, const function_entry*> by_address;
};

tables& registry() {
  static tables t;  // constructed on first use, whatever the static initialisation order
  return t;
}

}  // namespace

void add_function(function_entry entry) {
  auto& t = registry();
  std::lock_guard lock(t.mutex);
  if (auto it = t.by_name.find(entry.name); it != t.by_name.end()) {
    if (it->second->function != entry.function)
      std::fprintf(stderr, "malt: two functions are registered as '%s'; calls reach the first\n", entry.name.c_str());
    return;
  }
  const function_entry* e = &t.entries.emplace_back(std::move(entry));
  t.by_name.emplace(e->name, e);
  t.by_address.emplace(e->function, e);
}

const function_entry* find_function(std::string_view name) noexcept {
  auto& t = registry();
  std::lock_guard lock(t.mutex);
  auto it = t.by_name.find(std::string(name));
  return it == t.by_name.end() ? nullptr : it->second;
}

const function_entry* find_function(erased_function f) noexcept {
  auto& t = registry();
  std::lock_guard lock(t.mutex);
  auto it = t.by_address.find(f);
  return it == t.by_address.end() ? nullptr : it->second;
}

std::string normalise_name(std::string_view spelled) {
  std::string name;
  for (char c : spelled)
    if (!std::isspace(static_cast<unsigned char>(c))) name += c;
  if (name.starts_with("::")) name.erase(0, 2);
  if (name.starts_with("&")) name.erase(0, 1);
  return name;
}

const std::string& registered_name(erased_function f) {
  if (const auto* e = find_function(f)) return e->name;
  throw error(errc::not_registered,
              "this function is not registered for remote calls: add MALT_REMOTE(name) in the program that "
              "defines it, or call it through malt::remote<Signature>{\"name\"}");
}

}  // namespace malt::detail
