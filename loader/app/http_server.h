// The daemon's HTTP endpoint (--http ADDRESS:PORT), Boost.Beast on the
// daemon's io_context: GET /metrics, /healthz, /readyz, /status.json and / (a
// page for a person). Each answer is made from memory (metrics.h), so that a
// scrape never waits on the warehouse; one request per connection, 10 s to
// send it.
//
// Threading: the io_context's thread. Errors: a bad address or a port in use
// throws std::runtime_error from the constructor.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>

namespace sluice::app {

struct http_answer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class http_server {
 public:
  // Answers a GET of a path ("/metrics"; the query is cut off).
  using handler = std::function<http_answer(const std::string& path)>;

  // Listens on `address_port` ("127.0.0.1:9187", "[::1]:9187", ":9187" for
  // every address).
  http_server(boost::asio::io_context& io, const std::string& address_port, handler answer);
  // Stops accepting (connections in flight finish).
  void close();
  [[nodiscard]] boost::asio::ip::tcp::endpoint endpoint() const;

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<const handler> answer_;  // shared with the connections in flight
};

// The endpoints' answers for a daemon's metrics (GET only).
class metrics;
[[nodiscard]] http_answer daemon_answer(const metrics& m, const std::string& path);

}  // namespace sluice::app
