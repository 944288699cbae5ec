#pragma once
/// Maps (method, path) to a handler. Built once at start-up, then read-only, so it is shared by
/// every I/O thread without locking. Unknown paths get 404, known paths with another method
/// 405 with an Allow header; both with JSON bodies. HEAD is answered by a path's GET route.
///
/// Exact routes are looked up in a hash map; prefix routes (a whole subtree such as
/// `/functions/v1`, any method) are tried only when no exact route matches, so the webhook
/// routes stay one lookup. A prefix route may carry its own body limit and a hook that adds
/// headers (e.g. CORS) to the listener's own refusals (413, 400) of requests under it.

#include "switchboard/http/message.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::http {

/// What one request's body may be, and what it costs while its handler runs.
struct body_terms {
    std::uint64_t limit = 0;  ///< the largest body; a larger one gets 413
    /// How many times its size the body is held at most while its handler runs (copies made
    /// to forward it, a parsed tree): what the listener counts against its body memory budget.
    unsigned copies = 1;
};

/// Per-subtree settings of a prefix route.
/// Looks at a request's header before its body is read: a response refuses the request there
/// (its body is never read), nullopt lets it through. E.g. an authentication that needs no body.
using header_check = std::function<std::optional<response>(const request::header_type&)>;

struct prefix_options {
    /// Largest request body under the prefix; unset: the listener's max_body_bytes.
    std::optional<std::uint64_t> body_limit;
    /// The terms of one request's body by its header (e.g. by its media type), within
    /// body_limit; unset: body_limit, held once.
    std::function<body_terms(const request::header_type&)> body;
    /// Called on every response the listener itself makes for a request under the prefix
    /// (413, 400, …), with the request header; e.g. to add CORS headers.
    std::function<void(const request::header_type&, response&)> decorate;
    /// Checks the header of every request under the prefix before its body is read.
    header_check check;
};

class router {
  public:
    /// Registers `h` for `method` on the exact path `path` (query strings are ignored), with an
    /// optional check of the header before the body is read.
    void add(verb method, std::string path, handler h, header_check check = {});

    /// Registers `h` for every method on `prefix` itself and every path below it
    /// (`prefix` + "/…"). `prefix` has no trailing slash.
    void add_prefix(std::string prefix, handler h, prefix_options options = {});

    /// Runs the matching handler, or answers 404 / 405.
    boost::asio::awaitable<response> dispatch(request& req) const;

    /// The terms of the body of the request with this header: its prefix route's (`body`,
    /// else its body_limit), else `fallback` bytes held once.
    body_terms body_terms_of(const request::header_type& header, std::uint64_t fallback) const;

    /// The largest body limit of any route (the limit to apply before the path is known).
    std::uint64_t max_body_limit(std::uint64_t fallback) const;

    /// The refusal of the route's header check (the exact route's, else the prefix route's), if
    /// it has one and it refuses.
    std::optional<response> check_header(const request::header_type& header) const;

    /// Applies the prefix route's `decorate` hook, if any, to a response made by the listener.
    void decorate(const request::header_type& header, response& res) const;

    /// The path part of a request target ("/a/b?x=1" → "/a/b").
    static std::string_view path_of(std::string_view target);

  private:
    struct route {
        verb method;
        handler h;
        header_check check;
    };
    struct prefix_route {
        std::string prefix;
        handler h;
        prefix_options options;
    };
    const prefix_route* find_prefix(std::string_view path) const;
    /// The route for `method` among a path's routes (HEAD: GET's unless it has its own).
    static const route* find_route(const std::vector<route>& routes, verb method);

    std::unordered_map<std::string, std::vector<route>> routes_;
    std::vector<prefix_route> prefixes_;
};

}  // namespace switchboard::http
