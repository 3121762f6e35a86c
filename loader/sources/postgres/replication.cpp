#include "loader/sources/postgres/replication.h"

#include <libpq-fe.h>
#include <sys/select.h>

#include <string_view>
#include <thread>

#include "loader/log.h"
#include "warehouse/connection.h"
#include "warehouse/log.h"

namespace sluice::loader {

namespace {

std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct result_guard {
  PGresult* r;
  ~result_guard() { PQclear(r); }
};

}  // namespace

pgoutput::pg_timestamp pg_now() {
  using namespace std::chrono;
  // 946684800: seconds from the Unix epoch to 2000-01-01.
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() - 946'684'800'000'000LL;
}

void replication_connection::finish_conn::operator()(pg_conn* c) const noexcept { PQfinish(c); }

replication_connection::replication_connection(const std::string& conninfo, std::string label)
    : label_(std::move(label)) {
  const char* keys[] = {"dbname", "replication", "fallback_application_name", "client_encoding", nullptr};
  const char* values[] = {conninfo.c_str(), "database", warehouse::application_name().c_str(), "UTF8", nullptr};
  conn_.reset(PQconnectdbParams(keys, values, 1));
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    throw replication_error("source " + label_ + ": cannot open a replication connection: " +
                            trimmed(conn_ ? PQerrorMessage(conn_.get()) : "out of memory") +
                            " (the source needs wal_level = logical and a role with REPLICATION)");
  }
}

replication_connection::~replication_connection() = default;

void replication_connection::fail(const std::string& what) const {
  throw replication_error("source " + label_ + ": " + what + ": " + trimmed(PQerrorMessage(conn_.get())));
}

replication_connection::created_slot replication_connection::create_slot(const std::string& slot, bool temporary) {
  auto command = "CREATE_REPLICATION_SLOT \"" + slot + "\"" + (temporary ? " TEMPORARY" : "") +
                 " LOGICAL pgoutput (SNAPSHOT 'export')";
  result_guard r{PQexec(conn_.get(), command.c_str())};
  if (PQresultStatus(r.r) != PGRES_TUPLES_OK || PQntuples(r.r) != 1) fail("cannot create slot " + slot);
  created_slot out;
  auto point = pgoutput::parse_lsn(PQgetvalue(r.r, 0, 1));
  if (!point) fail("the server sent no consistent point for slot " + slot);
  out.consistent_point = *point;
  out.snapshot = PQgetvalue(r.r, 0, 2);
  return out;
}

std::optional<pgoutput::lsn> replication_connection::slot_confirmed(const std::string& slot) {
  // A replication connection speaks the simple protocol only.
  char* quoted = PQescapeLiteral(conn_.get(), slot.c_str(), slot.size());
  if (quoted == nullptr) fail("cannot quote the slot name");
  std::string query = "select coalesce(confirmed_flush_lsn, '0/0')::text from pg_replication_slots"
                      " where slot_name = " + std::string(quoted) + " and plugin = 'pgoutput' and database = current_database()";
  PQfreemem(quoted);
  result_guard r{PQexec(conn_.get(), query.c_str())};
  if (PQresultStatus(r.r) != PGRES_TUPLES_OK) fail("cannot look up slot " + slot);
  if (PQntuples(r.r) == 0) return std::nullopt;
  return pgoutput::parse_lsn(PQgetvalue(r.r, 0, 0));
}

void replication_connection::drop_slot(const std::string& slot, std::chrono::milliseconds wait_for_slot,
                                       const std::function<bool()>& stop) {
  run_waiting_for_slot("DROP_REPLICATION_SLOT \"" + slot + "\"", PGRES_COMMAND_OK, slot, "cannot drop slot " + slot,
                       wait_for_slot, stop);
}

pgoutput::lsn replication_connection::current_wal_end() {
  result_guard r{PQexec(conn_.get(), "IDENTIFY_SYSTEM")};
  if (PQresultStatus(r.r) != PGRES_TUPLES_OK || PQntuples(r.r) != 1) fail("IDENTIFY_SYSTEM failed");
  auto at = pgoutput::parse_lsn(PQgetvalue(r.r, 0, 2));
  if (!at) fail("IDENTIFY_SYSTEM sent no WAL position");
  return *at;
}

void replication_connection::start(const std::string& slot, pgoutput::lsn from, const std::string& publication,
                                   std::chrono::milliseconds wait_for_slot, const std::function<bool()>& stop) {
  char* quoted = PQescapeLiteral(conn_.get(), ("\"" + publication + "\"").c_str(), publication.size() + 2);
  if (quoted == nullptr) fail("cannot quote the publication name");
  auto command = "START_REPLICATION SLOT \"" + slot + "\" LOGICAL " + pgoutput::format_lsn(from) +
                 " (proto_version '1', publication_names " + quoted + ", binary 'true', messages 'true')";
  PQfreemem(quoted);
  run_waiting_for_slot(command, PGRES_COPY_BOTH, slot, "cannot start replication from slot " + slot, wait_for_slot,
                       stop);
}

void replication_connection::run_waiting_for_slot(const std::string& command, int succeeded, const std::string& slot,
                                                  const std::string& what, std::chrono::milliseconds wait_for_slot,
                                                  const std::function<bool()>& stop) {
  auto deadline = std::chrono::steady_clock::now() + wait_for_slot;
  bool told = false;
  while (true) {
    result_guard r{PQexec(conn_.get(), command.c_str())};
    if (PQresultStatus(r.r) == succeeded) return;
    // 55006 object_in_use: "replication slot ... is active for PID n".
    const char* state = PQresultErrorField(r.r, PG_DIAG_SQLSTATE);
    bool in_use = state != nullptr && std::string_view(state) == "55006";
    if (!in_use || std::chrono::steady_clock::now() >= deadline || (stop && stop())) {
      fail(what + (in_use ? " (another process holds it: another sluice streaming this source, or the walsender of"
                            " a run that ended, until it notices)"
                          : ""));
    }
    if (!told) {
      postgres_log()->info("source {}: slot {} is held by another process ({}); waiting for it", label_, slot,
                                      trimmed(PQerrorMessage(conn_.get())));
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// The walsender sends each message on its own. Woken for each one, this
// process spent more time in select and recv than in all the rest (1.2 s of
// system time to catch up 60,000 pgbench transactions: 360,000 messages), time
// the walsender and the warehouse's backend needed on the same cores. So while
// messages keep coming, it waits a moment when it has read all there was, and
// the next read takes what gathered meanwhile (about a hundred messages at
// catch-up speed). A message after a quiet spell is read at once.
constexpr auto gather_while_flowing = std::chrono::microseconds(300);
constexpr auto flowing_within = std::chrono::milliseconds(2);

std::optional<std::string> replication_connection::next(std::chrono::milliseconds wait) {
  auto now = std::chrono::steady_clock::now();
  auto deadline = now + wait;
  bool gathered = now - last_message_ > flowing_within;
  while (true) {
    char* buffer = nullptr;
    int n = PQgetCopyData(conn_.get(), &buffer, /*async=*/1);
    if (n > 0) {
      std::string out(buffer, static_cast<std::size_t>(n));
      PQfreemem(buffer);
      last_message_ = std::chrono::steady_clock::now();
      return out;
    }
    if (n == -1) fail("the replication stream ended");
    if (n == -2) fail("the replication stream failed");
    if (!gathered) {
      gathered = true;
      std::this_thread::sleep_for(gather_while_flowing);
      if (PQconsumeInput(conn_.get()) == 0) fail("the replication connection broke");
      continue;
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return std::nullopt;
    int socket = PQsocket(conn_.get());
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(socket, &readable);
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    timeval timeout{static_cast<time_t>(micros / 1'000'000), static_cast<suseconds_t>(micros % 1'000'000)};
    if (::select(socket + 1, &readable, nullptr, nullptr, &timeout) < 0 && errno != EINTR) {
      fail("waiting for the replication stream failed");
    }
    if (PQconsumeInput(conn_.get()) == 0) fail("the replication connection broke");
  }
}

void replication_connection::send_status(pgoutput::lsn written, pgoutput::lsn flushed, bool reply_requested) {
  auto message = pgoutput::encode_standby_status(written, flushed, flushed, pg_now(), reply_requested);
  if (PQputCopyData(conn_.get(), message.data(), static_cast<int>(message.size())) != 1 ||
      PQflush(conn_.get()) != 0) {
    fail("cannot send the standby status");
  }
}

}  // namespace sluice::loader
