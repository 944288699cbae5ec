#pragma once
/// Helpers of the management API's end-to-end tests: Supabase-style access tokens signed here
/// with OpenSSL's HMAC (independent of the service's verifier), and the service started beside
/// the fake Vapi with the management API configured.

#include "support/e2e.hpp"
#include "support/fake_vapi.hpp"
#include "support/http_client.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <string>

namespace switchboard::test {

inline const std::string k_jwt_secret = "super-secret-jwt-token-with-at-least-32-characters";

/// An HS256 token: {"sub", "aud", "role": "authenticated", "iat", "exp": now + ttl_s}.
std::string hs256_token(const std::string& sub, const std::string& secret = k_jwt_secret,
                        const std::string& audience = "authenticated", long long ttl_s = 3600);

/// Signs any claims (already JSON) with HS256 (header {"alg":"HS256","typ":"JWT"}).
std::string hs256_sign(const std::string& claims_json, const std::string& secret);

/// base64url without padding.
std::string base64url(std::string_view data);

/// The service with the management API pointed at a fake Vapi, on a scratch database.
class manage_service {
  public:
    /// `extra` replaces or adds environment entries (after the management defaults).
    /// `database_url`: another database than the scratch one (e.g. a pg_cluster's).
    explicit manage_service(const env_list& extra = {}, bool with_vapi_key = true,
                            const std::string& database_url = {});

    std::uint16_t port() const { return svc_->port(); }
    test_db& db() { return db_; }
    fake_vapi& fake() { return fake_; }
    service_process& process() { return *svc_; }

    /// A request to /functions/v1/<path> with a bearer token (none when empty) and a JSON body.
    http_reply call(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body = {}, header_list headers = {});

  private:
    test_db db_;
    fake_vapi fake_;
    std::unique_ptr<service_process> svc_;
    std::unique_ptr<http_client> client_;
};

/// Parses a reply body (null when it is not JSON).
boost::json::value json_of(const http_reply& r);
/// The reply's `id` field ("" when there is none).
std::string id_of(const http_reply& r);
/// The reply's {"error": …} text ("<none>" when the body has none).
std::string error_of(const http_reply& r);

/// The objects of one kind the fake holds ("assistants", "phoneNumbers", …).
boost::json::array fake_objects(fake_vapi& fake, const std::string& kind);

/// A multipart/form-data body with the given parts ({name, filename (empty: none), type, data}).
struct form_part_spec {
    std::string name, filename, content_type, data;
};
std::string multipart_body(const std::vector<form_part_spec>& parts, const std::string& boundary);

}  // namespace switchboard::test
