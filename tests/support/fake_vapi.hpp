#pragma once
/// The fake Vapi REST API (tests/fake-vapi/server.mjs, Node.js) as a child process on a port
/// chosen by the OS, with the calls of its control API: the request log, fault injection, reset
/// and a dump of its state. See tests/fake-vapi/README.md for what it implements.
///
/// Lifetime: the process runs from construction to destruction (SIGTERM, then SIGKILL). Start
/// failures are reported with ADD_FAILURE and leave port() at 0. Not thread-safe.

#include "support/http_client.hpp"

#include <boost/json/value.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace switchboard::test {

class fake_vapi {
  public:
    struct options {
        std::string api_key = "fake-vapi-key";  ///< the bearer key it accepts
        bool deterministic_ids = false;         ///< ids 00000000-0000-4000-8000-<counter>
        std::chrono::seconds start_timeout{30};
    };

    fake_vapi();
    explicit fake_vapi(options opts);
    ~fake_vapi();
    fake_vapi(const fake_vapi&) = delete;
    fake_vapi& operator=(const fake_vapi&) = delete;

    std::uint16_t port() const { return port_; }
    /// "http://127.0.0.1:<port>", the base URL to configure as VAPI_BASE_URL.
    std::string base_url() const;
    const std::string& api_key() const { return api_key_; }

    /// GET /__fake/requests: every API request so far, oldest first, as a JSON array of
    /// {seq, method, path, rawQuery, query, headers, body, multipart?, status, fault?}.
    boost::json::value requests();
    void clear_requests();
    /// POST /__fake/faults with one rule or an array of rules (README.md, "Faults").
    void add_faults(const boost::json::value& rules);
    void clear_faults();
    /// Forgets every object, request and fault; ids restart when deterministic.
    void reset(bool deterministic_ids = false);
    /// GET /__fake/state: {orgId, assistants, workflows, phoneNumbers, files, knowledgeBases}.
    boost::json::value state();

    /// What the process wrote to stdout and stderr.
    std::string log() const;

  private:
    boost::json::value control(const std::string& method, const std::string& target,
                               const std::string& body = {});

    std::string dir_;
    std::string api_key_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace switchboard::test
