// libFuzzer target for the pgoutput decoder: any bytes, as a logical
// replication message and as a CopyData message, must decode to a value or a
// decode_error without reading out of bounds (ASan) or undefined behaviour
// (UBSan). A decoded message re-decoded from an XLogData wrapper must agree.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "loader/sources/postgres/pgoutput.h"

using namespace sluice::loader::pgoutput;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const char> bytes(reinterpret_cast<const char*>(data), size);
  auto direct = decode(bytes);
  (void)decode_copy_data(bytes);

  std::string wrapped(25, '\0');
  wrapped[0] = 'w';
  wrapped.append(bytes.data(), bytes.size());
  auto copy = decode_copy_data(wrapped);
  if (!std::holds_alternative<xlog_data>(copy)) __builtin_trap();
  auto again = decode(std::get<xlog_data>(copy).payload);
  if (direct.index() != again.index()) __builtin_trap();
  return 0;
}
