#pragma once
/// Maps (method, path) to a handler. Built once at start-up, then read-only, so it is shared by
/// every I/O thread without locking. Unknown paths get 404, known paths with another method
/// 405 with an Allow header; both with JSON bodies.

#include "switchboard/http/message.hpp"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::http {

class router {
  public:
    /// Registers `h` for `method` on the exact path `path` (query strings are ignored).
    void add(verb method, std::string path, handler h);

    /// Runs the matching handler, or answers 404 / 405.
    boost::asio::awaitable<response> dispatch(request& req) const;

    /// The path part of a request target ("/a/b?x=1" → "/a/b").
    static std::string_view path_of(std::string_view target);

  private:
    struct route {
        verb method;
        handler h;
    };
    std::unordered_map<std::string, std::vector<route>> routes_;
};

}  // namespace switchboard::http
