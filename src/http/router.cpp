#include "switchboard/http/router.hpp"

#include "switchboard/http/response.hpp"

namespace switchboard::http {

void router::add(verb method, std::string path, handler h) {
    routes_[std::move(path)].push_back(route{method, std::move(h)});
}

std::string_view router::path_of(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

boost::asio::awaitable<response> router::dispatch(request& req) const {
    const std::string_view path = path_of(req.target());
    auto it = routes_.find(std::string(path));
    if (it == routes_.end()) {
        co_return json_error(status::not_found, "no route for " + std::string(path), req.version());
    }
    std::string allow;
    for (const auto& r : it->second) {
        if (r.method == req.method()) co_return co_await r.h(req);
        if (!allow.empty()) allow += ", ";
        allow += std::string(beast_http::to_string(r.method));
    }
    response res = json_error(status::method_not_allowed,
                              std::string(req.method_string()) + " is not allowed on " +
                                  std::string(path) + " (allowed: " + allow + ")",
                              req.version());
    res.set(beast_http::field::allow, allow);
    co_return res;
}

}  // namespace switchboard::http
