#include "loader/formats/registry.h"

#include <span>

#include "loader/contract/feed.h"
#include "loader/formats/csv/csv_format.h"
#include "loader/formats/json/json_format.h"
#include "loader/formats/json/json_framing.h"
#include "loader/formats/ndjson/ndjson_format.h"

namespace sluice::loader {

namespace {

// Every format, listed here rather than registered by its own folder: a static
// object that registers itself is dropped by the linker from a static library
// when nothing refers to its file, and this list says in one line what exists.
std::span<const input_format* const> formats() {
  static const input_format* const all[] = {&ndjson_format(), &json_format(), &csv_format()};
  return all;
}

}  // namespace

const input_format* find_format(std::string_view name) {
  for (const auto* format : formats()) {
    if (format->name == name) return format;
  }
  return nullptr;
}

const input_format& detect_format(std::string_view first_bytes) {
  return looks_like_json_document(first_bytes) ? json_format() : ndjson_format();
}

const input_format& format_for(const feed_plan& feed, std::string_view head) {
  if (const auto* format = find_format(feed.format)) return *format;
  return detect_format(head);
}

const input_format& declared_format(std::string_view name) {
  if (const auto* format = find_format(name)) return *format;
  return ndjson_format();
}

}  // namespace sluice::loader
