#pragma once
/// A small blocking HTTP/1.1 client for tests (Beast, keep-alive, reconnects when the server
/// closed the connection).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::test {

struct http_reply {
    unsigned status = 0;  ///< 0 when the request could not be sent or no answer came
    std::string body;
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string error;                           ///< transport error, if any
    bool keep_alive = false;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

class http_client {
  public:
    http_client(std::string host, std::uint16_t port,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~http_client();
    http_client(http_client&&) noexcept;

    http_reply request(const std::string& method, const std::string& target,
                       const std::string& body = {}, const header_list& headers = {});
    http_reply post(const std::string& target, const std::string& body,
                    const header_list& headers = {}) {
        return request("POST", target, body, headers);
    }
    http_reply get(const std::string& target) { return request("GET", target); }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::test
