#pragma once
/// The management API (docs/management-api.md): `/functions/v1/<fn>[/<id>[/<sub>[/<subId>]]]`,
/// the replacement of the original Supabase Edge Functions, for assistants, workflows,
/// phone-numbers, files, knowledge-bases and calls.
///
/// Threads: the route registered on the router runs on the I/O threads and only answers CORS
/// preflights, counts the request in flight and hands it to the management pool (its own
/// threads, Postgres connections and Vapi client), so a slow Vapi or a slow query never delays
/// webhook ingestion. Lifetime: built after the migrations, `stop()` after the listener stopped
/// and before the object is destroyed.

#include "switchboard/config/config.hpp"
#include "switchboard/http/router.hpp"
#include "switchboard/metrics/registry.hpp"

#include <memory>

namespace switchboard::manage {

class api {
  public:
    /// `cfg` must outlive the object. Throws when the JWT configuration is unusable.
    api(const config::service_config& cfg, metrics::registry& reg);
    ~api();
    api(const api&) = delete;
    api& operator=(const api&) = delete;

    /// Registers the `/functions/v1` prefix route (with its upload body limit and CORS on the
    /// listener's own refusals).
    void register_routes(http::router& routes);

    /// Stops the reconciler and joins the management threads (requests in progress finish).
    void stop();

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::manage
