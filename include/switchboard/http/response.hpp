#pragma once
/// Builders for the JSON responses of the service. Every error the service sends has the body
/// {"error": "<what went wrong>"}.

#include "switchboard/http/message.hpp"

#include <string>
#include <string_view>

namespace switchboard::http {

/// A JSON response with `body` (already serialized JSON).
response json_response(status code, std::string body, unsigned version = 11);

/// {"error": message}, JSON-escaped.
response json_error(status code, std::string_view message, unsigned version = 11);

}  // namespace switchboard::http
