#include "loader/sources/files/file_batch.h"

#include <algorithm>
#include <utility>

#include "loader/log.h"
#include "warehouse/log.h"

namespace sluice::loader {

namespace {


// head_hash of a compressed file: its content's first bytes, kept (reading
// them again would inflate the file from its start).
std::string content_head_hash(tracked_file& t, std::uint64_t end) {
  auto want = static_cast<std::size_t>(std::min<std::uint64_t>(end, guard_bytes));
  if (t.content_head.size() < want) t.content_head = read_content(*t.source, 0, guard_bytes);
  return content_hash::of(std::string_view(t.content_head).substr(0, want));
}

}  // namespace

file_batch::file_batch(std::size_t expected_bytes, std::function<void(batch&&)> submit)
    : expected_bytes_(expected_bytes), submit_(std::move(submit)) {}

void file_batch::open(tracked_file& t) {
  if (index_.count(t.id)) return;
  // Read again before its batch was handed over (a rotated log seen under
  // its old and its new name in one pass): its next part starts a batch.
  if (closed_.count(t.id)) hand_over();
  if (!provenance_) {
    provenance_ = std::make_shared<file_provenance>();
    current_.origins.reserve(expected_bytes_ / 64);
  }
  provenance_->files[t.id] = {t.fd, t.compressed, static_cast<std::uint64_t>(t.stat.size)};
  auto* set = &checkpoints();
  warehouse::file_advance a;
  a.id = t.id;
  a.from_bytes = static_cast<std::int64_t>(t.ledger_bytes);
  a.from_hash = t.ledger_hash;
  index_[t.id] = set->advances.size();
  set->advances.push_back(std::move(a));
  set->labels.push_back(t.feed->name + " " + t.path);
  ++files_;
}

file_checkpoints& file_batch::checkpoints() {
  if (current_.checkpoints.empty()) current_.checkpoints.push_back(std::make_unique<file_checkpoints>());
  return static_cast<file_checkpoints&>(*current_.checkpoints.front());
}

void file_batch::close(tracked_file& t, const record_reader& reader, bool complete) {
  auto* set = &checkpoints();
  auto index = index_.at(t.id);
  auto& a = set->advances[index];
  const auto& to = reader.consumed();
  // (Records count too: a file unreadable from its first byte is one reject
  // at byte 0.)
  bool moved = to.bytes != t.at.bytes || to.records != t.at.records || complete != t.complete ||
               to.bytes != t.ledger_bytes;
  if (!moved) {
    // Nothing for the ledger: take the checkpoint out again.
    set->advances.erase(set->advances.begin() + static_cast<std::ptrdiff_t>(index));
    set->labels.erase(set->labels.begin() + static_cast<std::ptrdiff_t>(index));
    index_.erase(t.id);
    for (auto& [id, i] : index_) {
      if (i > index) --i;
    }
    --files_;
    return;
  }
  a.to = {static_cast<std::int64_t>(to.bytes), static_cast<std::int64_t>(to.lines),
          static_cast<std::int64_t>(to.records), reader.hash().hex(),
          t.compressed ? content_guard_of(*t.source, to.bytes) : guard_hash_of(t.fd->get(), to.bytes)};
  a.head_hash = t.compressed ? content_head_hash(t, to.bytes) : head_hash_of(t.fd->get(), to.bytes);
  a.seen = t.stat;
  a.complete = complete;
  if (complete && !t.damage.empty()) a.reason = "not loaded completely: " + t.damage;
  if (t.compressed) {
    // Known by its content, as a plain file is: the reader's hash is the
    // content's when it read the file from its start; a file resumed after
    // a restart (a chain from a digest) is inflated again whole, once.
    if (complete && !t.whole) {
      auto source = make_gzip_source(t.fd->get(), static_cast<std::uint64_t>(t.stat.size));
      source->check_integrity();
      a.content_hash = content_digest(*source).hex();
    }
  } else if (complete && !t.whole) {
    // Known by its whole content from now on: hashed once, at the end.
    if (auto whole = hash_prefix(t.fd->get(), to.bytes)) a.content_hash = whole->hex();
  }
  current_.turns.push_back({t.key, t.next_seq++});
  closed_.insert(t.id);
  ++t.in_flight;
  t.at = to;
  t.hash = reader.hash();
  t.complete = complete;
  t.ledger_bytes = to.bytes;
  t.ledger_hash = a.to.hash;
  t.guard = a.to.guard_hash;
  index_.erase(t.id);
  // A file keeps its place in files_ until the batch is handed over.
}

void file_batch::add(tracked_file& t, record_decoder& decoder, const record& rec, reject_reason& why) {
  auto& set = checkpoints();
  auto& a = set.advances[index_.at(t.id)];
  auto& targets = rows_for(*t.feed);
  std::size_t target = 0;
  row_origin origin{t.id, rec.ordinal, rec.line, rec.offset, 0, current_.feed_index(t.feed->name), false};
  if (decoder.decode(rec, t.id, targets.encoders, why, &target)) {
    auto& encoder = targets.encoders[target];
    bytes_ += encoder.size() - targets.sizes[target];
    targets.sizes[target] = encoder.size();
    origin.size = static_cast<std::uint32_t>(rec.size);
    current_.origins.push_back(origin);
    targets.origins[target].push_back(static_cast<std::uint32_t>(current_.origins.size() - 1));
    ++current_.loaded;
    ++current_.feed_tallies[origin.feed].loaded;
    ++a.loaded;
    return;
  }
  reject(t, rec, why);
}

// A record that did not decode (or could not be read) becomes a reject.
void file_batch::reject(tracked_file& t, const record& rec, const reject_reason& why) {
  auto& a = checkpoints().advances[index_.at(t.id)];
  row_origin origin{t.id, rec.ordinal, rec.line, rec.offset, 0, current_.feed_index(t.feed->name),
                    rec.defect == flaw::too_long || (rec.defect == flaw::unreadable && rec.text.size() < rec.size)};
  std::string_view raw = rec.text;
  if (raw.size() > reject_raw_bytes) {
    std::size_t cut = reject_raw_bytes;
    while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xc0) == 0x80) --cut;
    raw = raw.substr(0, cut);
    origin.raw_truncated = true;
  }
  auto before = current_.rejects.size();
  append_reject(current_.rejects, file_provenance::place_of(origin), origin, t.feed->name, why.field, why.reason, raw);
  bytes_ += current_.rejects.size() - before;
  ++current_.rejected;
  ++current_.feed_tallies[origin.feed].rejected;
  ++a.rejected;
  files_log()->debug("{} {}: record {} (line {}) rejected: {}", t.feed->name, t.path, rec.ordinal, rec.line,
                     why.reason);
}

file_batch::feed_rows& file_batch::rows_for(const feed_plan& feed) {
  auto [it, fresh] = rows_.try_emplace(&feed);
  if (fresh) {
    it->second.encoders.resize(feed.targets.size());
    it->second.origins.resize(feed.targets.size());
    for (const auto& e : it->second.encoders) it->second.sizes.push_back(e.size());
  }
  return it->second;
}

void file_batch::hand_over() {
  for (auto& [feed, rows] : rows_) {
    for (std::size_t i = 0; i < rows.encoders.size(); ++i) {
      if (rows.encoders[i].empty()) continue;
      auto& table = current_.table(feed->targets[i].copy_statement);
      table.rows = std::move(rows.encoders[i]);
      table.origins = std::move(rows.origins[i]);
    }
  }
  rows_.clear();
  bool has_work = !current_.checkpoints.empty() && !checkpoints().advances.empty();
  current_.from = std::move(provenance_);
  provenance_.reset();
  if (has_work) {
    submit_(std::move(current_));
  }
  current_ = batch{};
  bytes_ = 0;
  files_ = 0;
  index_.clear();
  closed_.clear();
}

// ---------------------------------------------------------- after commits

}  // namespace sluice::loader
