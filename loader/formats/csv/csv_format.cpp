#include "loader/formats/csv/csv_format.h"

#include "loader/formats/csv/csv_decoder.h"
#include "loader/formats/csv/csv_framing.h"

namespace sluice::loader {

const input_format& csv_format() {
  static const input_format format{
      .name = "csv",
      .make_framer = make_csv_framer,
      .settled_files_only = false,
      .complete_stream_ends_record = true,
      .make_decoder = [](const feed_plan& feed) -> std::unique_ptr<format_decoder> {
        return std::make_unique<csv_decoder>(feed);
      },
      // A row has no field to route by: one target, columns by header name or
      // position.
      .routes = false,
      .keys = column_keys::fields,
  };
  return format;
}

}  // namespace sluice::loader
