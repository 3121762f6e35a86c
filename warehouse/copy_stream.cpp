#include "warehouse/copy_stream.h"

namespace sluice::warehouse {

copy_in::copy_in(connection& conn, std::string_view copy_statement, std::string abort_reason)
    : conn_(conn), abort_reason_(std::move(abort_reason)) {
  conn_.copy_begin(copy_statement);
}

copy_in::~copy_in() {
  if (open_) conn_.copy_abort(abort_reason_);
}

void copy_in::write(std::span<const char> bytes) { conn_.copy_write(bytes); }

void copy_in::finish() {
  // Over whatever copy_end says: aborting a COPY the server already ended
  // would only leave libpq's "no COPY in progress" on the connection.
  open_ = false;
  conn_.copy_end();
}

copy_out::copy_out(connection& conn, std::string_view copy_statement) : conn_(conn) {
  conn_.copy_out_begin(copy_statement);
}

bool copy_out::read(std::string& chunk) { return conn_.copy_read(chunk); }

}  // namespace sluice::warehouse
