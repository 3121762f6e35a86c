#include "loader/formats/json/json_format.h"

#include "loader/formats/json/json_decoder.h"
#include "loader/formats/json/json_framing.h"

namespace sluice::loader {

const input_format& json_format() {
  static const input_format format{
      .name = "json",
      .make_framer = make_json_framer,
      // A pretty-printed document is read only once complete: a service that
      // pauses inside one is never read half written.
      .settled_files_only = true,
      .complete_stream_ends_record = true,
      .make_decoder = make_json_decoder,
      .routes = true,
      .keys = column_keys::json_pointers,
  };
  return format;
}

}  // namespace sluice::loader
