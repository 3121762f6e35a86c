#include "sluice/loader/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "sluice/loader/content_hash.h"
#include "sluice/loader/copy_encoder.h"
#include "sluice/loader/feed.h"
#include "sluice/loader/record_decoder.h"
#include "sluice/loader/record_reader.h"
#include "sluice/warehouse/connection.h"
#include "sluice/warehouse/log.h"

namespace sluice::loader {

namespace {

using warehouse::connection;
using warehouse::db_error;

constexpr std::size_t head_bytes = 4096;            // what identifies a file's content
constexpr std::size_t reject_raw_bytes = 1 << 20;   // raw text kept per reject
constexpr std::string_view rejects_copy =
    "copy sluice.rejects (file_id, feed, record, line, byte_offset, field, reason, raw,"
    " raw_bytes, raw_truncated) from stdin (format binary)";

std::shared_ptr<spdlog::logger> log() {
  static auto instance = warehouse::named_logger("loader");
  return instance;
}

// A file descriptor closed on scope exit.
class file_handle {
 public:
  explicit file_handle(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~file_handle() {
    if (fd_ >= 0) ::close(fd_);
  }
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string read_head(int fd, std::uint64_t size) {
  std::string head(std::min<std::uint64_t>(size, head_bytes), '\0');
  std::size_t got = 0;
  while (got < head.size()) {
    auto n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  head.resize(got);
  return head;
}

// Hash of bytes [0, length) of the file, or nullopt when it is shorter.
std::optional<content_hash> hash_prefix(int fd, std::uint64_t length) {
  content_hash hash;
  std::vector<char> chunk(1 << 20);
  std::uint64_t at = 0;
  while (at < length) {
    auto want = std::min<std::uint64_t>(chunk.size(), length - at);
    auto n = ::pread(fd, chunk.data(), static_cast<std::size_t>(want), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    hash.update({chunk.data(), static_cast<std::size_t>(n)});
    at += static_cast<std::uint64_t>(n);
  }
  return hash;
}

// Batches of one file commit in order, but their COPYs may overlap on
// several connections: a batch streams its rows first and only then locks
// its ledger row. If an earlier batch has not committed yet, the offset does
// not match: roll back (releasing every lock, so the earlier batch cannot be
// stuck behind this one), wait for it, and stream again.
struct commit_order {
  std::mutex mutex;
  std::condition_variable changed;
  std::int64_t committed = -1;  // seq of the last committed batch
  bool failed = false;

  void done(std::uint64_t seq) {
    std::lock_guard lock(mutex);
    committed = std::max(committed, static_cast<std::int64_t>(seq));
    changed.notify_all();
  }
  void fail() {
    std::lock_guard lock(mutex);
    failed = true;
    changed.notify_all();
  }
  // True once batch `seq`'s predecessor committed; false if the stream failed.
  bool wait_for_turn(std::uint64_t seq) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return failed || committed + 1 >= static_cast<std::int64_t>(seq); });
    return !failed;
  }
  bool is_turn(std::uint64_t seq) {
    std::lock_guard lock(mutex);
    return committed + 1 >= static_cast<std::int64_t>(seq);
  }
};

// Raised when the stream of batches stopped behind this one.
struct stream_failed : std::runtime_error {
  stream_failed() : std::runtime_error("an earlier batch of this file failed") {}
};

// One file's batches between the parser and the COPY threads: their commit
// order, whether one failed, and what they loaded. Shared by the file's entry
// in the loader's cache and by every batch in flight.
struct file_stream {
  const feed_plan* feed = nullptr;  // valid while the stream lives (see reload_feeds)
  std::string feed_name;
  std::string path;
  commit_order order;
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> loaded{0};
  std::atomic<std::uint64_t> rejected{0};
  std::uint64_t next_seq = 0;  // the parser's side
  // Guarded by loader::impl::flight_mutex.
  int in_flight = 0;
  bool producing = false;
  std::uint64_t first_record = 1;      // where this stream started in the file
  std::uint64_t reported_loaded = 0;  // what this stream's earlier log lines told
  std::uint64_t reported_rejected = 0;
  std::chrono::steady_clock::time_point since;
};

// One transaction's worth of rows for one file.
struct batch {
  std::int64_t file_id = 0;
  std::shared_ptr<file_stream> stream;
  std::uint64_t seq = 0;  // order within the file's stream of batches
  position start;
  position end;
  std::string end_hash;
  bool complete = false;
  std::vector<copy_encoder> rows;  // one per feed target
  copy_encoder rejects;
  std::uint64_t loaded = 0;
  std::uint64_t rejected = 0;

  [[nodiscard]] std::size_t bytes() const {
    std::size_t total = rejects.size();
    for (const auto& r : rows) total += r.size();
    return total;
  }
};

// A bounded hand-off from the parsing thread to the COPY thread.
class batch_channel {
 public:
  explicit batch_channel(std::size_t capacity) : capacity_(capacity) {}
  void push(batch b) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity_; });
    queue_.push_back(std::move(b));
    not_empty_.notify_one();
  }
  std::optional<batch> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    batch b = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return b;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::deque<batch> queue_;
  bool closed_ = false;
  std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
};

// What the loader remembers of a file between calls, so that a growing log is
// not re-verified from its start on every append.
struct tracked_file {
  std::int64_t file_id = 0;
  dev_t device = 0;
  ino_t inode = 0;
  position at;
  content_hash hash;
  framing kind = framing::ndjson;
  bool complete = false;
  bool duplicate = false;
  std::shared_ptr<file_stream> stream;  // batches queued or committing
};

}  // namespace

struct loader::impl {
  std::string dsn;
  loader_options options;
  connection ledger;
  std::vector<connection> lanes;  // one COPY stream each
  std::vector<feed_plan> feeds;
  std::chrono::steady_clock::time_point feeds_loaded_at;
  std::map<std::string, std::unique_ptr<record_decoder>> decoders;  // by feed name
  std::map<std::string, tracked_file> tracked;                       // by path
  std::set<std::string> unmatched_logged;
  std::atomic<bool> stop{false};

  // Finished batches wait here for a COPY thread (one per lane).
  batch_channel channel{4};
  std::vector<std::thread> senders;
  std::mutex flight_mutex;
  std::condition_variable flight_done;
  int total_in_flight = 0;
  std::atomic<std::uint64_t> total_loaded{0};
  std::atomic<std::uint64_t> total_rejected{0};

  impl(std::string dsn_in, loader_options opts)
      : dsn(std::move(dsn_in)), options(std::move(opts)), ledger(dsn) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, options.copy_streams); ++i) {
      lanes.emplace_back(dsn);
    }
    prepare_session(ledger);
    for (auto& conn : lanes) prepare_session(conn);
    reload_feeds();
    for (auto& conn : lanes) senders.emplace_back([this, &conn] { send_loop(conn); });
  }

  ~impl() {
    channel.close();
    for (auto& sender : senders) sender.join();
  }

  // Commits need not wait for the WAL flush: the source files are still there,
  // and rows and their ledger advance commit together, so a commit lost in an
  // operating-system crash is lost whole and simply loaded again from the
  // ledger's offset. (A database or sluice crash loses nothing either way.)
  // That saves one fsync wait per batch.
  static void prepare_session(connection& conn) { conn.exec("set synchronous_commit = off"); }

  void reload_feeds() {
    // In-flight batches and cached files point at the plans about to go.
    flush();
    tracked.clear();
    decoders.clear();
    feeds = load_feeds(ledger);
    feeds_loaded_at = std::chrono::steady_clock::now();
    for (const auto& feed : feeds) decoders[feed.name] = std::make_unique<record_decoder>(feed);
  }

  // Runs fn(conn) until it succeeds, reconnecting with backoff on infrastructure
  // faults. Returns false when a stop was requested before it could succeed.
  template <typename Fn>
  bool with_retry(connection& conn, const std::string& what, Fn&& fn) {
    auto delay = std::chrono::milliseconds(200);
    while (true) {
      try {
        fn();
        return true;
      } catch (const db_error& e) {
        if (!e.is_retryable()) throw;
        log()->warn("{}: {} ({}); retrying in {} ms", what, e.what(), warehouse::to_string(e.kind()),
                    delay.count());
      }
      auto until = std::chrono::steady_clock::now() + delay;
      while (std::chrono::steady_clock::now() < until) {
        if (stop) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      delay = std::min(delay * 2, std::chrono::milliseconds(10'000));
      try {
        conn = connection(dsn);
        prepare_session(conn);
      } catch (const db_error& e) {
        log()->warn("{}: still cannot connect: {}", what, e.what());
      }
    }
  }

  const feed_plan* feed_for(const std::string& path) {
    const feed_plan* feed = match_feed(feeds, path);
    if (feed == nullptr &&
        std::chrono::steady_clock::now() - feeds_loaded_at > std::chrono::seconds(5)) {
      reload_feeds();  // a feed may have been declared since
      feed = match_feed(feeds, path);
    }
    if (feed == nullptr && unmatched_logged.insert(path).second) {
      log()->warn("{}: no feed takes this file (see sluice.feeds.file_globs); left alone", path);
    }
    return feed;
  }

  // Finds or creates the ledger row for the content now at `path`. nullopt:
  // nothing to load now (a duplicate, or too little of the file to tell).
  // `head` is the file's first bytes (read_head).
  std::optional<tracked_file> resolve(const std::string& path, const feed_plan& feed, int fd,
                                      const struct stat& st, const std::string& head, bool settled) {
    auto size = static_cast<std::uint64_t>(st.st_size);
    auto row = ledger.exec_params(
        "select id, bytes_done, done_hash, records_done, lines_done, state from sluice.files"
        " where path = $1 and state in ('loading', 'loaded', 'duplicate') order by id desc limit 1",
        {path});
    if (row.rows() == 1) {
      auto id = row.int64(0, 0);
      if (row.text(0, 5) == "duplicate") {
        tracked_file t;
        t.file_id = id;
        t.duplicate = true;
        return t;
      }
      auto done = static_cast<std::uint64_t>(row.int64(0, 1));
      auto hash = done <= size ? hash_prefix(fd, done) : std::nullopt;
      if (hash && hash->hex() == row.text(0, 2)) {
        tracked_file t;
        t.file_id = id;
        t.at = {done, static_cast<std::uint64_t>(row.int64(0, 4)),
                static_cast<std::uint64_t>(row.int64(0, 3))};
        t.hash = std::move(*hash);
        t.complete = row.text(0, 5) == "loaded" && done == size;
        return t;
      }
      log()->info("{} {}: content differs from what was loaded as file {}; loading it as a new file",
                  feed.name, path, id);
      ledger.exec_params("update sluice.files set state = 'replaced' where id = $1",
                         {std::to_string(id)});
    }

    auto newline = head.find('\n');
    if (newline == std::string::npos && head.size() < head_bytes && !settled) return std::nullopt;
    std::string head_hash =
        content_hash::of({head.data(), newline == std::string::npos ? head.size() : newline + 1});

    auto candidates = ledger.exec_params(
        "select id, path, bytes_done, done_hash, records_done, lines_done, state from sluice.files"
        " where head_hash = $1 and state in ('loading', 'loaded') order by id",
        {head_hash});
    for (int i = 0; i < candidates.rows(); ++i) {
      std::string old_path(candidates.text(i, 1));
      auto done = static_cast<std::uint64_t>(candidates.int64(i, 2));
      if (old_path == path) continue;
      if (done > size) {
        if (!settled) return std::nullopt;  // maybe a copy still being written
        continue;
      }
      auto hash = hash_prefix(fd, done);
      if (!hash || hash->hex() != candidates.text(i, 3)) continue;
      auto id = candidates.int64(i, 0);
      std::error_code ec;
      if (std::filesystem::exists(options.inbox / old_path, ec)) {
        ledger.exec_params(
            "insert into sluice.files (feed, path, state, duplicate_of, head_hash, done_hash)"
            " values ($1, $2, 'duplicate', $3, $4, $5)",
            {feed.name, path, std::to_string(id), head_hash, std::string(candidates.text(i, 3))});
        log()->info("{} {}: same content as {} (file {}), which is loaded already; skipped",
                    feed.name, path, old_path, id);
        tracked_file t;
        t.file_id = id;
        t.duplicate = true;
        return t;
      }
      ledger.exec_params("update sluice.files set path = $2 where id = $1",
                         {std::to_string(id), path});
      log()->info("{} {}: renamed from {} (file {}); continuing at byte {}", feed.name, path,
                  old_path, id, done);
      tracked_file t;
      t.file_id = id;
      t.at = {done, static_cast<std::uint64_t>(candidates.int64(i, 5)),
              static_cast<std::uint64_t>(candidates.int64(i, 4))};
      t.hash = std::move(*hash);
      t.complete = candidates.text(i, 6) == "loaded" && done == size;
      return t;
    }

    tracked_file t;
    auto inserted = ledger.exec_params(
        "insert into sluice.files (feed, path, head_hash, done_hash) values ($1, $2, $3, $4)"
        " returning id",
        {feed.name, path, head_hash, t.hash.hex()});
    t.file_id = inserted.int64(0, 0);
    log()->debug("{} {}: new file {}", feed.name, path, t.file_id);
    return t;
  }

  void commit(connection& conn, const feed_plan& feed, batch& b) {
    auto& order = b.stream->order;
    auto id = std::to_string(b.file_id);
    while (true) {
      warehouse::transaction tx(conn);
      for (std::size_t i = 0; i < b.rows.size(); ++i) {
        if (b.rows[i].empty()) continue;
        conn.copy_begin(feed.targets[i].copy_statement);
        conn.copy_write(b.rows[i].finish());
        conn.copy_end();
      }
      if (!b.rejects.empty()) {
        conn.copy_begin(rejects_copy);
        conn.copy_write(b.rejects.finish());
        conn.copy_end();
      }
      auto at = conn.exec_params(
          "select bytes_done, done_hash from sluice.files where id = $1 for update", {id});
      auto done = static_cast<std::uint64_t>(at.int64(0, 0));
      if (done == b.end.bytes && at.text(0, 1) == b.end_hash && b.end.bytes != b.start.bytes) {
        order.done(b.seq);
        return;  // an earlier attempt committed before its acknowledgement was lost
      }
      if (done != b.start.bytes) {
        bool was_turn = order.is_turn(b.seq);
        if (was_turn) {
          throw db_error(warehouse::error_kind::internal, "",
                         "file " + id + " is at byte " + std::to_string(done) + ", not " +
                             std::to_string(b.start.bytes) + ": another sluice is loading it");
        }
        tx.rollback();  // let the earlier batch have every lock this one took
        if (!order.wait_for_turn(b.seq)) throw stream_failed();
        continue;
      }
      conn.exec_params(
          "update sluice.files set bytes_done = $2, done_hash = $3, records_done = $4,"
          " lines_done = $5, rows_loaded = rows_loaded + $6, rows_rejected = rows_rejected + $7,"
          " state = $8, updated_at = now() where id = $1",
          {id, std::to_string(b.end.bytes), b.end_hash, std::to_string(b.end.records),
           std::to_string(b.end.lines), std::to_string(b.loaded), std::to_string(b.rejected),
           b.complete ? "loaded" : "loading"});
      tx.commit();
      order.done(b.seq);
      return;
    }
  }

  void add_reject(batch& b, const feed_plan& feed, const record& rec, const reject_reason& why) {
    std::string_view bytes = rec.text;
    bool truncated = rec.defect == flaw::too_long;
    if (bytes.size() > reject_raw_bytes) {
      std::size_t cut = reject_raw_bytes;
      while (cut > 0 && (static_cast<unsigned char>(bytes[cut]) & 0xc0) == 0x80) --cut;
      bytes = bytes.substr(0, cut);
      truncated = true;
    }
    auto raw = printable_raw(bytes);
    auto& r = b.rejects;
    r.begin_row(10);
    r.put_int8(b.file_id);
    r.put_text(feed.name);
    r.put_int8(static_cast<std::int64_t>(rec.ordinal));
    r.put_int8(static_cast<std::int64_t>(rec.line));
    r.put_int8(static_cast<std::int64_t>(rec.offset));
    if (why.field.empty()) r.put_null();
    else r.put_text(why.field);
    r.put_text(printable_raw(why.reason).text);  // reasons quote input, which may be binary
    r.put_text(raw.text);
    if (raw.lossy) r.put_bytea(bytes);
    else r.put_null();
    r.put_bool(truncated);
    r.end_row();
    ++b.rejected;
    log()->debug("{} {}: record {} (line {}) rejected: {}", feed.name, b.stream->path, rec.ordinal,
                 rec.line, why.reason);
  }

  batch new_batch(const tracked_file& t, const feed_plan& feed, const position& start) {
    batch b;
    b.file_id = t.file_id;
    b.stream = t.stream;
    b.seq = t.stream->next_seq++;
    b.start = start;
    b.rows.resize(feed.targets.size());
    return b;
  }

  // The COPY threads: commit each batch, in its file's order, on this lane.
  void send_loop(connection& conn) {
    while (auto b = channel.pop()) {
      auto& stream = *b->stream;
      const feed_plan* feed = stream.feed;
      if (!stream.failed) {
        try {
          bool done = with_retry(conn, stream.feed_name + " " + stream.path,
                                 [&] { commit(conn, *feed, *b); });
          if (done) {
            stream.loaded += b->loaded;
            stream.rejected += b->rejected;
            total_loaded += b->loaded;
            total_rejected += b->rejected;
          } else {
            stream.failed = true;
            stream.order.fail();
          }
        } catch (const stream_failed&) {
          stream.failed = true;
        } catch (const std::exception& e) {
          log()->error("{} {}: records {}..{} could not be committed: {}; the file stays at record {}"
                       " and is retried on the next change or restart",
                       stream.feed_name, stream.path, b->start.records + 1, b->end.records, e.what(),
                       b->start.records);
          stream.failed = true;
          stream.order.fail();
        }
      }
      std::lock_guard lock(flight_mutex);
      --stream.in_flight;
      --total_in_flight;
      if (stream.in_flight == 0 && !stream.producing) report(stream);
      flight_done.notify_all();
    }
  }

  // Logs what a file's batches committed since its last line (flight_mutex held).
  void report(file_stream& stream) {
    std::uint64_t loaded = stream.loaded - stream.reported_loaded;
    std::uint64_t rejected = stream.rejected - stream.reported_rejected;
    if (loaded + rejected == 0 || stream.failed) return;
    auto first = stream.first_record + stream.reported_loaded + stream.reported_rejected;
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stream.since).count();
    log()->info("{} {}: records {}..{} committed: {} loaded, {} rejected in {:.2f} s", stream.feed_name,
                stream.path, first, first + loaded + rejected - 1, loaded, rejected, seconds);
    stream.reported_loaded += loaded;
    stream.reported_rejected += rejected;
  }

  void enqueue(batch b) {
    {
      std::lock_guard lock(flight_mutex);
      ++b.stream->in_flight;
      ++total_in_flight;
    }
    channel.push(std::move(b));
  }

  void flush() {
    std::unique_lock lock(flight_mutex);
    flight_done.wait(lock, [&] { return total_in_flight == 0; });
  }

  // Parses [t.at, size) into batches for the COPY threads. `final`: the end of
  // the file ends the last record; `settled`: a file read to its end is marked
  // complete ('loaded'). Returns when the last batch is queued.
  void stream_file(const feed_plan& feed, int fd, std::uint64_t size, bool settled, bool final,
                   tracked_file& t) {
    record_reader reader(fd, t.kind, t.at, t.hash, size, final,
                         {.initial_buffer_bytes = 1 << 20,
                          .max_record_bytes = options.max_record_bytes,
                          .raw_keep_bytes = reject_raw_bytes,
                          .padding = 64});
    auto& decoder = *decoders.at(feed.name);
    auto& stream = *t.stream;
    {
      std::lock_guard lock(flight_mutex);
      stream.producing = true;
      if (stream.in_flight == 0) stream.since = std::chrono::steady_clock::now();
    }
    bool read_failed = false;
    batch current = new_batch(t, feed, t.at);
    reject_reason why;
    try {
      while (!stream.failed) {
        auto rec = reader.next();
        if (!rec) break;
        if (decoder.decode(*rec, t.file_id, current.rows, why)) {
          ++current.loaded;
        } else {
          add_reject(current, feed, *rec, why);
        }
        if (current.bytes() >= options.batch_bytes || stop) {
          current.end = reader.consumed();
          current.end_hash = reader.hash().hex();
          position next = current.end;
          enqueue(std::move(current));
          current = new_batch(t, feed, next);
          if (stop) break;
        }
      }
    } catch (const std::system_error& e) {
      log()->error("{} {}: cannot read the file: {}", feed.name, stream.path, e.what());
      read_failed = true;
    }
    current.end = reader.consumed();
    current.end_hash = reader.hash().hex();
    bool complete = settled && !stop && !read_failed && current.end.bytes == size;
    current.complete = complete;
    bool changed = current.end.bytes != current.start.bytes || complete != t.complete;
    if (changed && !read_failed) {
      enqueue(std::move(current));
    } else {
      --stream.next_seq;  // the batch that was not sent takes no place in the order
    }
    // What the cache says is what will be committed if the queued batches
    // succeed; a failure marks the stream, and the next load() starts over
    // from the ledger.
    t.at = current.end;
    t.hash = reader.hash();
    t.complete = complete;
    if (read_failed) stream.failed = true;
    std::lock_guard lock(flight_mutex);
    stream.producing = false;
    if (stream.in_flight == 0) report(stream);
  }

  void load(const std::string& path, bool settled) {
    const feed_plan* feed = feed_for(path);
    if (feed == nullptr) return;
    auto full = options.inbox / path;
    file_handle file(full);
    struct stat st {};
    if (file.fd() < 0 || ::fstat(file.fd(), &st) != 0) {
      log()->debug("{} {}: gone before it could be read", feed->name, path);
      forget(path);
      return;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) return;
    auto size = static_cast<std::uint64_t>(st.st_size);

    auto it = tracked.find(path);
    if (it != tracked.end() &&
        (it->second.device != st.st_dev || it->second.inode != st.st_ino ||
         it->second.at.bytes > size || (it->second.stream && it->second.stream->failed))) {
      forget(path);
      it = tracked.end();
    }
    if (it == tracked.end()) {
      std::string head = read_head(file.fd(), size);
      std::optional<tracked_file> resolved;
      bool ok = with_retry(ledger, feed->name + " " + path, [&] {
        resolved = resolve(path, *feed, file.fd(), st, head, settled);
      });
      if (!ok || !resolved) return;
      resolved->device = st.st_dev;
      resolved->inode = st.st_ino;
      resolved->kind = feed->framing_for(head);
      resolved->stream = std::make_shared<file_stream>();
      resolved->stream->first_record = resolved->at.records + 1;
      resolved->stream->feed = feed;
      resolved->stream->feed_name = feed->name;
      resolved->stream->path = path;
      it = tracked.emplace(path, std::move(*resolved)).first;
    }
    auto& t = it->second;
    if (t.duplicate) return;
    if (t.kind == framing::json && !settled) return;  // a JSON document is read once complete
    // Whether the end of the file ends a record: for a settled JSON document, yes;
    // for lines, only when told so (--once), since an appender may be mid-line.
    bool final = settled && (t.kind == framing::json || options.read_unterminated_tail);
    if (t.at.bytes == size && (t.complete || !settled)) return;
    stream_file(*feed, file.fd(), size, settled, final, t);
  }

  // Drops what the cache knows of `path` once its batches are done, so that the
  // next load starts from the ledger.
  void forget(const std::string& path) {
    auto it = tracked.find(path);
    if (it == tracked.end()) return;
    if (auto stream = it->second.stream) {
      std::unique_lock lock(flight_mutex);
      flight_done.wait(lock, [&] { return stream->in_flight == 0; });
    }
    tracked.erase(it);
  }
};

loader::loader(std::string dsn, loader_options options)
    : impl_(std::make_unique<impl>(std::move(dsn), std::move(options))) {}
loader::~loader() = default;

void loader::load(const std::string& relative_path, bool settled) {
  impl_->load(relative_path, settled);
}

void loader::flush() { impl_->flush(); }

load_totals loader::totals() const {
  return {impl_->total_loaded.load(), impl_->total_rejected.load()};
}

void loader::request_stop() noexcept { impl_->stop = true; }

}  // namespace sluice::loader
