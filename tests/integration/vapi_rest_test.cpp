// vapi::rest_client against the fake Vapi (tests/fake-vapi, Node.js) over loopback: the same
// operations as the official SDK must send the same requests (VapiSdkCompare, which needs the
// SDK's log written by the vapi_sdk_log ctest fixture), and retries, timeouts and errors behave
// as the SDK's (VapiRest).
#include "switchboard/http/client.hpp"
#include "switchboard/vapi/rest_client.hpp"

#include "support/fake_vapi.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace switchboard::vapi {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ::testing::HasSubstr;
using reply = rest_client::reply;

json::value parse_json(std::string_view text) {
    return json::parse(text);
}

/// An io_context, an http::client on it, and a way to run one coroutine to completion.
class async_runner {
  public:
    async_runner() : http_(ioc_.get_executor()) {}

    http::client& http() { return http_; }

    template <class T>
    T run(asio::awaitable<T> op) {
        auto fut = asio::co_spawn(ioc_, std::move(op), asio::use_future);
        ioc_.restart();
        ioc_.run();
        return fut.get();
    }

  private:
    asio::io_context ioc_;
    http::client http_;
};

rest_config config_for(const test::fake_vapi& fake) {
    rest_config cfg;
    cfg.base_url = fake.base_url();
    cfg.api_key = fake.api_key();
    cfg.timeout = 5s;
    cfg.retry_base_delay = 20ms;  // backoff-only retries stay fast; Retry-After is still honoured
    return cfg;
}

std::string str(const json::value& v, std::string_view key) {
    if (!v.is_object()) return {};
    const json::value* f = v.as_object().if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string{};
}

std::string media_type(const json::value& headers) {
    std::string ct = str(headers, "content-type");
    return ct.substr(0, ct.find(';'));
}

// --- the official SDK's requests, operation by operation --------------------------------------

struct ids_t {
    std::string assistant, vapi_number, twilio_number, file, kb;
};

struct operation {
    std::string name;
    std::function<asio::awaitable<reply>(rest_client&, ids_t&)> run;
    std::string ids_t::*save_id = nullptr;  ///< where the reply's id goes
};

/// The operations of tests/fake-vapi/sdk-compare.mjs, in its order, with rest_client.
std::vector<operation> operations() {
    std::vector<operation> ops;
    auto add = [&](std::string name, auto fn, std::string ids_t::*save = nullptr) {
        ops.push_back(operation{std::move(name), fn, save});
    };
    add(
        "assistant.create",
        [](rest_client& c, ids_t&) {
            return c.create(std::string(paths::assistant), parse_json(R"j({
                "name": "Front desk",
                "firstMessage": "Hello, how can I help?",
                "model": {"provider": "openai", "model": "gpt-4o",
                          "messages": [{"role": "system",
                                        "content": "You are a receptionist at Café Ørsted."}],
                          "temperature": 0.3},
                "voice": {"provider": "11labs", "voiceId": "burt"},
                "serverMessages": ["end-of-call-report", "status-update"],
                "metadata": {"team": "support", "priority": 2}})j"));
        },
        &ids_t::assistant);
    add("assistant.list", [](rest_client& c, ids_t&) {
        return c.list(std::string(paths::assistant),
                      {{"limit", "10"}, {"createdAtGt", "2020-01-01T00:00:00.000Z"}});
    });
    add("assistant.get", [](rest_client& c, ids_t& ids) {
        return c.get(std::string(paths::assistant), ids.assistant);
    });
    add("assistant.update", [](rest_client& c, ids_t& ids) {
        return c.update(std::string(paths::assistant), ids.assistant,
                        parse_json(R"j({"name": "Front desk (new)", "firstMessage": "Hi!"})j"));
    });
    add(
        "phone.create.vapi",
        [](rest_client& c, ids_t& ids) {
            json::object body{{"provider", "vapi"},
                              {"numberDesiredAreaCode", "415"},
                              {"name", "Main line"},
                              {"assistantId", ids.assistant}};
            return c.create(std::string(paths::phone_number), std::move(body));
        },
        &ids_t::vapi_number);
    add(
        "phone.create.twilio",
        [](rest_client& c, ids_t&) {
            return c.create(std::string(paths::phone_number), parse_json(R"j({
                "provider": "twilio", "number": "+14155550123",
                "twilioAccountSid": "AC0123456789abcdef", "twilioAuthToken": "twilio-token",
                "name": "Twilio line"})j"));
        },
        &ids_t::twilio_number);
    add("phone.create.twilio.invalid", [](rest_client& c, ids_t&) {
        return c.create(std::string(paths::phone_number), parse_json(R"j({"provider": "twilio",
                                       "twilioAccountSid": "AC0123456789abcdef"})j"));
    });
    add("phone.update", [](rest_client& c, ids_t& ids) {
        json::object body{{"name", "Support line"}, {"assistantId", ids.assistant}};
        return c.update(std::string(paths::phone_number), ids.twilio_number, std::move(body));
    });
    add("phone.list", [](rest_client& c, ids_t&) {
        return c.list(std::string(paths::phone_number), {{"limit", "50"}});
    });
    add("phone.list.v2.number", [](rest_client& c, ids_t&) {
        return c.list(std::string(paths::phone_number_v2),
                      {{"search", "+1415"}, {"page", "1"}, {"sortOrder", "DESC"}, {"limit", "1"}});
    });
    add("phone.list.v2.name", [](rest_client& c, ids_t&) {
        return c.list(std::string(paths::phone_number_v2),
                      {{"search", "Main line & co/50% (x)"}, {"page", "2"}});
    });
    add("assistant.delete.in-use", [](rest_client& c, ids_t& ids) {
        return c.remove(std::string(paths::assistant), ids.assistant);
    });
    add("assistant.get.unknown", [](rest_client& c, ids_t&) {
        return c.get(std::string(paths::assistant), "00000000-0000-4000-8000-0000000fffff");
    });
    add("phone.delete.vapi", [](rest_client& c, ids_t& ids) {
        return c.remove(std::string(paths::phone_number), ids.vapi_number);
    });
    add("phone.delete.twilio", [](rest_client& c, ids_t& ids) {
        return c.remove(std::string(paths::phone_number), ids.twilio_number);
    });
    add("assistant.delete", [](rest_client& c, ids_t& ids) {
        return c.remove(std::string(paths::assistant), ids.assistant);
    });
    add(
        "file.create",
        [](rest_client& c, ids_t&) {
            file_upload f;
            f.filename = "opening hours.txt";
            f.content_type = "text/plain";
            f.data = "Opening hours: 9–17 on weekdays.\nClosed on Sundays.\n";
            f.purpose = "knowledge-base-v2";
            f.metadata = json::object{{"source", "switchboard-test"}};
            return c.upload_file(std::move(f));
        },
        &ids_t::file);
    add("file.list", [](rest_client& c, ids_t&) {
        return c.list(std::string(paths::file), {{"purpose", "knowledge-base-v2"}});
    });
    add("file.get",
        [](rest_client& c, ids_t& ids) { return c.get(std::string(paths::file), ids.file); });
    add("file.update", [](rest_client& c, ids_t& ids) {
        return c.update(std::string(paths::file), ids.file, json::object{{"name", "hours.txt"}});
    });
    add(
        "kb.create",
        [](rest_client& c, ids_t&) {
            return c.create(std::string(paths::knowledge_base),
                            parse_json(R"j({"name": "Support KB",
                                           "description": "Opening hours and FAQ"})j"));
        },
        &ids_t::kb);
    add("kb.attach", [](rest_client& c, ids_t& ids) { return c.attach_file(ids.kb, ids.file); });
    add("kb.get", [](rest_client& c, ids_t& ids) {
        return c.get(std::string(paths::knowledge_base), ids.kb);
    });
    add("kb.files", [](rest_client& c, ids_t& ids) {
        return c.call(verb::get, std::string(paths::knowledge_base) + "/" + ids.kb + "/file");
    });
    add("kb.update", [](rest_client& c, ids_t& ids) {
        return c.update(std::string(paths::knowledge_base), ids.kb,
                        parse_json(R"j({"name": "Support KB 2", "description": null})j"));
    });
    add("kb.list", [](rest_client& c, ids_t&) {
        return c.list(std::string(paths::knowledge_base), {{"limit", "5"}});
    });
    add("kb.detach", [](rest_client& c, ids_t& ids) { return c.detach_file(ids.kb, ids.file); });
    add("kb.delete", [](rest_client& c, ids_t& ids) {
        return c.remove(std::string(paths::knowledge_base), ids.kb);
    });
    add("file.delete",
        [](rest_client& c, ids_t& ids) { return c.remove(std::string(paths::file), ids.file); });
    return ops;
}

/// The same request as far as Vapi can tell: method, path, query (raw and parsed), JSON body,
/// multipart parts, the API key and the body's media type; and the fake answered the same.
void expect_same_request(const json::value& sdk, const json::value& ours) {
    EXPECT_EQ(str(ours, "method"), str(sdk, "method"));
    EXPECT_EQ(str(ours, "path"), str(sdk, "path"));
    EXPECT_EQ(str(ours, "rawQuery"), str(sdk, "rawQuery"));
    EXPECT_EQ(ours.at("query"), sdk.at("query")) << "ours " << json::serialize(ours.at("query"))
                                                 << " sdk " << json::serialize(sdk.at("query"));
    EXPECT_EQ(ours.at("body"), sdk.at("body")) << "ours " << json::serialize(ours.at("body"))
                                               << "\nsdk  " << json::serialize(sdk.at("body"));
    EXPECT_EQ(str(ours.at("headers"), "authorization"), str(sdk.at("headers"), "authorization"));
    EXPECT_EQ(media_type(ours.at("headers")), media_type(sdk.at("headers")));
    const json::value* sdk_parts = sdk.as_object().if_contains("multipart");
    const json::value* our_parts = ours.as_object().if_contains("multipart");
    ASSERT_EQ(sdk_parts == nullptr, our_parts == nullptr);
    if (sdk_parts != nullptr) {
        ASSERT_TRUE(sdk_parts->is_array() && our_parts->is_array())
            << "a multipart body did not parse: ours " << json::serialize(*our_parts);
        const auto& a = sdk_parts->as_array();
        const auto& b = our_parts->as_array();
        ASSERT_EQ(b.size(), a.size()) << json::serialize(b);
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(b[i], a[i]) << "part " << i;  // name, filename, contentType, bytes, data
        }
    }
    EXPECT_EQ(ours.at("status"), sdk.at("status"));
}

json::value read_sdk_log() {
    std::ifstream in(SWITCHBOARD_VAPI_SDK_LOG);
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    json::value v = json::parse(ss.str(), ec);
    if (ec) return nullptr;
    return v;
}

TEST(VapiSdkCompare, SendsTheSameRequestsAsTheOfficialSdk) {
    const json::value sdk_log = read_sdk_log();
    ASSERT_TRUE(sdk_log.is_object())
        << "no SDK log at " << SWITCHBOARD_VAPI_SDK_LOG
        << " (written by the ctest fixture vapi_sdk_log: tests/fake-vapi/run-sdk-compare.sh)";
    EXPECT_EQ(str(sdk_log, "version"), "2.0.1");
    const json::array& sdk_ops = sdk_log.at("operations").as_array();

    test::fake_vapi fake(
        {.api_key = str(sdk_log, "apiKey"), .deterministic_ids = true, .start_timeout = 30s});
    ASSERT_NE(fake.port(), 0);
    async_runner runner;
    rest_client client(runner.http(), config_for(fake));

    const std::vector<operation> ops = operations();
    ASSERT_EQ(ops.size(), sdk_ops.size()) << "the operations here and in sdk-compare.mjs differ";
    ids_t ids;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const json::value& sdk_op = sdk_ops[i];
        SCOPED_TRACE("operation " + ops[i].name);
        ASSERT_EQ(str(sdk_op, "name"), ops[i].name);

        fake.clear_requests();
        const reply r = runner.run(ops[i].run(client, ids));
        if (ops[i].save_id != nullptr && r) ids.*ops[i].save_id = str(*r, "id");

        const json::value& outcome = sdk_op.at("outcome");
        EXPECT_EQ(r.has_value(), outcome.at("ok").as_bool())
            << (r ? json::serialize(*r) : r.error().message);
        if (!r && !outcome.at("ok").as_bool()) {
            EXPECT_EQ(json::value(r.error().status), outcome.at("statusCode"));
            EXPECT_EQ(r.error().code, rest_errc::rejected);
        }
        if (r) {
            const json::value& sdk_id = outcome.at("id");
            EXPECT_EQ(json::value(str(*r, "id")), sdk_id.is_null() ? json::value("") : sdk_id);
        }

        const json::value ours = fake.requests();
        const json::array& theirs = sdk_op.at("requests").as_array();
        ASSERT_TRUE(ours.is_array());
        ASSERT_EQ(ours.as_array().size(), theirs.size()) << json::serialize(ours);
        for (std::size_t k = 0; k < theirs.size(); ++k) {
            expect_same_request(theirs[k], ours.as_array()[k]);
        }
    }
}

// --- retries, timeouts and errors -------------------------------------------------------------

class VapiRest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_NE(fake_.port(), 0); }

    /// The statuses the fake answered, in order.
    std::vector<std::int64_t> statuses() {
        std::vector<std::int64_t> out;
        const json::value log = fake_.requests();
        if (!log.is_array()) return out;
        for (const json::value& e : log.as_array())
            out.push_back(e.at("status").to_number<std::int64_t>());
        return out;
    }

    reply list_assistants(const rest_config& cfg) {
        rest_client client(runner_.http(), cfg);
        return runner_.run(client.list(std::string(paths::assistant)));
    }

    test::fake_vapi fake_;
    async_runner runner_;
};

TEST_F(VapiRest, HonoursRetryAfterOn429) {
    fake_.add_faults(parse_json(R"j({"method": "GET", "path": "^/assistant$", "status": 429,
                                    "retryAfter": 1})j"));
    const auto start = steady::now();
    const reply r = list_assistants(config_for(fake_));
    const auto elapsed = steady::now() - start;
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->is_array());
    EXPECT_GE(elapsed, 1000ms);  // Retry-After: 1, not the 20 ms backoff
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{429, 200}));
}

TEST_F(VapiRest, HonoursXRateLimitReset) {
    // X-RateLimit-Reset is epoch seconds at least one second ahead.
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "status": 429,
                                    "rateLimitResetIn": 1})j"));
    const auto start = steady::now();
    const reply r = list_assistants(config_for(fake_));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_GE(steady::now() - start, 900ms);
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{429, 200}));
}

TEST_F(VapiRest, RetriesA500ThenSucceeds) {
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "status": 500})j"));
    const reply r = list_assistants(config_for(fake_));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{500, 200}));
}

TEST_F(VapiRest, GivesUpAfterThreeAttempts) {
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "status": 503, "times": 3,
                                    "message": "database is on fire"})j"));
    const reply r = list_assistants(config_for(fake_));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::server_error);
    EXPECT_EQ(r.error().status, 503u);
    EXPECT_THAT(r.error().message, HasSubstr("3 attempts"));
    EXPECT_THAT(r.error().message, HasSubstr("database is on fire"));
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{503, 503, 503}));
}

TEST_F(VapiRest, ACreateIsNotSentAgainAfterA5xx) {
    // Vapi or a gateway may have created the object before failing: a second POST would make a
    // second one.
    fake_.add_faults(parse_json(R"j({"method": "POST", "path": "^/workflow$", "status": 502})j"));
    rest_client client(runner_.http(), config_for(fake_));
    const reply r = runner_.run(client.create(
        std::string(paths::workflow), parse_json(R"j({"name": "w", "nodes": [], "edges": []})j")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::server_error);
    EXPECT_THAT(r.error().message, HasSubstr("after 1 attempt"));
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{502}));
}

TEST_F(VapiRest, ACreateIsSentAgainAfterA429) {
    // 429 says nothing was done.
    fake_.add_faults(parse_json(R"j({"method": "POST", "path": "^/workflow$", "status": 429})j"));
    rest_client client(runner_.http(), config_for(fake_));
    const reply r = runner_.run(client.create(
        std::string(paths::workflow), parse_json(R"j({"name": "w", "nodes": [], "edges": []})j")));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{429, 201}));
}

TEST_F(VapiRest, QuotesAPlainTextErrorPage) {
    // A proxy in front of Vapi answers in plain text.
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "status": 502, "times": 3,
                                      "malformed": "upstream connect error"})j"));
    const reply r = list_assistants(config_for(fake_));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::server_error);
    EXPECT_EQ(r.error().message, "Vapi failed (502) after 3 attempts: upstream connect error");
}

TEST_F(VapiRest, MaxRetriesZeroSendsOnce) {
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "status": 500, "times": 3})j"));
    rest_config cfg = config_for(fake_);
    cfg.max_retries = 0;
    const reply r = list_assistants(cfg);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::server_error);
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{500}));
}

TEST_F(VapiRest, ValidationErrorIsRejectedWithVapisMessage) {
    rest_client client(runner_.http(), config_for(fake_));
    const reply r = runner_.run(
        client.create(std::string(paths::workflow), parse_json(R"j({"name": "No nodes"})j")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::rejected);
    EXPECT_EQ(r.error().status, 400u);
    EXPECT_EQ(r.error().message,
              "Vapi refused the request (400): nodes must be an array; edges must be an array");
    EXPECT_EQ(statuses(), (std::vector<std::int64_t>{400}));  // not retried
}

TEST_F(VapiRest, NotFoundAndConflictAreRejected) {
    rest_client client(runner_.http(), config_for(fake_));
    const reply missing = runner_.run(
        client.get(std::string(paths::assistant), "00000000-0000-4000-8000-00000000dead"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, rest_errc::rejected);
    EXPECT_EQ(missing.error().status, 404u);
    EXPECT_EQ(missing.error().message, "Vapi refused the request (404): Assistant not found");

    const reply assistant =
        runner_.run(client.create(std::string(paths::assistant), json::object{{"name", "A"}}));
    ASSERT_TRUE(assistant) << assistant.error().message;
    const std::string id = str(*assistant, "id");
    const reply number = runner_.run(client.create(
        std::string(paths::phone_number), json::object{{"provider", "vapi"}, {"assistantId", id}}));
    ASSERT_TRUE(number) << number.error().message;
    EXPECT_EQ(str(*number, "status"), "active");
    EXPECT_THAT(str(*number, "number"), ::testing::StartsWith("+1"));

    const reply in_use = runner_.run(client.remove(std::string(paths::assistant), id));
    ASSERT_FALSE(in_use);
    EXPECT_EQ(in_use.error().status, 409u);
    EXPECT_THAT(in_use.error().message, HasSubstr("in use"));

    // DELETE answers with the deleted object.
    const reply gone =
        runner_.run(client.remove(std::string(paths::phone_number), str(*number, "id")));
    ASSERT_TRUE(gone) << gone.error().message;
    EXPECT_EQ(str(*gone, "id"), str(*number, "id"));
    const reply removed = runner_.run(client.remove(std::string(paths::assistant), id));
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(str(*removed, "name"), "A");
}

TEST_F(VapiRest, WrongApiKeyIsRejected) {
    rest_config cfg = config_for(fake_);
    cfg.api_key = "not-the-key";
    const reply r = list_assistants(cfg);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::rejected);
    EXPECT_EQ(r.error().status, 401u);
    EXPECT_THAT(r.error().message, HasSubstr("Invalid Key"));
    const json::value log = fake_.requests();
    ASSERT_EQ(log.as_array().size(), 1u);
    EXPECT_EQ(str(log.as_array()[0].at("headers"), "authorization"), "Bearer not-the-key");
}

TEST_F(VapiRest, TimeoutIsNotRetried) {
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "delayMs": 3000})j"));
    rest_config cfg = config_for(fake_);
    cfg.timeout = 300ms;
    const auto start = steady::now();
    const reply r = list_assistants(cfg);
    const auto elapsed = steady::now() - start;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::timeout);
    EXPECT_THAT(r.error().message, HasSubstr("300 ms"));
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 2500ms);
    EXPECT_EQ(fake_.requests().as_array().size(), 1u);
}

TEST_F(VapiRest, NonJsonSuccessIsMalformed) {
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "malformed": true})j"));
    const reply r = list_assistants(config_for(fake_));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::malformed_reply);
    EXPECT_EQ(r.error().status, 200u);
}

TEST_F(VapiRest, ClosedConnectionIsUnreachable) {
    fake_.add_faults(parse_json(R"j({"path": "^/assistant$", "close": true, "times": 2})j"));
    const reply r = list_assistants(config_for(fake_));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::unreachable);
}

TEST_F(VapiRest, RefusedConnectionIsUnreachable) {
    // A port that was just free: nothing listens there.
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    acceptor.close();
    rest_config cfg = config_for(fake_);
    cfg.base_url = "http://127.0.0.1:" + std::to_string(port);
    const reply r = list_assistants(cfg);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::unreachable);
    EXPECT_THAT(r.error().message, HasSubstr("unreachable"));
}

TEST_F(VapiRest, NotConfiguredSendsNothing) {
    rest_config cfg = config_for(fake_);
    cfg.api_key.clear();
    rest_client client(runner_.http(), cfg);
    EXPECT_FALSE(client.configured());
    const reply r = runner_.run(client.list(std::string(paths::assistant)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, rest_errc::not_configured);
    file_upload f;
    f.filename = "a.txt";
    const reply u = runner_.run(client.upload_file(std::move(f)));
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, rest_errc::not_configured);
    EXPECT_TRUE(fake_.requests().as_array().empty());
}

TEST_F(VapiRest, BaseUrlPathPrefixIsKept) {
    rest_config cfg = config_for(fake_);
    cfg.base_url = fake_.base_url() + "/proxy/vapi/";
    const reply r = list_assistants(cfg);
    ASSERT_FALSE(r);  // the fake serves no prefix
    EXPECT_EQ(r.error().status, 404u);
    const json::value log = fake_.requests();
    ASSERT_EQ(log.as_array().size(), 1u);
    EXPECT_EQ(str(log.as_array()[0], "path"), "/proxy/vapi/assistant");
}

TEST_F(VapiRest, UploadsBinaryFileContent) {
    rest_client client(runner_.http(), config_for(fake_));
    file_upload f;
    f.filename = "odd \"name\".bin";
    f.data = std::string("line one\r\n--boundary-lookalike\r\n\0\x01 end", 35);
    const reply r = runner_.run(client.upload_file(f));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->at("bytes").to_number<std::int64_t>(), 35);
    EXPECT_EQ(str(*r, "name"), "odd \"name\".bin");
    EXPECT_EQ(str(*r, "mimetype"), "application/octet-stream");
    EXPECT_FALSE(r->as_object().contains("purpose"));
    const json::value log = fake_.requests();
    const json::value& parts = log.as_array()[0].at("multipart");
    ASSERT_EQ(parts.as_array().size(), 1u);
    EXPECT_EQ(str(parts.as_array()[0], "data"), f.data);
}

// A backslash ends no quoted filename early (a parser that reads quoted-string escapes would
// take `"a\"` for an unended value), and control bytes are not sent raw.
TEST_F(VapiRest, FilenamesWithBackslashesAndControlBytesArriveIntact) {
    rest_client client(runner_.http(), config_for(fake_));
    for (const std::string& name : {std::string("ends in a backslash\\"),
                                    std::string("tab\there \\\"both\\\" \x01\x7f.txt")}) {
        SCOPED_TRACE(name);
        file_upload f;
        f.filename = name;
        f.data = "x";
        const reply r = runner_.run(client.upload_file(f));
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(str(*r, "name"), name);
    }
}

TEST_F(VapiRest, EncodesQueryAndPathLikeTheSdk) {
    EXPECT_EQ(encode_uri_component("a b&c=d/e?f+g%h"), "a%20b%26c%3Dd%2Fe%3Ff%2Bg%25h");
    EXPECT_EQ(encode_uri_component("-_.!~*'()AZaz09"), "-_.!~*'()AZaz09");
    EXPECT_EQ(encode_uri_component("Ø"), "%C3%98");

    rest_client client(runner_.http(), config_for(fake_));
    const reply r = runner_.run(client.get(std::string(paths::assistant), "a/b c"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status, 404u);
    const json::value log = fake_.requests();
    // One path segment: the slash and the space are encoded, as the SDK encodes path params.
    EXPECT_EQ(str(log.as_array()[0], "path"), "/assistant/a%2Fb%20c");
}

TEST(VapiRestErrc, Names) {
    EXPECT_EQ(to_string(rest_errc::not_configured), "not_configured");
    EXPECT_EQ(to_string(rest_errc::malformed_reply), "malformed_reply");
}

}  // namespace
}  // namespace switchboard::vapi
