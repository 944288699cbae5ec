#pragma once
/// The request and response types every handler sees, and the handler signature.

#include "switchboard/http/padded_body.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>

namespace switchboard::http {

namespace beast_http = boost::beast::http;

using request = beast_http::request<padded_body>;
using response = beast_http::response<beast_http::string_body>;
using status = beast_http::status;
using verb = beast_http::verb;

/// A route handler. It runs on the connection's strand and may suspend (e.g. to wait for a
/// database commit). It may take the request body by moving it out.
using handler = std::function<boost::asio::awaitable<response>(request&)>;

}  // namespace switchboard::http
