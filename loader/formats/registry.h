// Input formats by name: what the rest of the loader asks instead of comparing
// sluice.feeds.format by hand. Each format lives in a folder of its own
// (ndjson/, json/, csv/) with its framing and its decoding; this is the one
// place that lists them.
//
// An input_format is a constant: its functions may be called from any thread
// (what they make is one per reader or per feed and thread).
#pragma once

#include <memory>
#include <string_view>

#include "loader/formats/record_decoder.h"
#include "loader/formats/record_reader.h"

namespace sluice::loader {

struct feed_plan;

// How a format's records name the values of a feed's columns.
enum class column_keys {
  json_pointers,  // sluice.feed_columns.json_pointer
  fields,         // csv_header (with a header row) or csv_position
};

struct input_format {
  std::string_view name;  // as sluice.feeds.format spells it

  // Framing: the record_framer a record_reader of this format uses.
  std::unique_ptr<record_framer> (*make_framer)(const framer_setup& setup);
  // A record may take the whole file (a pretty-printed document): the file is
  // read only once it has settled, and then as final.
  bool settled_files_only = false;
  // A .gz whose stream ended cleanly ends its last record, also in the daemon
  // (its writer wrote the end marker). Not so for a log, which grows by members
  // that may end mid-line: as for a plain log, its last line waits for its "\n".
  bool complete_stream_ends_record = true;

  // Decoding: one decoder per feed and thread. A format with a header row
  // binds each file's header to the feed's columns (format_decoder::bind_header).
  std::unique_ptr<format_decoder> (*make_decoder)(const feed_plan& feed);

  // What the format imposes on a feed's declaration (contract/feed.cpp checks
  // it, naming the format in its messages).
  bool routes = true;  // records may go to several targets by route_pointer; else exactly one target
  column_keys keys = column_keys::json_pointers;
};

// The format sluice.feeds.format names, or nullptr for "auto" (and for a name
// no format has, which the CHECK constraint on sluice.feeds.format refuses).
[[nodiscard]] const input_format* find_format(std::string_view name);

// What a feed of format "auto" reads a file as, from its first bytes: json when
// the first line is a lone "{" or starts with "[" (blank lines before it passed
// over: a pretty-printed document or an array), else ndjson.
[[nodiscard]] const input_format& detect_format(std::string_view first_bytes);

// The format of a feed's file whose first bytes are `head`.
[[nodiscard]] const input_format& format_for(const feed_plan& feed, std::string_view head);

// The format a feed's declaration is checked against and its records decoded
// with: the one it names, or for "auto" ndjson (auto picks between ndjson and
// json, which decode alike and impose the same rules).
[[nodiscard]] const input_format& declared_format(std::string_view name);

}  // namespace sluice::loader
