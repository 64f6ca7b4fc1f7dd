#ifndef MALT_THIS_CALL_HPP
#define MALT_THIS_CALL_HPP

// Inside a worker: how a synchronous remote function learns that its call was interrupted
// (malt::interrupt, or a host that cancelled its call or whose timeout expired).
//
//   void crunch(int n) {
//     for (int i = 0; i < n; ++i) {
//       malt::this_call::interruption_point();   // throws once interrupted
//       step(i);
//     }
//   }
//
// A function returning boost::asio::awaitable<T> needs none of this: an interrupt cancels
// the operation it awaits, and its next co_await throws (Asio's cancellation state).
// Code that never checks cannot be interrupted; only stop() ends it, with the process.

#include <chrono>
#include <exception>

namespace malt {

/// Thrown in the worker by interruption_point() and sleep_for(); the host's call then
/// fails with interrupted_exception.
struct call_interrupted : std::exception {
  const char* what() const noexcept override { return "the call was interrupted"; }
};

namespace this_call {

/// True once the call running on this thread has been interrupted. False outside a call.
bool interrupted() noexcept;

/// Throws call_interrupted if the call was interrupted.
void interruption_point();

/// Sleeps for d, unless the call is interrupted first: then throws call_interrupted.
void sleep_for(std::chrono::nanoseconds d);

}  // namespace this_call
}  // namespace malt

#endif
