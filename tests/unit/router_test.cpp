#include "switchboard/http/router.hpp"
#include "switchboard/http/response.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

namespace switchboard::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace bhttp = boost::beast::http;

/// Runs router.dispatch(req) to completion on a private io_context.
response run(const router& r, request& req) {
    boost::asio::io_context ioc;
    std::optional<response> out;
    std::exception_ptr error;
    boost::asio::co_spawn(ioc, r.dispatch(req), [&](std::exception_ptr e, response res) {
        error = e;
        out = std::move(res);
    });
    ioc.run();
    if (error) std::rethrow_exception(error);
    if (!out) throw std::logic_error("dispatch did not complete");
    return std::move(*out);
}

response run(const router& r, verb method, std::string target, std::string body = {},
             unsigned version = 11) {
    request req{method, target, version};
    req.body() = std::move(body);
    return run(r, req);
}

boost::asio::awaitable<response> post_webhook(request& req) {
    // Echoes the body, to show the handler sees the request.
    co_return json_response(status::ok, R"({"route":"post-webhook","body":)" + req.body() + "}");
}

boost::asio::awaitable<response> get_webhook(request&) {
    co_return json_response(status::ok, R"({"route":"get-webhook"})");
}

boost::asio::awaitable<response> healthz(request&) {
    co_return json_response(status::ok, R"({"route":"healthz"})");
}

boost::asio::awaitable<response> slow(request& req) {
    // Suspends on a timer before answering, as a handler waiting for a commit does.
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    std::chrono::milliseconds(5));
    co_await timer.async_wait(boost::asio::use_awaitable);
    co_return json_response(status::accepted,
                            R"({"route":"slow","target":")" + std::string(req.target()) + "\"}");
}

router make_router() {
    router r;
    r.add(verb::post, "/vapi/webhook", post_webhook);
    r.add(verb::get, "/vapi/webhook", get_webhook);
    r.add(verb::get, "/healthz", healthz);
    r.add(verb::post, "/slow", slow);
    return r;
}

std::string route_of(const response& res) {
    return std::string(boost::json::parse(res.body()).as_object().at("route").as_string());
}

std::string error_of(const response& res) {
    return std::string(boost::json::parse(res.body()).as_object().at("error").as_string());
}

TEST(Router, ExactMatchPerMethod) {
    const auto r = make_router();
    const auto post = run(r, verb::post, "/vapi/webhook", R"({"message":{}})");
    EXPECT_EQ(post.result(), status::ok);
    EXPECT_EQ(route_of(post), "post-webhook");
    EXPECT_EQ(boost::json::parse(post.body()).as_object().at("body"),
              boost::json::parse(R"({"message":{}})"));

    const auto get = run(r, verb::get, "/vapi/webhook");
    EXPECT_EQ(route_of(get), "get-webhook");
    EXPECT_EQ(route_of(run(r, verb::get, "/healthz")), "healthz");
}

TEST(Router, QueryStringIsIgnoredForMatching) {
    const auto r = make_router();
    EXPECT_EQ(route_of(run(r, verb::post, "/vapi/webhook?tenant=7&x=y", "1")), "post-webhook");
    EXPECT_EQ(route_of(run(r, verb::get, "/healthz?")), "healthz");
}

TEST(Router, HandlerSeesTheFullTarget) {
    const auto r = make_router();
    const auto res = run(r, verb::post, "/slow?a=1");
    EXPECT_EQ(res.result(), status::accepted);
    EXPECT_EQ(boost::json::parse(res.body()).as_object().at("target").as_string(), "/slow?a=1");
}

TEST(Router, UnknownPathGets404WithJsonBody) {
    const auto r = make_router();
    const auto res = run(r, verb::post, "/nope");
    EXPECT_EQ(res.result(), status::not_found);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(error_of(res), "no route for /nope");
    EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
}

TEST(Router, PathsMatchExactly) {
    const auto r = make_router();
    for (const char* target : {"/vapi/webhook/", "/vapi/webhook/x", "/vapi", "/VAPI/WEBHOOK",
                               "vapi/webhook", "/vapi//webhook", "/healthz.json", "/", ""}) {
        SCOPED_TRACE(target);
        EXPECT_EQ(run(r, verb::post, target).result(), status::not_found);
    }
}

TEST(Router, NotFoundMessageLeavesOutTheQuery) {
    const auto r = make_router();
    const auto res = run(r, verb::get, "/nope?secret=hunter2");
    EXPECT_EQ(res.result(), status::not_found);
    EXPECT_EQ(error_of(res), "no route for /nope");
    EXPECT_THAT(res.body(), Not(HasSubstr("hunter2")));
}

TEST(Router, WrongMethodGets405WithAllowHeader) {
    const auto r = make_router();
    const auto res = run(r, verb::delete_, "/vapi/webhook");
    EXPECT_EQ(res.result(), status::method_not_allowed);
    EXPECT_EQ(res[bhttp::field::allow], "POST, GET");
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    const auto msg = error_of(res);
    EXPECT_THAT(msg, HasSubstr("DELETE"));
    EXPECT_THAT(msg, HasSubstr("/vapi/webhook"));
    EXPECT_THAT(msg, HasSubstr("POST, GET"));

    const auto health = run(r, verb::post, "/healthz?x=1");
    EXPECT_EQ(health.result(), status::method_not_allowed);
    EXPECT_EQ(health[bhttp::field::allow], "GET");
    EXPECT_THAT(error_of(health), Not(HasSubstr("x=1")));
}

TEST(Router, HeadIsAnsweredByTheGetRoute) {
    const auto r = make_router();
    EXPECT_EQ(route_of(run(r, verb::head, "/healthz")), "healthz");
    EXPECT_EQ(route_of(run(r, verb::head, "/vapi/webhook")), "get-webhook");
    router post_only;
    post_only.add(verb::post, "/receive", post_webhook);
    const auto res = run(post_only, verb::head, "/receive");
    EXPECT_EQ(res.result(), status::method_not_allowed);
    EXPECT_EQ(res[bhttp::field::allow], "POST");
}

TEST(Router, ResponseKeepsTheRequestHttpVersion) {
    const auto r = make_router();
    EXPECT_EQ(run(r, verb::get, "/nope", {}, 10).version(), 10u);
    EXPECT_EQ(run(r, verb::put, "/healthz", {}, 10).version(), 10u);
    EXPECT_EQ(run(r, verb::get, "/nope", {}, 11).version(), 11u);
}

TEST(Router, EmptyRouterAnswers404) {
    const router r;
    EXPECT_EQ(run(r, verb::get, "/").result(), status::not_found);
}

TEST(Router, PathOf) {
    EXPECT_EQ(router::path_of("/a/b?x=1"), "/a/b");
    EXPECT_EQ(router::path_of("/a/b"), "/a/b");
    EXPECT_EQ(router::path_of("/a?b?c"), "/a");
    EXPECT_EQ(router::path_of("?x"), "");
    EXPECT_EQ(router::path_of(""), "");
    EXPECT_EQ(router::path_of("/a#frag"), "/a#frag");
}

TEST(JsonResponse, SetsTypeLengthAndBody) {
    const auto res = json_response(status::created, R"({"ok":true})", 10);
    EXPECT_EQ(res.result(), status::created);
    EXPECT_EQ(res.version(), 10u);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(res[bhttp::field::content_length], "11");
    EXPECT_EQ(res.body(), R"({"ok":true})");
}

TEST(JsonError, EscapesTheMessage) {
    const std::string nasty = "a \"quoted\" \\ back\nslash \x01 and \xc3\xa9";
    const auto res = json_error(status::bad_request, nasty);
    EXPECT_EQ(res.result(), status::bad_request);
    EXPECT_EQ(res.version(), 11u);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    const auto doc = boost::json::parse(res.body());
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc.as_object().size(), 1u);
    EXPECT_EQ(doc.as_object().at("error").as_string(), nasty);
}

}  // namespace
}  // namespace switchboard::http

namespace switchboard::http {
namespace {

boost::asio::awaitable<response> subtree(request& req) {
    co_return json_response(
        status::ok, R"({"route":"subtree","target":")" + std::string(req.target()) + R"("})");
}

TEST(RouterPrefix, MatchesTheSubtreeForAnyMethodAfterExactRoutes) {
    router r;
    r.add(verb::get, "/functions/v1/exact", healthz);
    r.add_prefix("/functions/v1", subtree);
    EXPECT_THAT(run(r, verb::get, "/functions/v1/exact").body(), HasSubstr("healthz"));
    EXPECT_THAT(run(r, verb::delete_, "/functions/v1/assistants/a?x=1").body(),
                HasSubstr("subtree"));
    EXPECT_THAT(run(r, verb::options, "/functions/v1").body(), HasSubstr("subtree"));
    // Only whole segments: /functions/v10 is not under /functions/v1.
    EXPECT_EQ(run(r, verb::get, "/functions/v10/x").result(), status::not_found);
    EXPECT_EQ(run(r, verb::get, "/functions").result(), status::not_found);
}

TEST(RouterPrefix, BodyLimitAndDecorationPerSubtree) {
    router r;
    r.add(verb::post, "/receive", post_webhook);
    prefix_options o;
    o.body_limit = 100;
    o.decorate = [](const request::header_type&, response& res) { res.set("X-Decorated", "yes"); };
    r.add_prefix("/up", subtree, o);
    r.add_prefix("/other", subtree);
    // A request's body terms: its prefix's limit, held once, unless the prefix says otherwise
    // by the request's header (within its limit).
    const auto terms = [&r](const char* target, const char* type = "") {
        request h{verb::post, target, 11};
        if (*type != 0) h.set(bhttp::field::content_type, type);
        return r.body_terms_of(h, 50);
    };
    EXPECT_EQ(terms("/receive").limit, 50u);
    EXPECT_EQ(terms("/up/file").limit, 100u);
    EXPECT_EQ(terms("/up/file").copies, 1u);
    EXPECT_EQ(terms("/other/x").limit, 50u);
    prefix_options by_type;
    by_type.body_limit = 1000;
    by_type.body = [](const request::header_type& h) {
        return h[bhttp::field::content_type] == "multipart/form-data" ? body_terms{1000, 3}
                                                                      : body_terms{5000, 16};
    };
    r.add_prefix("/typed", subtree, by_type);
    EXPECT_EQ(terms("/typed/x", "multipart/form-data").limit, 1000u);
    EXPECT_EQ(terms("/typed/x", "multipart/form-data").copies, 3u);
    EXPECT_EQ(terms("/typed/x", "application/json").limit, 1000u);  // within the prefix's limit
    EXPECT_EQ(terms("/typed/x", "application/json").copies, 16u);
    EXPECT_EQ(r.max_body_limit(50), 1000u);
    EXPECT_EQ(r.max_body_limit(5000), 5000u);
    request h{verb::post, "/up/x?y", 11};
    response res = json_error(status::payload_too_large, "big");
    r.decorate(h, res);
    EXPECT_EQ(res["X-Decorated"], "yes");
    request w{verb::post, "/receive", 11};
    response res2 = json_error(status::payload_too_large, "big");
    r.decorate(w, res2);
    EXPECT_EQ(res2.count("X-Decorated"), 0u);
}

}  // namespace
}  // namespace switchboard::http
