// sluice::fault — the one root of every exception sluice throws for a fault,
// and the one question every caller asks of it: is it worth trying again?
//
// is_retryable() is true when the same work may succeed later with nothing
// changed by a person (the server came back, a lock went away, another
// process let go), false when retrying as it is cannot help (a refused row,
// a declaration or pack to fix, a source a person must look at). Each type
// says how it answers in its header. Callers that need more than the answer
// (db_error's kind(), a source_stopped that must be recorded) still catch
// the type.
//
// Not faults: bad input records (values: rejects, result<T>), the standard
// library's own exceptions (std::system_error from the OS, std::bad_alloc),
// and std::logic_error for a build mistake in the embedded sql/.
//
// Here, in the lowest room (sluice::warehouse, which every other room that
// throws links), header-only: it needs nothing of the warehouse, and a room
// of its own would be a library for eight lines.
#pragma once

#include <stdexcept>

namespace sluice {

class fault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  [[nodiscard]] virtual bool is_retryable() const noexcept = 0;
};

}  // namespace sluice
