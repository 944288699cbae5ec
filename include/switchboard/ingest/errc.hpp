#pragma once
/// Why a webhook was not accepted. The one mapping to HTTP statuses is `http_status` below.

#include <boost/system/error_code.hpp>

namespace switchboard::ingest {

enum class errc {
    unauthenticated = 1,  ///< no configured scheme accepted the request
    malformed_json,       ///< the body is not valid JSON
    invalid_envelope,     ///< not {"message": {...}}
    missing_type,         ///< message.type missing and not a recognisable tool-calls message
    invalid_field,        ///< a field has the wrong JSON type (e.g. message.type is a number)
    queue_full,           ///< admission refused: too many uncommitted events
    commit_timeout,       ///< the commit did not happen within the ack timeout
    store_rejected,       ///< Postgres refused the data itself (it can never be stored)
};

const boost::system::error_category& ingest_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), ingest_category()};
}

/// The HTTP status a webhook sender gets for each error.
unsigned http_status(errc e) noexcept;

}  // namespace switchboard::ingest

template <>
struct boost::system::is_error_code_enum<switchboard::ingest::errc> : std::true_type {};
