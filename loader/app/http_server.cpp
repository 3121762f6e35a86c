#include "loader/app/http_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <stdexcept>

#include "loader/app/metrics.h"
#include "loader/app/status_page.h"

namespace sluice::app {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {

tcp::endpoint parse_endpoint(const std::string& address_port) {
  auto colon = address_port.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--http " + address_port + ": give ADDRESS:PORT");
  std::string host = address_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 65536;
  try {
    port = std::stoul(address_port.substr(colon + 1));
  } catch (const std::exception&) {
    port = 65536;
  }
  // (Port 0: one the kernel picks; the daemon's log says which.)
  if (port > 65535 || address_port.substr(colon + 1).empty()) {
    throw std::runtime_error("--http " + address_port + ": not a port number");
  }
  boost::system::error_code ec;
  auto address = host.empty() ? boost::asio::ip::address(boost::asio::ip::address_v6::any())
                              : boost::asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("--http " + address_port + ": not an IP address: " + host);
  return {address, static_cast<unsigned short>(port)};
}

// One connection: a request read, its answer written, closed.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, std::shared_ptr<const http_server::handler> answer)
      : stream_(std::move(socket)), answer_(std::move(answer)) {}

  void start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) return;
    http_answer a;
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      a = {405, "text/plain; charset=utf-8", "only GET\n"};
    } else {
      std::string path(request_.target());
      path = path.substr(0, path.find('?'));
      a = (*answer_)(path);
    }
    response_.version(request_.version());
    response_.result(a.status);
    response_.set(http::field::server, "sluice");
    response_.set(http::field::content_type, a.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.keep_alive(false);
    response_.body() = std::move(a.body);  // (HEAD too: its headers then say the GET's length)
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::shared_ptr<const http_server::handler> answer_;
};

}  // namespace

http_server::http_server(boost::asio::io_context& io, const std::string& address_port, handler answer)
    : acceptor_(io), answer_(std::make_shared<const handler>(std::move(answer))) {
  auto at = parse_endpoint(address_port);
  boost::system::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("--http " + address_port + ": cannot listen: " + ec.message());
  accept();
}

void http_server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<session>(std::move(socket), answer_)->start();
    accept();
  });
}

void http_server::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

tcp::endpoint http_server::endpoint() const { return acceptor_.local_endpoint(); }

http_answer daemon_answer(const metrics& m, const std::string& path) {
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", m.render()};
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    auto r = m.ready();
    return {r.ready ? 200u : 503u, "text/plain; charset=utf-8", r.reason + "\n"};
  }
  if (path == "/status.json") return {200, "application/json", m.status_json()};
  if (path == "/" || path == "/index.html") return {200, "text/html; charset=utf-8", std::string(status_page())};
  return {404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz, /readyz, /status.json or /\n"};
}

}  // namespace sluice::app
