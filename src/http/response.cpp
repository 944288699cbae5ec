#include "switchboard/http/response.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace switchboard::http {

response json_response(status code, std::string body, unsigned version) {
    response res{code, version};
    res.set(beast_http::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response json_error(status code, std::string_view message, unsigned version) {
    boost::json::object o;
    o["error"] = message;
    return json_response(code, boost::json::serialize(o), version);
}

}  // namespace switchboard::http
