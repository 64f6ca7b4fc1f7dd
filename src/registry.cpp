#include <malt/detail/registry.hpp>
#include <malt/error.hpp>

#include <cctype>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>
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
  std::deque<call_target> targets;
  std::map<std::tuple<std::string_view, std::string_view, std::string_view>, const call_target*> by_triple;
  std::unordered_map<erased_function, const call_target*> target_by_address;
};

tables& registry() {
  static tables t;  // constructed on first use, whatever the static initialisation order
  return t;
}

}  // namespace

void add_function(std::string_view spelled, erased_function f, run_on where, const function_calls& calls,
                  std::initializer_list<std::string_view> parameter_types, std::string_view result_type) {
  function_entry entry;
  static_cast<function_calls&>(entry) = calls;
  entry.name = normalise_name(spelled);
  entry.parameter_types = join_parameter_types(parameter_types);
  entry.result_type = result_type;
  entry.function = f;
  entry.where = calls.is_coroutine ? run_on::io_thread : where;
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

void check_argument_count(std::size_t given, std::size_t expected) {
  if (given != expected)
    throw std::invalid_argument("expects " + std::to_string(expected) + " arguments, got " + std::to_string(given));
}

#define MALT_DETAIL_INSTANTIATE_RESULT(T)                                                           \
  template boost::asio::awaitable<void> await_result<T>(boost::asio::awaitable<T>, bool, outgoing_frame&); \
  template boost::asio::awaitable<value> await_value<T>(boost::asio::awaitable<T>);
MALT_DETAIL_COMPILED_RESULTS(MALT_DETAIL_INSTANTIATE_RESULT)
#undef MALT_DETAIL_INSTANTIATE_RESULT

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

std::string join_parameter_types(std::initializer_list<std::string_view> types) {
  std::string s = "(";
  for (std::string_view t : types) {
    if (s.size() > 1) s += ", ";
    s += t;
  }
  return s + ")";
}

std::string normalise_name(std::string_view spelled) {
  std::string name;
  for (char c : spelled)
    if (!std::isspace(static_cast<unsigned char>(c))) name += c;
  if (name.starts_with("::")) name.erase(0, 2);
  if (name.starts_with("&")) name.erase(0, 1);
  return name;
}

namespace {
const call_target& intern_locked(tables& t, std::string_view name, std::string_view parameter_types,
                                 std::string_view result_type) {
  if (auto it = t.by_triple.find({name, parameter_types, result_type}); it != t.by_triple.end()) return *it->second;
  auto& target = t.targets.emplace_back(call_target{std::string(name), std::string(parameter_types),
                                                    std::string(result_type),
                                                    static_cast<std::uint32_t>(t.targets.size())});
  t.by_triple.emplace(std::tuple<std::string_view, std::string_view, std::string_view>(
                          target.name, target.parameter_types, target.result_type),
                      &target);
  return target;
}
}  // namespace

const call_target& intern_target(std::string_view name, std::string_view parameter_types,
                                 std::string_view result_type) {
  auto& t = registry();
  std::lock_guard lock(t.mutex);
  return intern_locked(t, name, parameter_types, result_type);
}

const call_target& intern_declared_target(std::string_view spelled,
                                          std::initializer_list<std::string_view> parameter_types,
                                          std::string_view result_type) {
  return intern_target(normalise_name(spelled), join_parameter_types(parameter_types), result_type);
}

const call_target& target_of(erased_function f) {
  auto& t = registry();
  std::lock_guard lock(t.mutex);
  if (auto it = t.target_by_address.find(f); it != t.target_by_address.end()) return *it->second;
  auto e = t.by_address.find(f);
  if (e == t.by_address.end())
    throw error(errc::not_registered,
                "this function is not registered for remote calls: add MALT_REMOTE(name) in the program that "
                "defines it, or call it through malt::remote<Signature>{\"name\"}");
  const function_entry& entry = *e->second;
  // A void function's caller wants no value: the same request a remote<void(...)> makes.
  const auto& target = intern_locked(t, entry.name, entry.parameter_types,
                                     entry.result_type == "void" ? std::string_view() : entry.result_type);
  t.target_by_address.emplace(f, &target);
  return target;
}

}  // namespace malt::detail
