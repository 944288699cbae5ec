#include "switchboard/http/router.hpp"

#include "switchboard/http/response.hpp"

#include <algorithm>

namespace switchboard::http {

void router::add(verb method, std::string path, handler h, header_check check) {
    routes_[std::move(path)].push_back(route{method, std::move(h), std::move(check)});
}

std::optional<response> router::check_header(const request::header_type& header) const {
    const std::string_view path = path_of(header.target());
    const auto it = routes_.find(std::string(path));
    if (it == routes_.end()) {
        if (prefixes_.empty()) return std::nullopt;
        const prefix_route* p = find_prefix(path);
        return p != nullptr && p->options.check ? p->options.check(header) : std::nullopt;
    }
    if (const route* r = find_route(it->second, header.method()); r != nullptr && r->check) {
        return r->check(header);
    }
    return std::nullopt;
}

const router::route* router::find_route(const std::vector<route>& routes, verb method) {
    for (const auto& r : routes) {
        if (r.method == method) return &r;
    }
    // HEAD is GET without the body (RFC 9110 9.3.2): the listener sends the header only.
    if (method == verb::head) return find_route(routes, verb::get);
    return nullptr;
}

void router::add_prefix(std::string prefix, handler h, prefix_options options) {
    prefixes_.push_back(prefix_route{std::move(prefix), std::move(h), std::move(options)});
}

std::string_view router::path_of(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

const router::prefix_route* router::find_prefix(std::string_view path) const {
    for (const auto& p : prefixes_) {
        if (path.starts_with(p.prefix) &&
            (path.size() == p.prefix.size() || path[p.prefix.size()] == '/')) {
            return &p;
        }
    }
    return nullptr;
}

body_terms router::body_terms_of(const request::header_type& header, std::uint64_t fallback) const {
    if (prefixes_.empty()) return body_terms{fallback, 1};
    const prefix_route* p = find_prefix(path_of(header.target()));
    if (p == nullptr) return body_terms{fallback, 1};
    const std::uint64_t limit = p->options.body_limit.value_or(fallback);
    if (!p->options.body) return body_terms{limit, 1};
    body_terms terms = p->options.body(header);
    terms.limit = std::min(terms.limit, limit);
    terms.copies = std::max(terms.copies, 1u);
    return terms;
}

std::uint64_t router::max_body_limit(std::uint64_t fallback) const {
    std::uint64_t limit = fallback;
    for (const auto& p : prefixes_) {
        if (p.options.body_limit) limit = std::max(limit, *p.options.body_limit);
    }
    return limit;
}

void router::decorate(const request::header_type& header, response& res) const {
    if (prefixes_.empty()) return;
    const prefix_route* p = find_prefix(path_of(header.target()));
    if (p != nullptr && p->options.decorate) p->options.decorate(header, res);
}

boost::asio::awaitable<response> router::dispatch(request& req) const {
    const std::string_view path = path_of(req.target());
    auto it = routes_.find(std::string(path));
    if (it == routes_.end()) {
        if (const prefix_route* p = find_prefix(path)) co_return co_await p->h(req);
        co_return json_error(status::not_found, "no route for " + std::string(path), req.version());
    }
    if (const route* r = find_route(it->second, req.method())) co_return co_await r->h(req);
    std::string allow;
    for (const auto& r : it->second) {
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
