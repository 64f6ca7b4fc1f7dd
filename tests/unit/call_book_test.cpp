// The call book without processes or sockets: every cell of DESIGN §5's cancellation
// table, the races between replies, writes, cancellation and the worker's end, and the
// actions each event returns. A harness records every completion, so each test also
// checks that every call completes exactly once.
#include "protocol/call_book.hpp"
#include "protocol/messages.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <map>

using namespace malt::detail;
namespace asio = boost::asio;

namespace {

constexpr auto total = asio::cancellation_type::total;
constexpr auto partial = asio::cancellation_type::partial;
constexpr auto terminal = asio::cancellation_type::terminal;

const call_target& square = intern_target("square", "(int)", "int");
const call_target& cube = intern_target("cube", "(int)", "int");

// The book, and what a driver would have seen of it.
struct harness {
  call_book book;
  std::map<std::uint64_t, std::vector<call_action>> completions;  // by call id
  std::map<std::uint64_t, std::string> replies;                   // the bytes completions carried
  std::vector<std::vector<char>> on_the_wire;                     // frames, header first

  explicit harness(bool escalate = false) : book(escalate) {}

  // A call whose body is payload (the batch count and arguments, as far as the book cares).
  std::uint64_t start(std::string_view payload = "args", bool send_value = true, const call_target& t = square) {
    const auto id = book.prepare(t);
    book.body(id).assign(payload.begin(), payload.end());
    record(book.on_start(id, send_value));
    return id;
  }
  // Hands everything waiting to the transport; the write is not over yet.
  std::size_t write() {
    write_batch batch;
    book.take_writes(batch);
    std::size_t n = 0;
    for (std::size_t at = 0; at < batch.bytes().size(); ++n) {
      frame_header h;
      std::memcpy(&h, batch.bytes().data() + at, sizeof h);
      const auto end = at + frame_header_size + h.payload_size;
      on_the_wire.emplace_back(batch.bytes().begin() + at, batch.bytes().begin() + end);
      at = end;
    }
    return n;
  }
  // The payload of frame i, as a call request.
  call_message request(std::size_t i) const {
    const auto& f = on_the_wire.at(i);
    return decode_call_request(std::span<const char>(f).subspan(frame_header_size), header(i).flags);
  }
  call_actions written() { return record(book.on_written()); }
  std::uint64_t start_written() {
    const auto id = start();
    write();
    written();
    return id;
  }
  call_actions reply(std::uint64_t id, frame_type type = frame_type::result, std::string_view payload = "42") {
    return record(book.on_reply(id, type, std::span<const char>(payload.data(), payload.size())));
  }
  call_actions cancel(std::uint64_t id, asio::cancellation_type_t type) { return record(book.on_cancel(id, type)); }
  call_actions record(call_actions a) {
    for (auto& x : a)
      if (x.what == call_action::complete) {
        replies[x.id].assign(x.reply.begin(), x.reply.end());  // the reply's bytes live only this long
        completions[x.id].push_back(x);
      }
    return a;
  }
  const std::string& reply_text(std::uint64_t id) { return replies[id]; }
  const call_action& outcome(std::uint64_t id) {
    BOOST_TEST_REQUIRE(completions[id].size() == 1u);  // exactly once
    return completions[id].front();
  }
  bool completed(std::uint64_t id) const { return completions.contains(id); }
  frame_header header(std::size_t i) const {
    frame_header h;
    std::memcpy(&h, on_the_wire.at(i).data(), sizeof h);
    return h;
  }
};

std::vector<call_action::kind> kinds(const call_actions& a) {
  std::vector<call_action::kind> k;
  for (auto& x : a) k.push_back(x.what);
  return k;
}

bool has_kind(const call_actions& a, call_action::kind k) {
  return std::any_of(a.begin(), a.end(), [&](auto& x) { return x.what == k; });
}

std::vector<char> failure_report_of(malt::errc code) {
  std::vector<char> out;
  encode_failure_report(out, {code, "t", "m", ""}, 1024);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(call_book_lifecycle)

BOOST_AUTO_TEST_CASE(a_call_is_queued_written_then_answered) {
  harness h;
  const auto id = h.start(std::string_view("\0\0\0\0xy", 6));
  BOOST_TEST(int(h.book.state(id)) == int(call_state::queued));
  BOOST_TEST(h.write() == 1u);
  BOOST_TEST(int(h.book.state(id)) == int(call_state::written));
  BOOST_TEST(int(h.header(0).type) == int(frame_type::call));
  BOOST_TEST(h.header(0).call_id == id);
  BOOST_TEST(h.header(0).flags == (flag_send_value | flag_defines_function));  // the first call of square
  const auto request = h.request(0);
  BOOST_TEST(request.function_id == 1u);
  BOOST_TEST(request.function == "square");
  BOOST_TEST(request.parameter_types == "(int)");
  BOOST_TEST(request.result_type == "int");
  BOOST_TEST(request.batch_items == 0u);
  BOOST_TEST(std::string(request.arguments.begin(), request.arguments.end()) == "xy");
  BOOST_TEST(h.written().empty());
  auto a = h.reply(id);
  BOOST_TEST(kinds(a) == std::vector{call_action::complete});
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
  BOOST_TEST(h.reply_text(id) == "42");
  BOOST_TEST(int(h.book.state(id)) == int(call_state::done));
  BOOST_TEST(h.book.size() == 0u);
}

BOOST_AUTO_TEST_CASE(the_first_frame_asks_for_a_write_the_rest_wait_for_the_batch) {
  harness h;
  auto open = h.book.on_open();
  BOOST_TEST(kinds(open) == std::vector{call_action::write});
  const auto first = h.book.prepare(square);
  BOOST_TEST(h.book.on_start(first, false).empty());  // a write is already asked for
  BOOST_TEST(h.write() == 2u);    // hello and call, in one batch
  BOOST_TEST(int(h.header(0).type) == int(frame_type::hello));
  BOOST_TEST(h.header(1).flags == flag_defines_function);  // the value is not wanted
  const auto a = h.start(), b = h.start();
  BOOST_TEST(h.write() == 0u);  // one batch at a time
  BOOST_TEST(int(h.book.state(a)) == int(call_state::queued));
  BOOST_TEST(kinds(h.written()) == std::vector{call_action::write});
  BOOST_TEST(h.write() == 2u);
  BOOST_TEST(h.header(2).call_id == a);  // in the order they came
  BOOST_TEST(h.header(3).call_id == b);
  BOOST_TEST(h.written().empty());
}

BOOST_AUTO_TEST_CASE(ids_are_unique_and_replies_match_by_id) {
  harness h;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(h.start());
  h.book.on_start_no_reply(h.book.prepare(square));
  h.write();
  for (std::size_t i = 1; i < ids.size(); ++i) BOOST_TEST(ids[i] > ids[i - 1]);
  BOOST_TEST(h.header(50).call_id > ids.back());  // a frame answered by nothing has its own id
  BOOST_TEST(int(h.header(50).type) == int(frame_type::call_no_reply));
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) h.reply(*it, frame_type::result, std::to_string(*it));
  for (auto id : ids) BOOST_TEST(h.reply_text(id) == std::to_string(id));
}

BOOST_AUTO_TEST_CASE(later_calls_of_a_function_carry_its_id_only) {
  harness h;
  h.start();
  h.start();
  h.start("args", true, cube);
  h.start("args", false, square);
  BOOST_TEST(h.write() == 4u);
  BOOST_TEST(h.request(0).defines);
  BOOST_TEST(h.request(0).function_id == 1u);
  BOOST_TEST(!h.request(1).defines);
  BOOST_TEST(h.header(1).flags == flag_send_value);
  BOOST_TEST(h.request(1).function_id == 1u);
  BOOST_TEST(h.request(1).function.empty());
  BOOST_TEST(h.request(2).defines);
  BOOST_TEST(h.request(2).function == "cube");
  BOOST_TEST(h.request(2).function_id == 2u);
  BOOST_TEST(h.request(3).function_id == 1u);
  BOOST_TEST(h.header(3).flags == flag_none);
  // Another connection (another book) starts afresh.
  harness other;
  other.start("args", true, cube);
  other.write();
  BOOST_TEST(other.request(0).defines);
  BOOST_TEST(other.request(0).function_id == 1u);
}

BOOST_AUTO_TEST_CASE(a_call_taken_back_before_its_write_defines_nothing) {
  harness h;
  h.start_written();
  const auto withdrawn = h.start("args", true, cube);  // waits behind the batch being written
  h.cancel(withdrawn, terminal);
  h.written();
  const auto next = h.start("args", true, cube);
  BOOST_TEST(h.write() == 1u);
  BOOST_TEST(h.header(1).call_id == next);
  BOOST_TEST(h.request(1).defines);  // the first cube request written
  BOOST_TEST(h.request(1).function_id == 2u);
}

BOOST_AUTO_TEST_CASE(a_batch_of_calls_all_taken_back_writes_nothing_and_blocks_nothing) {
  harness h;
  h.start_written();
  const auto withdrawn = h.start();
  h.cancel(withdrawn, total);
  BOOST_TEST(kinds(h.written()) == std::vector{call_action::write});
  BOOST_TEST(h.write() == 0u);  // nothing is on its way: no write end will come
  const auto next = h.start();
  BOOST_TEST(kinds(h.book.on_start(h.book.prepare(square), true)).empty());  // a write is asked for already
  (void)next;
  BOOST_TEST(h.write() == 2u);
}

BOOST_AUTO_TEST_CASE(a_slot_is_reused_under_a_new_id) {
  harness h;
  const auto first = h.start_written();
  h.reply(first);
  const auto second = h.start_written();
  BOOST_TEST(call_book::slot_of(second) == call_book::slot_of(first));
  BOOST_TEST(second != first);
  BOOST_TEST(kinds(h.reply(first)) == std::vector{call_action::violation});  // a stale id answers nothing
  BOOST_TEST(!h.completed(second));
  h.reply(second);
  BOOST_TEST(int(h.outcome(second).end) == int(call_end::replied));
}

BOOST_AUTO_TEST_CASE(room_counts_everything_not_yet_written) {
  harness h;
  BOOST_TEST(h.book.has_room(1000, 100));  // nothing waits: any one request goes
  h.start(std::string(84, 'x'));           // 100 bytes with its header
  BOOST_TEST(h.book.queued_bytes() == 100u);
  BOOST_TEST(!h.book.has_room(1, 100));
  BOOST_TEST(h.book.has_room(50, 150));
  h.write();
  BOOST_TEST(h.book.queued_bytes() == 100u);  // being written still counts
  h.written();
  BOOST_TEST(h.book.queued_bytes() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// DESIGN §5: state of the call when the slot fires × type of cancellation.
BOOST_AUTO_TEST_SUITE(cancellation_table)

BOOST_AUTO_TEST_CASE(not_written_any_type_withdraws_it_with_no_side_effects) {
  for (auto type : {total, partial, terminal}) {
    harness h;
    const auto busy = h.start();
    h.write();  // a batch on its way: what comes next waits
    const auto queued = h.start();
    const auto after = h.start();
    auto a = h.cancel(queued, type);
    BOOST_TEST(kinds(a) == std::vector{call_action::complete});
    BOOST_TEST(int(h.outcome(queued).end) == int(call_end::withdrawn));
    BOOST_TEST(!h.outcome(queued).timed_out);
    BOOST_TEST(int(h.book.state(queued)) == int(call_state::done));
    BOOST_TEST(h.book.queued_bytes() == 2 * (frame_header_size + 4));  // busy's and after's
    BOOST_TEST(kinds(h.written()) == std::vector{call_action::write});
    BOOST_TEST(h.write() == 1u);  // never sent
    BOOST_TEST(h.header(1).call_id == after);
    for (auto other : {busy, after}) BOOST_TEST(!h.completed(other));
  }
}

BOOST_AUTO_TEST_CASE(running_total_is_not_honoured) {
  harness h;
  const auto id = h.start_written();
  BOOST_TEST(h.cancel(id, total).empty());
  BOOST_TEST(int(h.book.state(id)) == int(call_state::written));
  h.reply(id);
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
}

BOOST_AUTO_TEST_CASE(running_partial_interrupts_and_waits_for_the_answer) {
  harness h;
  const auto id = h.start_written();
  auto a = h.cancel(id, partial);
  BOOST_TEST(kinds(a) == (std::vector{call_action::write, call_action::interrupt, call_action::arm_grace}));
  h.write();
  BOOST_TEST(int(h.header(1).type) == int(frame_type::interrupt));
  BOOST_TEST(h.header(1).call_id == id);
  BOOST_TEST(!h.completed(id));
  BOOST_TEST(kinds(h.cancel(id, partial)).empty());  // one interrupt per call
  auto r = h.record(h.book.on_reply(id, frame_type::failure, failure_report_of(malt::errc::interrupted)));
  BOOST_TEST(kinds(r) == (std::vector{call_action::disarm_grace, call_action::complete}));
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
  BOOST_TEST(int(h.outcome(id).reply_type) == int(frame_type::failure));
}

BOOST_AUTO_TEST_CASE(running_partial_unanswered_is_abandoned_after_the_grace) {
  harness h;
  const auto id = h.start_written();
  h.cancel(id, partial);
  auto a = h.record(h.book.on_grace_expired(id));
  BOOST_TEST(kinds(a) == std::vector{call_action::complete});
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::abandoned));
  BOOST_TEST(int(h.book.state(id)) == int(call_state::abandoned));
  BOOST_TEST(h.reply(id).empty());  // the late reply is dropped
  BOOST_TEST(h.book.size() == 0u);
}

BOOST_AUTO_TEST_CASE(running_terminal_interrupts_and_completes_at_once) {
  harness h;
  const auto id = h.start_written();
  auto a = h.cancel(id, terminal);
  BOOST_TEST(kinds(a) == (std::vector{call_action::write, call_action::interrupt, call_action::complete}));
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::abandoned));
  BOOST_TEST(h.cancel(id, terminal).empty());
  BOOST_TEST(h.reply(id).empty());  // dropped, and not a violation: the worker owed it
  BOOST_TEST(h.book.size() == 0u);
}

BOOST_AUTO_TEST_CASE(running_every_type_at_once_is_partial) {
  // A parallel_group's wait_for_one cancels the losers with cancellation_type::all.
  harness h;
  const auto id = h.start_written();
  auto a = h.cancel(id, asio::cancellation_type::all);
  BOOST_TEST(kinds(a) == (std::vector{call_action::write, call_action::interrupt, call_action::arm_grace}));
  BOOST_TEST(!h.completed(id));
}

BOOST_AUTO_TEST_CASE(reply_in_any_type_done_wins) {
  for (auto type : {total, partial, terminal}) {
    harness h;
    const auto id = h.start_written();
    h.reply(id);
    BOOST_TEST(h.cancel(id, type).empty());
    BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(races)

BOOST_AUTO_TEST_CASE(a_reply_before_its_write_completes) {
  harness h;
  const auto id = h.start();
  h.write();
  h.reply(id);  // the worker answered before the writer's completion ran
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
  BOOST_TEST(h.written().empty());
  BOOST_TEST(h.book.queued_bytes() == 0u);
}

// The driver's shortcut for the common reply takes exactly the results on_reply would
// complete with nothing else to do, and leaves every other case to on_reply untouched.
BOOST_AUTO_TEST_CASE(a_plain_result_is_taken_only_when_nothing_else_is_pending) {
  harness h;
  const auto plain = h.start_written();
  BOOST_TEST(h.book.on_plain_result(plain, frame_type::result));
  BOOST_TEST(int(h.book.state(plain)) == int(call_state::done));
  BOOST_TEST(!h.book.on_plain_result(plain, frame_type::result));  // answered already
  BOOST_TEST(h.book.size() == 0u);

  const auto failed = h.start_written();
  BOOST_TEST(!h.book.on_plain_result(failed, frame_type::failure));
  const auto queued = h.start();
  BOOST_TEST(!h.book.on_plain_result(queued, frame_type::result));  // not sent: on_reply's violation
  h.write();
  h.written();
  const auto interrupted = h.start_written();
  h.cancel(interrupted, partial);  // its grace is armed: on_reply disarms it
  BOOST_TEST(!h.book.on_plain_result(interrupted, frame_type::result));
  const auto abandoned = h.start_written();
  h.cancel(abandoned, terminal);  // its caller has gone: on_reply drops the reply
  BOOST_TEST(!h.book.on_plain_result(abandoned, frame_type::result));
  BOOST_TEST(h.book.size() == 4u);  // none of these was touched
  BOOST_TEST(int(h.book.state(queued)) == int(call_state::written));
  BOOST_TEST(has_kind(h.reply(interrupted), call_action::disarm_grace));
  BOOST_TEST(!has_kind(h.reply(abandoned), call_action::complete));
  BOOST_TEST(int(h.outcome(abandoned).end) == int(call_end::abandoned));  // once, by the cancel
}

BOOST_AUTO_TEST_CASE(a_reply_to_a_call_never_sent_or_answered_is_a_violation) {
  harness h;
  const auto id = h.start();
  auto a = h.reply(id);  // still queued here: the worker cannot know it
  BOOST_TEST(kinds(a) == std::vector{call_action::violation});
  BOOST_TEST(a[0].reason.find("call id " + std::to_string(id)) != std::string::npos);
  h.write();
  h.reply(id);
  BOOST_TEST(kinds(h.reply(id)) == std::vector{call_action::violation});  // answered twice
  BOOST_TEST(kinds(h.reply(999)) == std::vector{call_action::violation});
  BOOST_TEST(h.completions[id].size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_failure_code_only_the_host_may_use_is_a_violation) {
  harness h;
  const auto id = h.start_written();
  auto a = h.record(h.book.on_reply(id, frame_type::failure, failure_report_of(malt::errc::timed_out)));
  BOOST_TEST(kinds(a) == std::vector{call_action::violation});
  BOOST_TEST(!h.completed(id));
}

BOOST_AUTO_TEST_CASE(cancel_after_done_and_of_unknown_ids_does_nothing) {
  harness h;
  const auto id = h.start_written();
  h.reply(id);
  for (auto type : {total, partial, terminal}) {
    BOOST_TEST(h.cancel(id, type).empty());
    BOOST_TEST(h.cancel(12345, type).empty());
  }
  BOOST_TEST(h.book.on_timeout(id).empty());
  BOOST_TEST(h.book.on_grace_expired(id).empty());
}

BOOST_AUTO_TEST_CASE(a_grace_expiring_after_the_reply_does_nothing) {
  harness h;
  const auto id = h.start_written();
  h.cancel(id, partial);
  h.reply(id);
  BOOST_TEST(h.book.on_grace_expired(id).empty());  // the timer's wake was already queued
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
}

BOOST_AUTO_TEST_CASE(the_worker_ending_with_calls_in_every_state) {
  harness h;
  const auto replied = h.start_written();
  h.reply(replied);
  const auto running = h.start_written();
  const auto interrupted = h.start_written();
  h.cancel(interrupted, partial);
  const auto abandoned = h.start_written();
  h.cancel(abandoned, terminal);
  const auto writing = h.start();
  h.write();
  const auto queued = h.start();
  auto eager = h.start();  // nobody awaits it yet: it completes all the same
  auto a = h.record(h.book.on_worker_end());
  BOOST_TEST(has_kind(a, call_action::disarm_grace));
  for (auto id : {running, interrupted, writing, queued, eager})
    BOOST_TEST(int(h.outcome(id).end) == int(call_end::terminated));
  BOOST_TEST(int(h.outcome(replied).end) == int(call_end::replied));
  BOOST_TEST(int(h.outcome(abandoned).end) == int(call_end::abandoned));
  BOOST_TEST(h.book.size() == 0u);
  BOOST_TEST(h.written().empty());  // nothing more to write
  BOOST_TEST(h.write() == 0u);
  BOOST_TEST(h.book.on_interrupt_all().size() == 1u);  // the action, and no frame
  BOOST_TEST(h.write() == 0u);
  BOOST_TEST(h.book.on_worker_end().empty());  // once
  const auto late = h.start();  // a call started after the end fails at once
  BOOST_TEST(int(h.outcome(late).end) == int(call_end::terminated));
  BOOST_TEST(h.write() == 0u);
}

BOOST_AUTO_TEST_CASE(a_worker_on_its_way_out_answers_with_failures_that_do_not_count) {
  harness h;
  const auto ok = h.start_written();
  const auto failed = h.start_written();
  auto stop = h.book.on_stop();
  BOOST_TEST(kinds(stop) == std::vector{call_action::write});
  h.write();
  BOOST_TEST(int(h.header(2).type) == int(frame_type::exit_request));
  h.reply(ok);  // a result it sent still counts
  BOOST_TEST(h.record(h.book.on_reply(failed, frame_type::failure, failure_report_of(malt::errc::interrupted))).empty());
  h.record(h.book.on_worker_end());
  BOOST_TEST(int(h.outcome(ok).end) == int(call_end::replied));
  BOOST_TEST(int(h.outcome(failed).end) == int(call_end::terminated));
}

BOOST_AUTO_TEST_CASE(interrupt_all_is_one_frame_for_every_call) {
  harness h;
  h.start_written();
  auto a = h.book.on_interrupt_all();
  BOOST_TEST(kinds(a) == (std::vector{call_action::write, call_action::interrupt}));
  BOOST_TEST(a[1].id == 0u);
  h.write();
  BOOST_TEST(int(h.header(1).type) == int(frame_type::interrupt));
  BOOST_TEST(h.header(1).call_id == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timeouts_and_escalation)

BOOST_AUTO_TEST_CASE(a_deadline_interrupts_and_ends_as_timed_out) {
  harness h;
  const auto id = h.start_written();
  auto a = h.record(h.book.on_timeout(id));
  BOOST_TEST(kinds(a) == (std::vector{call_action::write, call_action::interrupt, call_action::arm_grace}));
  h.record(h.book.on_reply(id, frame_type::failure, failure_report_of(malt::errc::interrupted)));
  BOOST_TEST(h.outcome(id).timed_out);
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::replied));
}

BOOST_AUTO_TEST_CASE(a_deadline_before_the_write_withdraws_as_timed_out) {
  harness h;
  h.start_written();
  h.start();
  h.write();
  const auto id = h.start();
  h.record(h.book.on_timeout(id));
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::withdrawn));
  BOOST_TEST(h.outcome(id).timed_out);
}

BOOST_AUTO_TEST_CASE(a_deadline_whose_interrupt_is_ignored_is_abandoned_as_timed_out) {
  harness h;
  const auto id = h.start_written();
  h.record(h.book.on_timeout(id));
  h.record(h.book.on_grace_expired(id));
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::abandoned));
  BOOST_TEST(h.outcome(id).timed_out);
}

BOOST_AUTO_TEST_CASE(under_escalation_an_ignored_interrupt_ends_the_worker) {
  harness h(true);
  const auto id = h.start_written();
  h.cancel(id, partial);
  auto a = h.record(h.book.on_grace_expired(id));
  BOOST_TEST(kinds(a) == std::vector{call_action::escalate});
  BOOST_TEST(!h.completed(id));  // it ends with the worker
  h.record(h.book.on_worker_end());
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::terminated));
}

BOOST_AUTO_TEST_CASE(under_escalation_a_terminal_cancel_still_watches_the_call) {
  harness h(true);
  const auto id = h.start_written();
  auto a = h.cancel(id, terminal);
  BOOST_TEST(kinds(a) ==
             (std::vector{call_action::write, call_action::interrupt, call_action::complete, call_action::arm_grace}));
  BOOST_TEST(kinds(h.record(h.book.on_grace_expired(id))) == std::vector{call_action::escalate});
  // Had it answered in time, the watch would have ended quietly.
  const auto other = h.start_written();
  h.cancel(other, terminal);
  BOOST_TEST(kinds(h.reply(other)) == std::vector{call_action::disarm_grace});
  BOOST_TEST(h.book.on_grace_expired(other).empty());
  h.record(h.book.on_worker_end());
  BOOST_TEST(int(h.outcome(id).end) == int(call_end::abandoned));
}

BOOST_AUTO_TEST_SUITE_END()
