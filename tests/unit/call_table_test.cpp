// The call table's states, without processes or sockets.
#include "call_table.hpp"

#include <boost/test/unit_test.hpp>

using namespace malt::detail;

BOOST_AUTO_TEST_SUITE(call_table_states)

BOOST_AUTO_TEST_CASE(queued_written_done) {
  call_table t;
  auto c = t.add();
  BOOST_TEST(int(c->state) == int(call_state::queued));
  BOOST_TEST(t.size() == 1u);
  t.mark_written(c->id);
  BOOST_TEST(int(c->state) == int(call_state::written));
  auto done = t.complete(c->id, frame_type::result, {'4', '2'});
  BOOST_TEST(done == c);
  BOOST_TEST(int(c->state) == int(call_state::done));
  BOOST_TEST(std::string(c->reply.begin(), c->reply.end()) == "42");
  BOOST_TEST(!c->terminated);
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_CASE(reply_before_the_write_is_reported) {
  // The worker can answer before the writer's completion runs.
  call_table t;
  auto c = t.add();
  BOOST_TEST(t.complete(c->id, frame_type::failure, {}) == c);
  t.mark_written(c->id);
  BOOST_TEST(int(c->state) == int(call_state::done));
  BOOST_TEST(int(c->reply_type) == int(frame_type::failure));
}

BOOST_AUTO_TEST_CASE(ids_are_unique_and_replies_match_by_id) {
  call_table t;
  std::vector<call_ptr> calls;
  for (int i = 0; i < 100; ++i) calls.push_back(t.add());
  const auto skipped = t.reserve_id();
  for (std::size_t i = 1; i < calls.size(); ++i) BOOST_TEST(calls[i]->id > calls[i - 1]->id);
  BOOST_TEST(skipped > calls.back()->id);
  for (std::size_t i = calls.size(); i-- > 0;)  // replies in any order
    BOOST_TEST(t.complete(calls[i]->id, frame_type::result, {}) == calls[i]);
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_and_repeated_replies_are_dropped) {
  call_table t;
  auto c = t.add();
  BOOST_TEST(t.complete(c->id + 1000, frame_type::result, {}) == nullptr);
  BOOST_TEST(t.complete(c->id, frame_type::result, {}) == c);
  BOOST_TEST(t.complete(c->id, frame_type::result, {}) == nullptr);
}

BOOST_AUTO_TEST_CASE(abandoned_call_drops_its_late_reply) {
  call_table t;
  auto c = t.add();
  t.mark_written(c->id);
  t.abandon(*c);
  BOOST_TEST(int(c->state) == int(call_state::abandoned));
  BOOST_TEST(t.complete(c->id, frame_type::result, {'x'}) == nullptr);
  BOOST_TEST(c->reply.empty());
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_CASE(done_wins_over_abandon) {
  call_table t;
  auto c = t.add();
  t.complete(c->id, frame_type::result, {});
  t.abandon(*c);
  BOOST_TEST(int(c->state) == int(call_state::done));
}

BOOST_AUTO_TEST_CASE(worker_end_terminates_every_pending_call) {
  call_table t;
  auto queued = t.add();
  auto written = t.add();
  t.mark_written(written->id);
  auto abandoned = t.add();
  t.abandon(*abandoned);
  auto ended = t.terminate_all();
  BOOST_TEST(ended.size() == 2u);
  for (auto* c : {queued.get(), written.get()}) {
    BOOST_TEST(int(c->state) == int(call_state::done));
    BOOST_TEST(c->terminated);
  }
  BOOST_TEST(int(abandoned->state) == int(call_state::abandoned));
  BOOST_TEST(t.size() == 0u);
  BOOST_TEST(t.complete(written->id, frame_type::result, {}) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
