#include "switchboard/ingest/errc.hpp"

#include <string>

namespace switchboard::ingest {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "switchboard.ingest"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::unauthenticated:
                return "webhook authentication failed";
            case errc::malformed_json:
                return "body is not valid JSON";
            case errc::invalid_envelope:
                return "body must be a JSON object {\"message\": {...}}";
            case errc::missing_type:
                return "message.type is missing";
            case errc::invalid_field:
                return "a message field has the wrong type";
            case errc::queue_full:
                return "ingest queue is full";
            case errc::commit_timeout:
                return "the event was not committed in time";
            case errc::store_rejected:
                return "the database refused the event";
        }
        return "unknown ingest error";
    }
};

}  // namespace

const boost::system::error_category& ingest_category() noexcept {
    static const category instance;
    return instance;
}

unsigned http_status(errc e) noexcept {
    switch (e) {
        case errc::unauthenticated:
            return 401;
        case errc::malformed_json:
        case errc::invalid_envelope:
        case errc::missing_type:
        case errc::invalid_field:
            return 400;
        case errc::store_rejected:
            return 422;
        case errc::queue_full:
        case errc::commit_timeout:
            return 503;
    }
    return 500;
}

}  // namespace switchboard::ingest
