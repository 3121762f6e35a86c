#include "warehouse/connection.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "warehouse/log.h"

namespace sluice::warehouse {

namespace {

constexpr std::size_t copy_chunk_bytes = 1 << 20;

std::string describe_target(PGconn* conn) {
  std::string out;
  auto add = [&](const char* key, const char* value) {
    if (value == nullptr || *value == '\0') return;
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    out += value;
  };
  add("host", PQhost(conn));
  add("port", PQport(conn));
  add("dbname", PQdb(conn));
  add("user", PQuser(conn));
  return out;
}

// libpq messages end with a newline; ours go into one-line logs.
std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

result::result(pg_result* owned) noexcept : handle_(owned) {}

void result::clear_result::operator()(pg_result* r) const noexcept { PQclear(r); }

int result::rows() const noexcept { return handle_ ? PQntuples(handle_.get()) : 0; }

int result::columns() const noexcept { return handle_ ? PQnfields(handle_.get()) : 0; }

bool result::is_null(int row, int column) const noexcept {
  return PQgetisnull(handle_.get(), row, column) != 0;
}

std::string_view result::text(int row, int column) const noexcept {
  return {PQgetvalue(handle_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(handle_.get(), row, column))};
}

std::int64_t result::int64(int row, int column) const {
  auto value = text(row, column);
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw db_error(error_kind::internal, "",
                   "expected an integer in result column " + std::to_string(column) +
                       ", got '" + std::string(value) + "'");
  }
  return out;
}

std::optional<std::string> result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return std::string(text(row, column));
}

void connection::finish_conn::operator()(pg_conn* c) const noexcept { PQfinish(c); }

void connection::free_cancel::operator()(pg_cancel* c) const noexcept { PQfreeCancel(c); }

void connection::request_cancel() const noexcept {
  std::lock_guard lock(*cancel_mutex_);
  if (!cancel_) return;
  char error[256];
  (void)PQcancel(cancel_.get(), error, sizeof error);
}

connection::connection(const std::string& dsn) {
  // client_encoding after dbname overrides the DSN's: every byte sluice sends
  // is UTF-8, whatever the database's encoding (the server converts, or refuses
  // a character the database cannot hold, which makes that record a reject).
  const char* keys[] = {"dbname", "fallback_application_name", "client_encoding", nullptr};
  const char* values[] = {dsn.c_str(), application_name().c_str(), "UTF8", nullptr};
  handle_.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!handle_) throw db_error(error_kind::connection, "", "out of memory connecting to PostgreSQL");
  if (PQstatus(handle_.get()) != CONNECTION_OK) {
    std::string shown = dsn.empty() ? "(PG* environment variables)" : describe_target(handle_.get());
    throw db_error(error_kind::connection, "08000",
                   "cannot connect to PostgreSQL at " + shown + ": " +
                       trimmed(PQerrorMessage(handle_.get())) +
                       " (set --dsn, SLUICE_DSN or PGHOST/PGPORT/PGDATABASE/PGUSER)");
  }
  target_ = describe_target(handle_.get());
  cancel_.reset(PQgetCancel(handle_.get()));
  // Quiet NOTICEs (e.g. "schema already exists") that would otherwise go to
  // stderr; those sluice's own SQL raises for a person ("sluice: ...", e.g.
  // a role migrate could not make) are logged as warnings.
  PQsetNoticeProcessor(
      handle_.get(),
      [](void*, const char* message) {
        std::string_view text(message);
        constexpr std::string_view ours = ":  sluice: ";  // after "NOTICE" or "WARNING"
        auto at = text.find(ours);
        if (at == std::string_view::npos) return;
        text.remove_prefix(at + ours.size());
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
        logger()->warn("{}", text);
      },
      nullptr);
}

connection::~connection() = default;
connection::connection(connection&& other) noexcept
    : handle_(std::move(other.handle_)), target_(std::move(other.target_)) {
  std::lock_guard lock(*other.cancel_mutex_);
  cancel_ = std::move(other.cancel_);
}

connection& connection::operator=(connection&& other) noexcept {
  if (this == &other) return *this;
  std::unique_ptr<pg_cancel, free_cancel> incoming;
  {
    std::lock_guard lock(*other.cancel_mutex_);
    incoming = std::move(other.cancel_);
  }
  {
    std::lock_guard lock(*cancel_mutex_);
    cancel_ = std::move(incoming);  // the old key is freed here, under the lock
  }
  handle_ = std::move(other.handle_);
  target_ = std::move(other.target_);
  return *this;
}

bool connection::is_open() const noexcept {
  return handle_ && PQstatus(handle_.get()) == CONNECTION_OK;
}

bool connection::in_transaction() const noexcept {
  if (!handle_) return false;
  auto status = PQtransactionStatus(handle_.get());
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

bool connection::has_pending_input() const noexcept {
  if (!handle_) return false;
  pollfd readable{PQsocket(handle_.get()), POLLIN, 0};
  return ::poll(&readable, 1, 0) > 0;
}

void connection::raise(std::string_view what, pg_result* failed) const {
  std::string sqlstate;
  std::string message;
  std::string primary;
  if (failed != nullptr) {
    const char* state = PQresultErrorField(failed, PG_DIAG_SQLSTATE);
    if (state != nullptr) sqlstate = state;
    message = trimmed(PQresultErrorMessage(failed));
    const char* text = PQresultErrorField(failed, PG_DIAG_MESSAGE_PRIMARY);
    if (text != nullptr) primary = text;
    if (const char* detail = PQresultErrorField(failed, PG_DIAG_MESSAGE_DETAIL)) {
      primary += std::string(" (") + detail + ")";
    }
  }
  if (message.empty()) message = trimmed(PQerrorMessage(handle_.get()));
  error_kind kind = classify_sqlstate(sqlstate);
  if (!is_open()) kind = error_kind::connection;
  throw db_error(kind, sqlstate, std::string(what) + ": " + message, primary);
}

result connection::check(pg_result* r, std::string_view what) {
  result owned(r);
  if (r == nullptr) raise(what);
  auto status = PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN ||
      status == PGRES_COPY_OUT) {
    return owned;
  }
  raise(what, r);
}

result connection::exec(std::string_view sql) {
  std::string statement(sql);
  return check(PQexec(handle_.get(), statement.c_str()), "query failed");
}

result connection::exec_params(std::string_view sql, std::span<const param> params) {
  std::string statement(sql);
  std::vector<std::string> storage;
  storage.reserve(params.size());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    if (p) {
      storage.emplace_back(*p);
      values.push_back(storage.back().c_str());
    } else {
      values.push_back(nullptr);
    }
  }
  return check(PQexecParams(handle_.get(), statement.c_str(), static_cast<int>(values.size()),
                            nullptr, values.data(), nullptr, nullptr, 0),
               "query failed");
}

void connection::copy_begin(std::string_view copy_statement) {
  std::string statement(copy_statement);
  auto r = check(PQexec(handle_.get(), statement.c_str()), "COPY failed to start");
}

void connection::copy_write(std::span<const char> bytes) {
  while (!bytes.empty()) {
    auto n = std::min(bytes.size(), copy_chunk_bytes);
    if (PQputCopyData(handle_.get(), bytes.data(), static_cast<int>(n)) != 1) {
      raise("COPY data could not be sent");
    }
    bytes = bytes.subspan(n);
  }
}

void connection::copy_end() {
  if (PQputCopyEnd(handle_.get(), nullptr) != 1) raise("COPY could not be finished");
  // The COPY's own outcome, then drain anything after it.
  pg_result* first = PQgetResult(handle_.get());
  result owned(first);
  if (first == nullptr || PQresultStatus(first) != PGRES_COMMAND_OK) {
    while (pg_result* extra = PQgetResult(handle_.get())) PQclear(extra);
    raise("COPY failed", first);
  }
  while (pg_result* extra = PQgetResult(handle_.get())) PQclear(extra);
}

void connection::copy_out_begin(std::string_view copy_statement) {
  std::string statement(copy_statement);
  auto r = check(PQexec(handle_.get(), statement.c_str()), "COPY TO failed to start");
}

bool connection::copy_read(std::string& chunk) {
  char* buffer = nullptr;
  int n = PQgetCopyData(handle_.get(), &buffer, /*async=*/0);
  if (n > 0) {
    chunk.assign(buffer, static_cast<std::size_t>(n));
    PQfreemem(buffer);
    return true;
  }
  if (n == -2) raise("COPY TO failed");
  pg_result* last = PQgetResult(handle_.get());
  result owned(last);
  if (last == nullptr || PQresultStatus(last) != PGRES_COMMAND_OK) {
    while (pg_result* extra = PQgetResult(handle_.get())) PQclear(extra);
    raise("COPY TO failed", last);
  }
  while (pg_result* extra = PQgetResult(handle_.get())) PQclear(extra);
  return false;
}

void connection::copy_abort(std::string_view reason) noexcept {
  std::string text(reason);
  if (PQputCopyEnd(handle_.get(), text.c_str()) == 1) {
    while (pg_result* extra = PQgetResult(handle_.get())) PQclear(extra);
  }
}

void connection::set_password(std::string_view role, std::string_view password) {
  std::string user(role), secret(password);
  char* verifier = PQencryptPasswordConn(handle_.get(), secret.c_str(), user.c_str(), "scram-sha-256");
  if (verifier == nullptr) raise("cannot compute the password verifier for role " + user);
  std::string literal(verifier);
  PQfreemem(verifier);
  char* quoted = PQescapeLiteral(handle_.get(), literal.data(), literal.size());
  if (quoted == nullptr) raise("cannot quote the password verifier for role " + user);
  std::string statement = "alter role " + quote_qualified(user) + " password " + quoted;
  PQfreemem(quoted);
  exec(statement);
}

std::string connection::quote_qualified(std::string_view qualified_name) const {
  std::string out;
  std::size_t start = 0;
  while (true) {
    auto dot = qualified_name.find('.', start);
    auto part = qualified_name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    char* quoted = PQescapeIdentifier(handle_.get(), part.data(), part.size());
    if (quoted == nullptr) raise("cannot quote identifier '" + std::string(part) + "'");
    if (!out.empty()) out += '.';
    out += quoted;
    PQfreemem(quoted);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

transaction::transaction(connection& conn, std::string_view begin_statement) : conn_(conn) {
  conn_.exec(begin_statement);
}

transaction::~transaction() {
  if (!open_ || !conn_.is_open()) return;
  try {
    conn_.exec("rollback");
  } catch (...) {
    // The server drops an aborted transaction with the session anyway.
  }
}

void transaction::commit() {
  open_ = false;
  conn_.exec("commit");
}

void transaction::rollback() {
  open_ = false;
  conn_.exec("rollback");
}

bool conninfo_holds_password(const std::string& conninfo) {
  char* problem = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &problem);
  if (options == nullptr) {
    PQfreemem(problem);
    return false;
  }
  bool holds = false;
  for (auto* option = options; option->keyword != nullptr; ++option) {
    std::string_view keyword = option->keyword;
    if ((keyword == "password" || keyword == "sslpassword") && option->val != nullptr && *option->val != '\0') {
      holds = true;
    }
  }
  PQconninfoFree(options);
  return holds;
}

const process_label& this_process() {
  static const process_label self = [] {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    // (Cut so that "sluice PID@HOST" fits application_name's 63 bytes.)
    return process_label{static_cast<int>(::getpid()), std::string(host).substr(0, 40)};
  }();
  return self;
}

const std::string& application_name() {
  // application_name holds 63 bytes.
  static const std::string name =
      ("sluice " + std::to_string(this_process().pid) + "@" + this_process().host).substr(0, 63);
  return name;
}

std::string text_array(std::span<const std::string> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string resolve_dsn(const std::optional<std::string>& flag) {
  if (flag) return *flag;
  if (const char* env = std::getenv("SLUICE_DSN"); env != nullptr) return env;
  return "";
}

}  // namespace sluice::warehouse
