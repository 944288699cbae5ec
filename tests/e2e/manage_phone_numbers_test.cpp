// phone-numbers end to end: provision (buy, import, claim), search, assign — which routes the
// service's own assistant-request reply — update, release, and isolation between users.
#include "support/examples.hpp"
#include "support/manage.hpp"
#include "support/webhooks.hpp"

#include <boost/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <thread>

namespace switchboard::test {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

/// Creates an org number directly in the fake (as if bought in Vapi's dashboard).
/// An assistant created in Vapi directly (the org's, not mirrored); its id.
std::string org_assistant(fake_vapi& fake, const std::string& name) {
    http_client c("127.0.0.1", fake.port());
    auto r = c.post(
        "/assistant", R"({"name":")" + name + R"("})",
        {{"Authorization", "Bearer " + fake.api_key()}, {"Content-Type", "application/json"}});
    return std::string(json::parse(r.body).at("id").as_string());
}

std::string org_number(fake_vapi& fake, const std::string& body) {
    http_client c("127.0.0.1", fake.port());
    auto r = c.post(
        "/phone-number", body,
        {{"Authorization", "Bearer " + fake.api_key()}, {"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return std::string(json::parse(r.body).at("id").as_string());
}

TEST(ManagePhoneNumbers, BuyImportListGetUpdateRelease) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-p");
    auto bad = m.call("POST", "phone-numbers", t, R"({"provider":"vapi","areaCode":"41"})");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_THAT(error_of(bad), HasSubstr("areaCode"));
    bad = m.call("POST", "phone-numbers", t, R"({"provider":"carrier-pigeon"})");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_THAT(error_of(bad), HasSubstr("provider"));
    bad = m.call("POST", "phone-numbers", t, R"({"name":"no provider"})");
    EXPECT_EQ(bad.status, 400u);

    // Buy by area code, with the front end's envelope.
    auto bought = m.call("POST", "phone-numbers", t,
                         R"({"action":"provision","data":{"provider":"vapi","areaCode":"212",
                             "name":"NYC line"}})");
    ASSERT_EQ(bought.status, 201u) << bought.body;
    const std::string vapi_id = id_of(bought);
    auto v = json_of(bought);
    EXPECT_THAT(std::string(v.at("number").as_string()), ::testing::StartsWith("+1212"));
    EXPECT_EQ(v.at("server").at("url").as_string(), "https://switchboard.example/receive");
    EXPECT_TRUE(v.at("assistantId").is_null());
    // What Vapi was asked: its own field name, no route (Vapi must send assistant-request).
    auto sent = m.fake().requests().as_array().back();
    EXPECT_EQ(sent.at("body").at("numberDesiredAreaCode").as_string(), "212");
    EXPECT_FALSE(sent.at("body").as_object().contains("assistantId"));
    EXPECT_EQ(m.db().scalar("SELECT number FROM phone_numbers WHERE id = '" + vapi_id + "'"),
              std::string(v.at("number").as_string()));

    // Import a Twilio number (Vapi's fields passed through; Vapi validates them).
    auto invalid =
        m.call("POST", "phone-numbers", t, R"({"provider":"twilio","number":"+15550001"})");
    EXPECT_EQ(invalid.status, 422u) << invalid.body;
    EXPECT_THAT(error_of(invalid), HasSubstr("twilioAccountSid"));
    auto imported = m.call("POST", "phone-numbers", t,
                           R"({"provider":"twilio","number":"+14155550199",
                               "twilioAccountSid":"AC123","twilioAuthToken":"tok"})");
    ASSERT_EQ(imported.status, 201u) << imported.body;
    const std::string twilio_id = id_of(imported);
    EXPECT_EQ(m.db().scalar("SELECT provider FROM phone_numbers WHERE id = '" + twilio_id + "'"),
              "twilio");

    auto list = m.call("GET", "phone-numbers", t);
    ASSERT_EQ(list.status, 200u);
    ASSERT_EQ(json_of(list).as_array().size(), 2u);
    EXPECT_EQ(json_of(m.call("POST", "phone-numbers", t, R"({"action":"list"})")).as_array().size(),
              2u);

    auto got = m.call("GET", "phone-numbers/" + vapi_id, t);
    ASSERT_EQ(got.status, 200u) << got.body;
    EXPECT_EQ(json_of(got).at("name").as_string(), "NYC line");

    auto upd = m.call("PATCH", "phone-numbers/" + vapi_id, t, R"({"name":"Main line"})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(json_of(upd).at("name").as_string(), "Main line");
    EXPECT_EQ(m.db().scalar("SELECT name FROM phone_numbers WHERE id = '" + vapi_id + "'"),
              "Main line");

    auto rel = m.call("POST", "phone-numbers/" + vapi_id + "/release", t);
    ASSERT_EQ(rel.status, 200u) << rel.body;
    auto del =
        m.call("POST", "phone-numbers", t, R"({"action":"release","id":")" + twilio_id + R"("})");
    ASSERT_EQ(del.status, 200u) << del.body;
    EXPECT_TRUE(fake_objects(m.fake(), "phoneNumbers").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM phone_numbers"), "0");
}

// A SIP number's password is write-only: given in a create or an update, never shown or
// mirrored. The number sent back as it was read (without it) keeps it in Vapi; a changed
// `authentication` must give its password.
TEST(ManagePhoneNumbers, TheSipPasswordIsNeverShownAndSurvivesARoundTrip) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-sip");
    auto made = m.call("POST", "phone-numbers", t,
                       R"({"provider":"vapi","sipUri":"sip:desk@example.sip.vapi.ai",
                           "authentication":{"username":"desk","password":"sip-secret-1"}})");
    ASSERT_EQ(made.status, 201u) << made.body;
    const std::string id = id_of(made);
    EXPECT_THAT(made.body, Not(HasSubstr("sip-secret-1")));
    EXPECT_EQ(json_of(made).at("authentication").at("username"), json::value("desk"));
    auto got = m.call("GET", "phone-numbers/" + id, t);
    ASSERT_EQ(got.status, 200u) << got.body;
    EXPECT_THAT(got.body, Not(HasSubstr("sip-secret-1")));
    EXPECT_THAT(m.call("GET", "phone-numbers", t).body, Not(HasSubstr("sip-secret-1")));
    EXPECT_EQ(
        m.db().scalar("SELECT count(*) FROM phone_numbers WHERE vapi::text LIKE '%sip-secret%'"),
        "0");
    const auto password_in_vapi = [&] {
        for (const auto& p : fake_objects(m.fake(), "phoneNumbers")) {
            if (p.at("id").as_string() == id) {
                const json::value* pw = p.at("authentication").as_object().if_contains("password");
                return pw != nullptr ? std::string(pw->as_string()) : std::string("(none)");
            }
        }
        return std::string("(no number)");
    };

    // Sent back as read, with a new name: the password stays in Vapi.
    json::object back = json_of(got).as_object();
    back["name"] = "Front desk";
    for (const char* read_only : {"status", "number"}) back.erase(read_only);
    auto round = m.call("PATCH", "phone-numbers/" + id, t, json::serialize(back));
    ASSERT_EQ(round.status, 200u) << round.body;
    EXPECT_EQ(json_of(round).at("name"), json::value("Front desk"));
    EXPECT_EQ(password_in_vapi(), "sip-secret-1");

    // A changed authentication without its password is refused; with one it is made.
    auto partial =
        m.call("PATCH", "phone-numbers/" + id, t, R"({"authentication":{"username":"reception"}})");
    EXPECT_EQ(partial.status, 400u) << partial.body;
    EXPECT_THAT(error_of(partial), HasSubstr("authentication.password"));
    EXPECT_EQ(password_in_vapi(), "sip-secret-1");
    auto changed =
        m.call("PATCH", "phone-numbers/" + id, t,
               R"({"authentication":{"username":"reception","password":"sip-secret-2"}})");
    ASSERT_EQ(changed.status, 200u) << changed.body;
    EXPECT_THAT(changed.body, Not(HasSubstr("sip-secret-2")));
    EXPECT_EQ(password_in_vapi(), "sip-secret-2");
}

TEST(ManagePhoneNumbers, SearchAndClaimOrgNumbers) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const auto b = hs256_token("bob");
    const std::string n1 = org_number(
        m.fake(), R"({"provider":"vapi","numberDesiredAreaCode":"303","name":"Denver"})");
    const std::string n2 = org_number(
        m.fake(), R"({"provider":"vapi","numberDesiredAreaCode":"617","name":"Boston"})");
    // An imported Twilio number: search shows what it is, not the account behind it.
    const std::string n3 = org_number(m.fake(), R"({"provider":"twilio","number":"+13035550100",
        "twilioAccountSid":"AC1","twilioAuthToken":"operators-token","name":"Legacy",
        "server":{"url":"https://switchboard.example/receive",
                  "headers":{"X-Operator":"operators-header"}}})");
    // Numbers live elsewhere: one Vapi routes by itself (an assistant set in the dashboard),
    // one whose calls go to another server. Neither is offered nor can be claimed.
    const std::string asst_in_vapi = org_assistant(m.fake(), "dashboard");
    const std::string routed = org_number(m.fake(), R"({"provider":"vapi",
        "numberDesiredAreaCode":"303","name":"Live","assistantId":")" +
                                                        asst_in_vapi + R"("})");
    const std::string elsewhere = org_number(m.fake(), R"({"provider":"vapi",
        "numberDesiredAreaCode":"303","name":"Other system",
        "server":{"url":"https://other.example/hooks"}})");

    auto all = m.call("POST", "phone-numbers/search", a);
    ASSERT_EQ(all.status, 200u) << all.body;
    EXPECT_EQ(json_of(all).as_array().size(), 3u) << all.body;
    EXPECT_THAT(all.body, Not(HasSubstr(routed)));
    EXPECT_THAT(all.body, Not(HasSubstr(elsewhere)));
    EXPECT_THAT(all.body, Not(HasSubstr("operators-token")));
    EXPECT_THAT(all.body, Not(HasSubstr("operators-header")));
    EXPECT_THAT(all.body, Not(HasSubstr("AC1")));
    const json::value offered = json_of(all);
    for (const auto& n : offered.as_array()) {
        EXPECT_FALSE(n.as_object().contains("server")) << json::serialize(n);
        EXPECT_TRUE(n.as_object().contains("number")) << json::serialize(n);
    }
    for (const std::string& live : {routed, elsewhere}) {
        auto taken = m.call("POST", "phone-numbers", b, R"({"phoneNumberId":")" + live + R"("})");
        EXPECT_EQ(taken.status, 404u) << taken.body;
    }
    auto denver = m.call("GET", "phone-numbers/search?areaCode=303", a);
    ASSERT_EQ(denver.status, 200u) << denver.body;
    EXPECT_EQ(json_of(denver).as_array().size(), 2u);  // n1 (vapi) and n3 (+1303…)
    auto twilio = m.call("POST", "phone-numbers", a,
                         R"({"action":"search","data":{"areaCode":"303","provider":"twilio"}})");
    ASSERT_EQ(twilio.status, 200u) << twilio.body;
    ASSERT_EQ(json_of(twilio).as_array().size(), 1u);
    EXPECT_EQ(json_of(twilio).as_array()[0].at("id").as_string(), n3);
    auto boston = m.call("GET", "phone-numbers/search?search=bos", a);
    ASSERT_EQ(json_of(boston).as_array().size(), 1u);
    EXPECT_EQ(json_of(boston).as_array()[0].at("id").as_string(), n2);
    EXPECT_EQ(m.call("GET", "phone-numbers/search?areaCode=30x", a).status, 400u);

    // Claim: the number becomes Alice's, routed through switchboard.
    auto claimed =
        m.call("POST", "phone-numbers", a, R"({"phoneNumberId":")" + n3 + R"(","name":"Mine"})");
    ASSERT_EQ(claimed.status, 201u) << claimed.body;
    // The claimer owns the number, not the operator's Twilio account: its token is neither
    // shown nor mirrored (it stays in Vapi).
    EXPECT_THAT(claimed.body, Not(HasSubstr("operators-token")));
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM phone_numbers WHERE vapi::text LIKE "
                            "'%operators-token%'"),
              "0");
    auto in_fake = fake_objects(m.fake(), "phoneNumbers");
    for (const auto& p : in_fake) {
        if (p.at("id").as_string() != n3) continue;
        EXPECT_EQ(p.at("server").at("url").as_string(), "https://switchboard.example/receive");
        EXPECT_EQ(p.at("name").as_string(), "Mine");
        EXPECT_EQ(p.at("twilioAuthToken").as_string(), "operators-token");
    }
    // Claiming it again without a route keeps the route it has.
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"desk"})"));
    ASSERT_EQ(
        m.call("POST", "phone-numbers/" + n3 + "/assign", a, R"({"assistantId":")" + asst + R"("})")
            .status,
        200u);
    auto reclaimed =
        m.call("POST", "phone-numbers", a, R"({"phoneNumberId":")" + n3 + R"(","name":"Again"})");
    ASSERT_EQ(reclaimed.status, 201u) << reclaimed.body;
    EXPECT_EQ(json_of(reclaimed).at("assistantId"), json::value(asst)) << reclaimed.body;
    EXPECT_EQ(m.db().scalar("SELECT assistant_id FROM phone_numbers WHERE id = '" + n3 + "'"),
              asst);
    // Claimed numbers disappear from search, for everyone; Bob cannot claim it again,
    // and cannot tell it from a number that does not exist.
    EXPECT_EQ(json_of(m.call("GET", "phone-numbers/search", b)).as_array().size(), 2u);
    EXPECT_EQ(json_of(m.call("GET", "phone-numbers/search", a)).as_array().size(), 2u);
    auto again = m.call("POST", "phone-numbers", b, R"({"phoneNumberId":")" + n3 + R"("})");
    EXPECT_EQ(again.status, 404u) << again.body;  // as if it did not exist
    EXPECT_THAT(again.body, HasSubstr("phone number " + n3 + " not found"));
    EXPECT_EQ(m.call("GET", "phone-numbers/" + n3, b).status, 404u);
    EXPECT_EQ(json_of(m.call("GET", "phone-numbers", b)).as_array().size(), 0u);
    EXPECT_EQ(json_of(m.call("GET", "phone-numbers", a)).as_array().size(), 1u);
    auto unknown = m.call("POST", "phone-numbers", b, R"({"phoneNumberId":"does-not-exist"})");
    EXPECT_EQ(unknown.status, 404u) << unknown.body;
    EXPECT_THAT(unknown.body, HasSubstr("phone number does-not-exist not found"));
    (void)n1;
}

// A claim whose change Vapi did not answer (5xx after the retries) may have been made there:
// the number's fields are put back as they were, and the row goes.
TEST(ManagePhoneNumbers, AClaimVapiDidNotAnswerPutsTheNumberBack) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const std::string n = org_number(m.fake(), R"({"provider":"twilio","number":"+13035550111",
        "twilioAccountSid":"AC1","name":"Pool 7"})");
    m.fake().clear_requests();
    m.fake().add_faults(
        json::parse(R"({"method":"PATCH","path":"^/phone-number/","status":502,"times":3})"));
    auto claimed =
        m.call("POST", "phone-numbers", a, R"({"phoneNumberId":")" + n + R"(","name":"Mine"})");
    EXPECT_EQ(claimed.status, 502u) << claimed.body;
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM phone_numbers"), "0");
    // The last PATCH put the name and the server back; Vapi's number is as before.
    json::value last_patch;
    const json::value requests = m.fake().requests();
    for (const auto& r : requests.as_array()) {
        if (r.at("method") == "PATCH") last_patch = r.at("body");
    }
    ASSERT_TRUE(last_patch.is_object()) << json::serialize(m.fake().requests());
    EXPECT_EQ(last_patch.at("name"), json::value("Pool 7"));
    EXPECT_TRUE(last_patch.at("server").is_null()) << json::serialize(last_patch);
    for (const auto& p : fake_objects(m.fake(), "phoneNumbers")) {
        if (p.at("id").as_string() == n) {
            EXPECT_EQ(p.at("name"), json::value("Pool 7"));
            EXPECT_FALSE(p.as_object().contains("server") && !p.at("server").is_null())
                << json::serialize(p);
        }
    }
}

// Two claims of one number by the same caller: the first renames it, and Vapi refuses that
// slowly; the second (nothing to change in Vapi) lands meanwhile. The first's undo must not
// delete the row the second wrote.
TEST(ManagePhoneNumbers, AFailedClaimDoesNotUndoTheCallersOtherClaim) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const std::string n = org_number(m.fake(), R"({"provider":"twilio","number":"+13035550112",
        "twilioAccountSid":"AC1","server":{"url":"https://switchboard.example/receive",
        "headers":{"X-Vapi-Secret":")" + std::string(k_secret) +
                                                   R"("}}})");
    m.fake().add_faults(json::parse(
        R"({"method":"PATCH","path":"^/phone-number/","delayMs":1500,"status":400,"times":1})"));
    std::thread first([&] {  // a client of its own: m.call's is not for two threads
        http_client own("127.0.0.1", m.port(), std::chrono::seconds(30));
        auto r =
            own.request("POST", "/functions/v1/phone-numbers",
                        R"({"phoneNumberId":")" + n + R"(","name":"renamed"})",
                        {{"Authorization", "Bearer " + a}, {"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, 422u) << r.body;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    auto second = m.call("POST", "phone-numbers", a, R"({"phoneNumberId":")" + n + R"("})");
    EXPECT_EQ(second.status, 201u) << second.body;
    first.join();
    EXPECT_EQ(m.db().scalar("SELECT owner FROM phone_numbers WHERE id = '" + n + "'"), "alice");
    EXPECT_EQ(m.call("GET", "phone-numbers/" + n, a).status, 200u);
}

// An assistant deleted while a number is assigned to it: Vapi is slow to delete it, the assign
// comes in between. No number may stay routed to the deleted assistant; and an object read
// while it is deleted does not come back into the mirror.
TEST(ManagePhoneNumbers, ADeleteAndAnAssignOrAGetInBetweenLeaveNothingBehind) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    auto asst = m.call("POST", "assistants", a, R"({"name":"doomed"})");
    ASSERT_EQ(asst.status, 201u) << asst.body;
    const std::string asst_id = id_of(asst);
    auto bought = m.call("POST", "phone-numbers", a, R"({"provider":"vapi","areaCode":"212"})");
    ASSERT_EQ(bought.status, 201u) << bought.body;
    const std::string number = id_of(bought);

    auto in_thread = [&](const std::string& method, const std::string& path) {
        return std::thread([&m, &a, method, path] {  // a client of its own per thread
            http_client own("127.0.0.1", m.port(), std::chrono::seconds(30));
            auto r = own.request(method, "/functions/v1/" + path, "",
                                 {{"Authorization", "Bearer " + a}});
            EXPECT_EQ(r.status, 200u) << method << " " << path << ": " << r.body;
        });
    };
    m.fake().add_faults(
        json::parse(R"({"method":"DELETE","path":"^/assistant/","delayMs":1500,"times":1})"));
    std::thread deleting = in_thread("DELETE", "assistants/" + asst_id);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto assigned = m.call("POST", "phone-numbers/" + number + "/assign", a,
                           R"({"assistantId":")" + asst_id + R"("})");
    EXPECT_EQ(assigned.status, 200u) << assigned.body;
    deleting.join();
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    EXPECT_EQ(m.db().scalar("SELECT coalesce(assistant_id, 'none') FROM phone_numbers"), "none");
    // Assigning it now: it is gone.
    EXPECT_EQ(m.call("POST", "phone-numbers/" + number + "/assign", a,
                     R"({"assistantId":")" + asst_id + R"("})")
                  .status,
              404u);

    // A get that Vapi answers after the delete committed does not bring the row back, and of
    // two updates the later version in Vapi is the one mirrored.
    auto second = m.call("POST", "assistants", a, R"({"name":"read while deleted"})");
    ASSERT_EQ(second.status, 201u) << second.body;
    const std::string second_id = id_of(second);
    m.fake().add_faults(
        json::parse(R"({"method":"PATCH","path":"^/assistant/","delayAnswerMs":1500,"times":1})"));
    std::thread renaming([&] {
        http_client own("127.0.0.1", m.port(), std::chrono::seconds(30));
        auto r =
            own.request("PATCH", "/functions/v1/assistants/" + second_id, R"({"name":"first"})",
                        {{"Authorization", "Bearer " + a}, {"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, 200u) << r.body;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(m.call("PATCH", "assistants/" + second_id, a, R"({"name":"second"})").status, 200u);
    renaming.join();
    EXPECT_EQ(m.db().scalar("SELECT name FROM assistants WHERE id = '" + second_id + "'"),
              "second");

    m.fake().add_faults(
        json::parse(R"({"method":"GET","path":"^/assistant/","delayAnswerMs":1500,"times":1})"));
    std::thread reading = in_thread("GET", "assistants/" + second_id);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(m.call("DELETE", "assistants/" + second_id, a).status, 200u);
    reading.join();
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    EXPECT_EQ(json_of(m.call("GET", "assistants", a)).as_array().size(), 0u);
}

TEST(ManagePhoneNumbers, AssignRoutesTheServicesOwnAssistantRequestReply) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const auto b = hs256_token("bob");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"Receptionist"})"));
    const std::string bobs = id_of(m.call("POST", "assistants", b, R"({"name":"Bob's"})"));
    const std::string wf = id_of(m.call("POST", "workflows", a, R"({"name":"wf","nodes":[
        {"type":"conversation","name":"n"}],"edges":[]})"));
    ASSERT_FALSE(asst.empty());
    ASSERT_FALSE(wf.empty());
    const std::string pn = id_of(m.call("POST", "phone-numbers", a, R"({"provider":"vapi"})"));
    ASSERT_FALSE(pn.empty());

    // Validation and ownership of the target.
    auto two = m.call("POST", "phone-numbers/" + pn + "/assign", a,
                      R"({"assistantId":")" + asst + R"(","workflowId":")" + wf + R"("})");
    EXPECT_EQ(two.status, 400u);
    auto none = m.call("POST", "phone-numbers/" + pn + "/assign", a, "{}");
    EXPECT_EQ(none.status, 400u);
    auto foreign = m.call("POST", "phone-numbers/" + pn + "/assign", a,
                          R"({"assistantId":")" + bobs + R"("})");
    EXPECT_EQ(foreign.status, 404u) << foreign.body;
    auto not_his = m.call("POST", "phone-numbers/" + pn + "/assign", b,
                          R"({"assistantId":")" + bobs + R"("})");
    EXPECT_EQ(not_his.status, 404u) << not_his.body;

    auto assigned =
        m.call("POST", "phone-numbers", a,
               R"({"action":"assign","id":")" + pn + R"(","assistantId":")" + asst + R"("})");
    ASSERT_EQ(assigned.status, 200u) << assigned.body;
    EXPECT_EQ(json_of(assigned).at("assistantId").as_string(), asst);
    EXPECT_EQ(m.db().scalar("SELECT assistant_id FROM phone_numbers WHERE id = '" + pn + "'"),
              asst);
    // Vapi's number itself stays unrouted, so Vapi asks switchboard.
    for (const auto& p : fake_objects(m.fake(), "phoneNumbers")) {
        EXPECT_FALSE(p.as_object().contains("assistantId"));
    }

    // Vapi's assistant-request for a call on that number: the service's own reply routes it.
    auto body = json::parse(example_file("01-assistant-request.json"));
    body.at("message").at("call").as_object()["phoneNumberId"] = pn;
    body.at("message").at("call").as_object()["id"] = "call-assign-1";
    http_client hook("127.0.0.1", m.port());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    http_reply reply;
    for (;;) {
        reply = hook.post("/receive", json::serialize(body),
                          {{"X-Vapi-Secret", k_secret}, {"Content-Type", "application/json"}});
        if (reply.status == 200 && json_of(reply).is_object() &&
            json_of(reply).as_object().contains("assistantId") &&
            json_of(reply).at("assistantId") == json::value(asst)) {
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(json_of(reply), json::parse(R"({"assistantId":")" + asst + R"("})"));

    // Reassign to a workflow, via update.
    auto upd = m.call("PATCH", "phone-numbers/" + pn, a,
                      R"({"workflowId":")" + wf + R"(","assistantId":null})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(json_of(upd).at("workflowId").as_string(), wf);
    EXPECT_TRUE(json_of(upd).at("assistantId").is_null());
    // The workflow is in use: deleting it is a conflict.
    auto in_use = m.call("DELETE", "workflows/" + wf, a);
    EXPECT_EQ(in_use.status, 409u) << in_use.body;
    EXPECT_THAT(in_use.body, HasSubstr("phone number " + pn));
    // Unroute.
    auto off = m.call("POST", "phone-numbers/" + pn + "/assign", a, R"({"workflowId":null})");
    ASSERT_EQ(off.status, 200u) << off.body;
    // An operator's number routed to it (in SQL) holds it too, and is not named.
    m.db().exec(
        "INSERT INTO phone_numbers (id, owner, provider, workflow_id) VALUES "
        "('operators-line-7', NULL, 'vapi', '" +
        wf + "')");
    auto operators = m.call("DELETE", "workflows/" + wf, a);
    EXPECT_EQ(operators.status, 409u) << operators.body;
    EXPECT_THAT(operators.body, Not(HasSubstr("operators-line-7")));
    EXPECT_THAT(operators.body, HasSubstr("operator"));
    m.db().exec("DELETE FROM phone_numbers WHERE id = 'operators-line-7'");
    EXPECT_EQ(m.db().scalar("SELECT coalesce(workflow_id, 'none') FROM phone_numbers WHERE id = '" +
                            pn + "'"),
              "none");
    EXPECT_EQ(m.call("DELETE", "workflows/" + wf, a).status, 200u);

    // Bob cannot assign, update or release Alice's number.
    EXPECT_EQ(m.call("POST", "phone-numbers/" + pn + "/release", b).status, 404u);
    EXPECT_EQ(m.call("PATCH", "phone-numbers/" + pn, b, R"({"name":"x"})").status, 404u);
    EXPECT_EQ(m.call("DELETE", "phone-numbers/" + pn, b).status, 404u);
    EXPECT_EQ(fake_objects(m.fake(), "phoneNumbers").size(), 1u);
}

// What a claim must not take: a number an operator routes (a row without owner), the calls a
// number carried before it was claimed, and Vapi's route when the claim fails half-way.
TEST(ManagePhoneNumbers, AClaimTakesNeitherOperatorsNumbersNorEarlierCalls) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"A"})"));
    ASSERT_FALSE(asst.empty());

    // An operator routes this org number in SQL.
    const std::string op = org_number(m.fake(), R"({"provider":"vapi","name":"Operator"})");
    m.db().exec("INSERT INTO phone_numbers (id, owner, provider, assistant_id) VALUES ('" + op +
                "', NULL, 'vapi', 'operator-assistant')");
    auto search = m.call("GET", "phone-numbers/search", a);
    ASSERT_EQ(search.status, 200u) << search.body;
    EXPECT_THAT(search.body, Not(HasSubstr(op)));
    EXPECT_THAT(search.body, Not(HasSubstr(k_secret)));
    auto taken = m.call("POST", "phone-numbers", a, R"({"phoneNumberId":")" + op + R"("})");
    EXPECT_EQ(taken.status, 404u) << taken.body;
    EXPECT_EQ(m.db().scalar("SELECT coalesce(owner, '-') || ' ' || assistant_id FROM "
                            "phone_numbers WHERE id = '" +
                            op + "'"),
              "- operator-assistant");

    // A number that carried a call (routed to someone else's assistant) before Alice claims it.
    const std::string n = org_number(m.fake(), R"({"provider":"vapi","name":"Inventory"})");
    http_client hook("127.0.0.1", m.port());
    const header_list h = {{"X-Vapi-Secret", k_secret}, {"Content-Type", "application/json"}};
    auto call_on = [&](const std::string& id, const std::string& created_at) {
        return R"({"message":{"type":"status-update","status":"ended","timestamp":)" +
               std::to_string(unix_millis_now()) + R"(,"call":{"id":")" + id +
               R"(","assistantId":"someone-elses","phoneNumberId":")" + n + R"(","createdAt":")" +
               created_at + R"("}}})";
    };
    ASSERT_EQ(hook.post("/receive", call_on("before-claim", "2026-01-01T00:00:00.000Z"), h).status,
              200u);

    // A claim that Vapi refuses half-way (its PATCH fails) is undone: no row, Vapi unchanged.
    m.fake().add_faults(json::parse(R"({"method":"PATCH","path":"^/phone-number/","status":500,
                                        "times":3})"));
    auto failed = m.call("POST", "phone-numbers", a, R"({"phoneNumberId":")" + n + R"("})");
    EXPECT_EQ(failed.status, 502u) << failed.body;
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM phone_numbers WHERE id = '" + n + "'"), "0");

    auto claimed = m.call("POST", "phone-numbers", a,
                          R"({"phoneNumberId":")" + n + R"(","assistantId":")" + asst + R"("})");
    ASSERT_EQ(claimed.status, 201u) << claimed.body;
    EXPECT_THAT(claimed.body, Not(HasSubstr(k_secret)));
    const auto later = [] {
        const auto t = std::chrono::system_clock::now() + std::chrono::minutes(1);
        const std::time_t tt = std::chrono::system_clock::to_time_t(t);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", std::gmtime(&tt));
        return std::string(buf);
    }();
    ASSERT_EQ(hook.post("/receive", call_on("after-claim", later), h).status, 200u);
    m.db().wait_derived();
    auto calls = m.call("GET", "calls?phoneNumberId=" + n, a);
    ASSERT_EQ(calls.status, 200u) << calls.body;
    const json::value listed = json_of(calls);
    const auto& data = listed.at("data").as_array();
    ASSERT_EQ(data.size(), 1u) << calls.body;
    EXPECT_EQ(data[0].at("id").as_string(), "after-claim");
    EXPECT_EQ(m.call("GET", "calls/before-claim", a).status, 404u);
    EXPECT_EQ(m.call("GET", "calls/after-claim", a).status, 200u);
}

}  // namespace
}  // namespace switchboard::test
