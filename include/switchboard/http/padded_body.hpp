#pragma once
/// A Beast request body that keeps `body_padding` readable bytes past the end of the data, so a
/// SIMD JSON parser can read the body in place (simdjson needs SIMDJSON_PADDING = 64 bytes).
/// The storage is a std::string: its capacity is always at least size() + body_padding.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace switchboard::http {

inline constexpr std::size_t body_padding = 64;

struct padded_body {
    using value_type = std::string;

    static std::uint64_t size(const value_type& body) { return body.size(); }

    class reader {
      public:
        template <bool IsRequest, class Fields>
        reader(boost::beast::http::header<IsRequest, Fields>& /*header*/, value_type& body)
            : body_(body) {}

        void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
            ec = {};
            if (length) body_.reserve(static_cast<std::size_t>(*length) + body_padding);
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
            ec = {};
            const std::size_t extra = boost::asio::buffer_size(buffers);
            const std::size_t size = body_.size();
            if (size + extra + body_padding > body_.capacity()) {
                // Chunked bodies arrive without a length: grow geometrically.
                body_.reserve(std::max(size + extra + body_padding, body_.capacity() * 2));
            }
            // Appended, not resized and copied into: resize() would zero the bytes first.
            for (auto it = boost::asio::buffer_sequence_begin(buffers);
                 it != boost::asio::buffer_sequence_end(buffers); ++it) {
                const boost::asio::const_buffer b = *it;
                body_.append(static_cast<const char*>(b.data()), b.size());
            }
            return extra;
        }

        void finish(boost::beast::error_code& ec) {
            ec = {};
            if (body_.capacity() < body_.size() + body_padding)
                body_.reserve(body_.size() + body_padding);
        }

      private:
        value_type& body_;
    };
};

}  // namespace switchboard::http
