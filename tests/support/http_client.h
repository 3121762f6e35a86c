// A plain HTTP/1.1 GET for tests of the daemon's endpoint (Boost.Beast,
// blocking), and a free local TCP port for a server a test starts.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace sluice::testing {

struct http_reply {
  unsigned status = 0;  // 0: no answer (refused, reset)
  std::string content_type;
  std::string body;
};

inline http_reply http_get(const std::string& host, unsigned short port, const std::string& target) {
  namespace http = boost::beast::http;
  try {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    boost::asio::ip::tcp::resolver resolver(io);
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, host);
    http::write(stream, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {response.result_int(), std::string(response[http::field::content_type]), response.body()};
  } catch (const std::exception&) {
    return {};
  }
}

// A port nothing listens on now (the kernel's choice; free again when this returns).
inline unsigned short free_tcp_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

}  // namespace sluice::testing
