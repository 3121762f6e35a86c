#include "warehouse/error.h"

namespace sluice::warehouse {

const char* to_string(error_kind kind) noexcept {
  switch (kind) {
    case error_kind::connection: return "connection";
    case error_kind::transient: return "transient";
    case error_kind::data: return "data";
    case error_kind::schema: return "schema";
    case error_kind::internal: return "internal";
  }
  return "internal";
}

error_kind classify_sqlstate(const std::string& sqlstate) noexcept {
  if (sqlstate.size() != 5) return error_kind::internal;
  auto cls = sqlstate.substr(0, 2);
  if (cls == "08") return error_kind::connection;
  if (sqlstate == "40001" || sqlstate == "40P01") return error_kind::transient;
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") return error_kind::connection;
  if (cls == "53" || cls == "58") return error_kind::transient;  // out of disk/memory, I/O error
  if (cls == "22" || cls == "23") return error_kind::data;
  if (sqlstate == "P0001" || sqlstate == "54000") return error_kind::data;
  if (cls == "42" || cls == "3F" || cls == "3D" || cls == "0A") return error_kind::schema;
  return error_kind::internal;
}

}  // namespace sluice::warehouse
