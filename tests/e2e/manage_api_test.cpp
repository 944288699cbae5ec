// The management API end to end: the real binary, a real Postgres and the fake Vapi; tokens
// signed here. Transport (CORS, auth, envelope, validation) and the mirrored functions
// assistants and workflows, with two users that never reach each other's data.
#include "support/manage.hpp"
#include "support/raw_connection.hpp"
#include "support/webhooks.hpp"

#include <boost/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::test {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ManageTransport, PreflightAndCorsOnEveryAnswer) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    // Preflight: no token, 204, CORS.
    auto pre = m.call("OPTIONS", "assistants", "", "",
                      {{"Origin", "https://app.example"},
                       {"Access-Control-Request-Method", "POST"},
                       {"Access-Control-Request-Headers", "authorization, content-type"}});
    EXPECT_EQ(pre.status, 204u);
    EXPECT_EQ(pre.headers["access-control-allow-origin"], "*");
    EXPECT_THAT(pre.headers["access-control-allow-headers"], HasSubstr("authorization"));
    EXPECT_THAT(pre.headers["access-control-allow-headers"], HasSubstr("x-client-info"));
    EXPECT_THAT(pre.headers["access-control-allow-methods"], HasSubstr("PATCH"));
    EXPECT_EQ(pre.headers["access-control-max-age"], "86400");
    // Errors carry CORS too, so a browser can read them.
    auto unauth = m.call("GET", "assistants", "");
    EXPECT_EQ(unauth.status, 401u);
    EXPECT_EQ(unauth.headers["access-control-allow-origin"], "*");
    EXPECT_THAT(unauth.headers["www-authenticate"], HasSubstr("Bearer"));
    auto unknown = m.call("GET", "nope", hs256_token("u1"));
    EXPECT_EQ(unknown.status, 404u);
    EXPECT_EQ(unknown.headers["access-control-allow-origin"], "*");
    // Webhook routes are untouched by the prefix route.
    EXPECT_EQ(wait_for_status(m.port(), "/healthz", 200, std::chrono::seconds(5)), 200u);
}

TEST(ManageTransport, CorsOriginsListIsEchoed) {
    manage_service m(
        env_list{{"SWITCHBOARD_CORS_ORIGINS", "https://app.example,https://b.example"}});
    ASSERT_NE(m.port(), 0);
    auto ok = m.call("OPTIONS", "calls", "", "", {{"Origin", "https://b.example"}});
    EXPECT_EQ(ok.status, 204u);
    EXPECT_EQ(ok.headers["access-control-allow-origin"], "https://b.example");
    EXPECT_EQ(ok.headers["vary"], "Origin");
    auto other = m.call("OPTIONS", "calls", "", "", {{"Origin", "https://evil.example"}});
    EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u);
}

TEST(ManageTransport, RefusesMissingAndBadTokens) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    EXPECT_EQ(m.call("GET", "assistants", "").status, 401u);
    EXPECT_EQ(m.call("GET", "assistants", "not.a.token").status, 401u);
    EXPECT_EQ(
        m.call("GET", "assistants", hs256_token("u1", "another-secret-of-enough-length!!")).status,
        401u);
    EXPECT_EQ(m.call("GET", "assistants", hs256_token("u1", k_jwt_secret, "anon")).status, 401u);
    EXPECT_EQ(
        m.call("GET", "assistants", hs256_token("u1", k_jwt_secret, "authenticated", -600)).status,
        401u);
    auto good = m.call("GET", "assistants", hs256_token("u1"));
    EXPECT_EQ(good.status, 200u) << good.body;
    EXPECT_EQ(json_of(good), json::value(json::array{}));
    // Nothing reached Vapi for the refused requests (the list comes from the mirror).
    EXPECT_EQ(m.fake().requests().as_array().size(), 0u);
}

/// Sends a large upload's header only (the body never comes) and reads the answer.
raw_connection::read_result refused_from_the_header(std::uint16_t port, const std::string& auth) {
    const std::string head =
        "POST /functions/v1/files HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 20000000\r\n";
    raw_connection conn(port);
    EXPECT_TRUE(conn.connected());
    EXPECT_TRUE(conn.send(head + auth + "\r\n"));
    return conn.read_until_closed(std::chrono::seconds(5));
}

// Without a valid bearer token a request is refused from its header: the listener never reads
// (or invites, with 100-continue) an upload from a caller who cannot be anyone. That covers a
// token that merely looks like one: its signature and its expiry are checked there too.
TEST(ManageTransport, ARequestWithoutAValidTokenIsRefusedBeforeItsBody) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const std::string forged = hs256_token("u1", "another-secret-of-enough-length!!");
    const std::string expired = hs256_token("u1", k_jwt_secret, "authenticated", -600);
    // A well-formed HS256 header and payload with a one-byte signature.
    std::string short_signature = hs256_token("u1");
    short_signature = short_signature.substr(0, short_signature.rfind('.') + 1) + "AA";
    const std::pair<std::string, std::string> cases[] = {
        {"", "missing bearer token"},       {"not-a-token", "malformed token"},
        {"a.b", "malformed token"},         {forged, "bad signature"},
        {short_signature, "bad signature"}, {expired, "expired"},
    };
    for (const auto& [token, why] : cases) {
        SCOPED_TRACE(token);
        const auto r = refused_from_the_header(
            m.port(), token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n");
        EXPECT_FALSE(r.timed_out) << r.data;
        EXPECT_EQ(r.data.rfind("HTTP/1.1 401", 0), 0u) << r.data;
        EXPECT_THAT(r.data, HasSubstr("WWW-Authenticate: Bearer"));
        EXPECT_THAT(r.data, HasSubstr("Access-Control-Allow-Origin: *"));
        EXPECT_THAT(r.data, HasSubstr(why));
    }
    EXPECT_EQ(m.fake().requests().as_array().size(), 0u);
    // Without any key configured, every request is refused from its header as well.
    manage_service off(env_list{{"SUPABASE_JWT_SECRET", ""}});
    ASSERT_NE(off.port(), 0);
    const auto r =
        refused_from_the_header(off.port(), "Authorization: Bearer " + hs256_token("u1") + "\r\n");
    EXPECT_FALSE(r.timed_out) << r.data;
    EXPECT_EQ(r.data.rfind("HTTP/1.1 503", 0), 0u) << r.data;
    EXPECT_THAT(r.data, HasSubstr("not configured"));
}

// A form is for file uploads only; media types are compared without regard to case.
TEST(ManageTransport, MultipartOnlyForUploadsAndMediaTypesIgnoreCase) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u1");
    const std::string form =
        "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--b--\r\n";
    auto r = m.call("POST", "assistants", t, form,
                    {{"Content-Type", "multipart/form-data; boundary=b"}});
    EXPECT_EQ(r.status, 415u) << r.body;
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    r = m.call("POST", "assistants", t, "{not json", {{"Content-Type", "Application/JSON"}});
    EXPECT_EQ(r.status, 400u) << r.body;
    const std::string upload =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"n.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\nnotes\r\n--b--\r\n";
    r = m.call("POST", "files", t, upload, {{"Content-Type", "Multipart/Form-Data; boundary=b"}});
    EXPECT_EQ(r.status, 201u) << r.body;
}

TEST(ManageTransport, WithoutJwtKeyOrVapiKeyAnswers503) {
    {
        manage_service m(env_list{{"SUPABASE_JWT_SECRET", ""}});
        ASSERT_NE(m.port(), 0);
        auto r = m.call("GET", "assistants", hs256_token("u1"));
        EXPECT_EQ(r.status, 503u);
        EXPECT_THAT(error_of(r), HasSubstr("not configured"));
    }
    {
        manage_service m({}, /*with_vapi_key=*/false);
        ASSERT_NE(m.port(), 0);
        auto r = m.call("POST", "assistants", hs256_token("u1"), R"({"name":"a"})");
        EXPECT_EQ(r.status, 503u) << r.body;
        EXPECT_THAT(error_of(r), HasSubstr("VAPI_API_KEY"));
        EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    }
}

TEST(ManageTransport, ValidatesInputWithClearMessages) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u1");
    auto r = m.call("POST", "assistants", t, "[1,2]");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("JSON object"));
    r = m.call("POST", "assistants", t, "{not json");
    EXPECT_EQ(r.status, 400u);
    r = m.call("POST", "assistants", t, R"({"action": 5})");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("action"));
    r = m.call("POST", "assistants", t, R"({"action": "get", "id": 12})");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("id must be a string"));
    r = m.call("POST", "assistants", t, R"({"action": "get"})");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("id is required"));
    r = m.call("POST", "assistants", t, R"({"action": "fly"})");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("unknown action"));
    r = m.call("GET", "assistants?limit=0", t);
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("limit"));
    r = m.call("GET", "assistants?limit=abc", t);
    EXPECT_EQ(r.status, 400u);
    r = m.call("POST", "assistants", t, R"({"name": 7})");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("name must be a string"));
    r = m.call("POST", "workflows", t, R"({"name": "w", "nodes": {}, "edges": []})");
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("nodes must be an array"));
    r = m.call("GET", "calls?cursor=%%%", t);
    EXPECT_EQ(r.status, 400u);
    r = m.call("GET", "calls?cursor=bm9wZQ", t);
    EXPECT_EQ(r.status, 400u);
    EXPECT_THAT(error_of(r), HasSubstr("cursor"));
    r = m.call("DELETE", "calls/abc", t);
    EXPECT_EQ(r.status, 405u);
    EXPECT_FALSE(r.headers["allow"].empty());
    r = m.call("POST", "assistants", t, "name=x",
               {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(r.status, 415u);
    // Nothing of this reached Vapi.
    EXPECT_EQ(m.fake().requests().as_array().size(), 0u);
}

TEST(ManageAssistants, RestFormsCreateListGetUpdateDelete) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-a");
    auto created = m.call("POST", "assistants", t,
                          R"({"name":"Front desk","firstMessage":"Hello",
                              "model":{"provider":"openai","model":"gpt-4o"}})");
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string id = id_of(created);
    ASSERT_FALSE(id.empty());
    auto v = json_of(created);
    EXPECT_EQ(v.at("name").as_string(), "Front desk");
    // server injected: switchboard's public URL, and in Vapi the webhook secret, which no caller
    // is shown (with it anyone could post webhooks into other callers' calls).
    EXPECT_EQ(v.at("server").at("url").as_string(), "https://switchboard.example/receive");
    EXPECT_THAT(created.body, Not(HasSubstr(k_secret)));
    const auto in_vapi = [&m](const std::string& assistant) {
        for (const auto& a : fake_objects(m.fake(), "assistants")) {
            if (a.at("id").as_string() == assistant) return a;
        }
        return json::value();
    };
    EXPECT_EQ(in_vapi(id).at("server").at("headers").at("X-Vapi-Secret").as_string(), k_secret);
    EXPECT_EQ(m.db().scalar("SELECT owner FROM assistants WHERE id = '" + id + "'"), "user-a");
    EXPECT_EQ(m.db().scalar("SELECT vapi::text LIKE '%" + std::string(k_secret) +
                            "%' FROM assistants WHERE id = '" + id + "'"),
              "f");

    // A caller's own server.url is left alone.
    auto own = m.call("POST", "assistants", t,
                      R"({"name":"Own","server":{"url":"https://mine.example/hook"}})");
    ASSERT_EQ(own.status, 201u) << own.body;
    EXPECT_EQ(json_of(own).at("server").at("url").as_string(), "https://mine.example/hook");
    const std::string own_id = id_of(own);

    auto list = m.call("GET", "assistants", t);
    ASSERT_EQ(list.status, 200u) << list.body;
    ASSERT_EQ(json_of(list).as_array().size(), 2u);
    EXPECT_EQ(json_of(list).as_array()[0].at("id").as_string(), own_id);  // newest first
    EXPECT_EQ(json_of(m.call("GET", "assistants?limit=1", t)).as_array().size(), 1u);

    auto got = m.call("GET", "assistants/" + id, t);
    ASSERT_EQ(got.status, 200u) << got.body;
    EXPECT_EQ(json_of(got).at("firstMessage").as_string(), "Hello");
    EXPECT_THAT(got.body, Not(HasSubstr(k_secret)));
    // A mirror row written before the redaction existed is redacted when listed.
    m.db().exec(
        "UPDATE assistants SET vapi = jsonb_set(vapi, '{server,headers}', "
        "jsonb_build_object('X-Vapi-Secret', '" +
        std::string(k_secret) + "')) WHERE id = '" + id + "'");
    auto relisted = m.call("GET", "assistants", t);
    ASSERT_EQ(relisted.status, 200u) << relisted.body;
    EXPECT_THAT(relisted.body, Not(HasSubstr(k_secret)));
    // The object sent back as it was read (its server without the header) keeps the header in
    // Vapi.
    json::object round_trip = json_of(got).as_object();
    round_trip.erase("id");
    round_trip["firstMessage"] = "Hello again";
    auto back = m.call("PATCH", "assistants/" + id, t, json::serialize(round_trip));
    ASSERT_EQ(back.status, 200u) << back.body;
    EXPECT_THAT(back.body, Not(HasSubstr(k_secret)));
    EXPECT_EQ(in_vapi(id).at("server").at("headers").at("X-Vapi-Secret").as_string(), k_secret);

    auto upd = m.call("PATCH", "assistants/" + id, t, R"({"firstMessage":"Hi there"})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(json_of(upd).at("firstMessage").as_string(), "Hi there");
    EXPECT_EQ(m.db().scalar("SELECT vapi->>'firstMessage' FROM assistants WHERE id = '" + id + "'"),
              "Hi there");
    auto put = m.call("PUT", "assistants/" + id, t, R"({"name":"Renamed"})");
    ASSERT_EQ(put.status, 200u) << put.body;
    EXPECT_EQ(m.db().scalar("SELECT name FROM assistants WHERE id = '" + id + "'"), "Renamed");

    // Vapi's validation error is 422 with Vapi's words.
    auto bad = m.call("PATCH", "assistants/" + id, t, R"({"firstMessageMode":"sing"})");
    EXPECT_EQ(bad.status, 422u) << bad.body;
    EXPECT_THAT(error_of(bad), HasSubstr("firstMessageMode"));

    auto del = m.call("DELETE", "assistants/" + id, t);
    ASSERT_EQ(del.status, 200u) << del.body;
    EXPECT_EQ(id_of(del), id);
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants WHERE id = '" + id + "'"), "0");
    EXPECT_EQ(m.call("GET", "assistants/" + id, t).status, 404u);
    EXPECT_EQ(fake_objects(m.fake(), "assistants").size(), 1u);
}

TEST(ManageAssistants, TheWebhookCredentialIsSetWhereTheServerIsSwitchboardsAndOnlyThere) {
    // An HMAC or OAuth2 plan is a credential in Vapi: the objects routed here name it. Named
    // with another URL it would make Vapi authenticate to that URL (an OAuth2 token valid
    // here), so no caller may, nor is shown the id.
    const std::string cred = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    manage_service m(env_list{{"SWITCHBOARD_WEBHOOK_CREDENTIAL_ID", cred}});
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-a");
    const auto server_in_vapi = [&m](const std::string& id) {
        for (const auto& a : fake_objects(m.fake(), "assistants")) {
            if (a.at("id").as_string() == id) return a.at("server");
        }
        return json::value();
    };
    auto created = m.call("POST", "assistants", t, R"({"name":"Routed"})");
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string id = id_of(created);
    const json::value server = server_in_vapi(id);
    EXPECT_EQ(server.at("url").as_string(), "https://switchboard.example/receive");
    EXPECT_EQ(server.at("credentialId").as_string(), cred);
    EXPECT_THAT(created.body, Not(HasSubstr(cred)));
    EXPECT_EQ(m.db().scalar("SELECT vapi::text LIKE '%" + cred + "%' FROM assistants WHERE id = '" +
                            id + "'"),
              "f");
    EXPECT_THAT(m.call("GET", "assistants/" + id, t).body, Not(HasSubstr(cred)));

    // The caller's own credential for switchboard's URL stays; another server gets none.
    auto own_cred = m.call(
        "POST", "assistants", t,
        R"({"name":"Own cred","server":{"url":"https://switchboard.example/receive","credentialId":"cred-mine"}})");
    ASSERT_EQ(own_cred.status, 201u) << own_cred.body;
    EXPECT_EQ(server_in_vapi(id_of(own_cred)).at("credentialId").as_string(), "cred-mine");
    auto elsewhere = m.call("POST", "assistants", t,
                            R"({"name":"Elsewhere","server":{"url":"https://mine.example/hook"}})");
    ASSERT_EQ(elsewhere.status, 201u) << elsewhere.body;
    EXPECT_FALSE(server_in_vapi(id_of(elsewhere)).as_object().contains("credentialId"));

    // Switchboard's credential with another URL, at the top or in a tool, in any spelling of its
    // uuid, or beside a legacy serverUrl of another server, in a create or an update: 400, and
    // nothing reaches Vapi.
    const std::size_t before = fake_objects(m.fake(), "assistants").size();
    const std::string attacker = R"("url":"https://attacker.example/")";
    std::vector<std::string> hostile;
    for (const std::string& spelling :
         {cred, std::string("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "{" + cred + "}",
          std::string("a0eebc999c0b4ef8bb6d6bb9bd380a11")}) {
        hostile.push_back(R"({"name":"Thief","server":{)" + attacker + R"(,"credentialId":")" +
                          spelling + R"("}})");
    }
    hostile.push_back(
        R"({"name":"Thief","model":{"provider":"openai","model":"gpt-4o","tools":[{"type":"function","function":{"name":"f"},"server":{)" +
        attacker + R"(,"credentialId":")" + cred + R"("}}]}})");
    hostile.push_back(
        R"({"name":"Thief","serverUrl":"https://attacker.example/","server":{"url":"https://switchboard.example/receive","credentialId":")" +
        cred + R"("}})");
    for (const std::string& body : hostile) {
        auto refused = m.call("POST", "assistants", t, body);
        EXPECT_EQ(refused.status, 400u) << body << "\n" << refused.body;
        EXPECT_THAT(refused.body, HasSubstr("webhook credential"));
    }
    EXPECT_EQ(fake_objects(m.fake(), "assistants").size(), before);
    auto patched = m.call(
        "PATCH", "assistants/" + id_of(elsewhere), t,
        R"({"server":{"url":"https://mine.example/hook","credentialId":")" + cred + R"("}})");
    EXPECT_EQ(patched.status, 400u) << patched.body;
    EXPECT_FALSE(server_in_vapi(id_of(elsewhere)).as_object().contains("credentialId"));
}

TEST(ManageAssistants, ActionFormsAndTheDataEnvelope) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-a");
    // The original front end: {action, data} and {action, id, data}, all with POST.
    auto created = m.call("POST", "assistants", t, R"({"action":"create","data":{"name":"Env"}})");
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string id = id_of(created);
    auto list = m.call("POST", "assistants", t, R"({"action":"list"})");
    ASSERT_EQ(list.status, 200u);
    EXPECT_EQ(json_of(list).as_array().size(), 1u);
    auto got = m.call("POST", "assistants", t, R"({"action":"get","id":")" + id + R"("})");
    ASSERT_EQ(got.status, 200u) << got.body;
    EXPECT_EQ(id_of(got), id);
    auto upd = m.call("POST", "assistants", t,
                      R"({"action":"update","id":")" + id + R"(","data":{"name":"Env 2"}})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(json_of(upd).at("name").as_string(), "Env 2");
    // Without `data`, the payload is the body minus action and id.
    upd = m.call("POST", "assistants", t,
                 R"({"action":"update","id":")" + id + R"(","name":"Flat"})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(json_of(upd).at("name").as_string(), "Flat");
    // The id in the path wins over the body's.
    got = m.call("POST", "assistants/" + id, t, R"({"action":"get","id":"other"})");
    EXPECT_EQ(got.status, 200u) << got.body;
    // Read-only fields sent back by a front end are dropped, not refused.
    upd = m.call("PATCH", "assistants/" + id, t,
                 R"({"id":"x","orgId":"y","createdAt":"z","name":"Again"})");
    EXPECT_EQ(upd.status, 200u) << upd.body;
    auto del = m.call("POST", "assistants", t, R"({"action":"delete","id":")" + id + R"("})");
    ASSERT_EQ(del.status, 200u) << del.body;
    EXPECT_TRUE(fake_objects(m.fake(), "assistants").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
}

TEST(ManageWorkflows, CreateListGetUpdateDelete) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-w");
    auto missing = m.call("POST", "workflows", t, R"({"name":"w"})");
    EXPECT_EQ(missing.status, 422u) << missing.body;  // Vapi: nodes/edges required
    EXPECT_THAT(error_of(missing), HasSubstr("nodes"));
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM workflows"), "0");
    auto created = m.call("POST", "workflows", t, R"({"name":"Intake","nodes":[
        {"type":"conversation","name":"start","prompt":"Greet"},
        {"type":"conversation","name":"end","prompt":"Bye"}],
        "edges":[{"from":"start","to":"end"}]})");
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string id = id_of(created);
    EXPECT_EQ(json_of(created).at("server").at("url").as_string(),
              "https://switchboard.example/receive");
    EXPECT_EQ(json_of(m.call("GET", "workflows", t)).as_array().size(), 1u);
    EXPECT_EQ(m.call("GET", "workflows/" + id, t).status, 200u);
    auto upd = m.call("PATCH", "workflows/" + id, t, R"({"name":"Intake 2"})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(m.db().scalar("SELECT name FROM workflows"), "Intake 2");
    EXPECT_EQ(m.call("DELETE", "workflows/" + id, t).status, 200u);
    EXPECT_TRUE(fake_objects(m.fake(), "workflows").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM workflows"), "0");
}

TEST(ManageIsolation, AnotherUsersAssistantsAndWorkflowsAre404) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const auto b = hs256_token("bob");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"Alice's"})"));
    ASSERT_FALSE(asst.empty());
    const std::string wf = id_of(m.call("POST", "workflows", a, R"({"name":"wf","nodes":[
        {"type":"conversation","name":"n"}],"edges":[]})"));
    ASSERT_FALSE(wf.empty());
    for (const auto& [fn, id] : {std::pair{"assistants", asst}, std::pair{"workflows", wf}}) {
        SCOPED_TRACE(fn);
        EXPECT_EQ(json_of(m.call("GET", fn, b)).as_array().size(), 0u);
        auto get = m.call("GET", std::string(fn) + "/" + id, b);
        EXPECT_EQ(get.status, 404u);
        // Same answer as an id that does not exist at all.
        auto none = m.call("GET", std::string(fn) + "/00000000-0000-0000-0000-000000000000", b);
        EXPECT_EQ(none.status, 404u);
        EXPECT_EQ(m.call("PATCH", std::string(fn) + "/" + id, b, R"({"name":"x"})").status, 404u);
        EXPECT_EQ(m.call("DELETE", std::string(fn) + "/" + id, b).status, 404u);
        EXPECT_EQ(m.call("POST", fn, b, R"({"action":"delete","id":")" + id + R"("})").status,
                  404u);
        EXPECT_EQ(m.call("GET", std::string(fn) + "/" + id, a).status, 200u);
    }
    EXPECT_EQ(fake_objects(m.fake(), "assistants").size(), 1u);
    EXPECT_EQ(fake_objects(m.fake(), "workflows").size(), 1u);
}

}  // namespace
}  // namespace switchboard::test
