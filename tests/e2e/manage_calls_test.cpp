// calls end to end: the caller's calls from switchboard's own tables, with filters and cursor
// pagination, one call with its turns and events, and isolation between users.
#include "support/manage.hpp"
#include "support/webhooks.hpp"

#include <boost/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <thread>

namespace switchboard::test {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

void insert_call(test_db& db, const std::string& id, const std::string& assistant,
                 const std::string& phone, const std::string& status, int minute) {
    db.exec(
        "INSERT INTO calls (id, type, status, assistant_id, phone_number_id, customer_number, "
        "created_at, first_event_at, last_event_at, cost) VALUES ('" +
        id + "', 'inboundPhoneCall', '" + status + "', " +
        (assistant.empty() ? "NULL" : "'" + assistant + "'") + ", " +
        (phone.empty() ? "NULL" : "'" + phone + "'") +
        ", '+15550001111', timestamptz '2026-01-01 10:00:00+00' + interval '" +
        std::to_string(minute) + " minutes', now(), now(), 0.25)");
}

TEST(ManageCalls, ListsOnlyTheCallersCallsWithFiltersAndCursor) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const auto b = hs256_token("bob");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"A"})"));
    const std::string bob_asst = id_of(m.call("POST", "assistants", b, R"({"name":"B"})"));
    const std::string pn = id_of(m.call("POST", "phone-numbers", a, R"({"provider":"vapi"})"));
    ASSERT_FALSE(asst.empty());
    ASSERT_FALSE(pn.empty());
    // Alice: 5 calls by assistant, 2 by phone number only; Bob: 1; nobody's: 1.
    for (int i = 0; i < 5; ++i) {
        insert_call(m.db(), "a-" + std::to_string(i), asst, "",
                    i % 2 == 0 ? "ended" : "in-progress", i);
    }
    insert_call(m.db(), "p-0", "", pn, "ended", 10);
    insert_call(m.db(), "p-1", "other-assistant", pn, "ended", 11);
    insert_call(m.db(), "b-0", bob_asst, "", "ended", 12);
    insert_call(m.db(), "x-0", "stranger", "", "ended", 13);

    auto all = m.call("GET", "calls", a);
    ASSERT_EQ(all.status, 200u) << all.body;
    auto v = json_of(all);
    ASSERT_EQ(v.at("data").as_array().size(), 7u);
    EXPECT_TRUE(v.at("nextCursor").is_null());
    EXPECT_EQ(v.at("data").as_array()[0].at("id").as_string(), "p-1");  // newest first
    const auto& first = v.at("data").as_array()[0];
    EXPECT_EQ(first.at("customer").at("number").as_string(), "+15550001111");
    EXPECT_EQ(first.at("createdAt").as_string(), "2026-01-01T10:11:00.000Z");

    // Pages of 3 with the cursor, nothing repeated or skipped.
    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = m.call("GET", "calls?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), a);
        ASSERT_EQ(page.status, 200u) << page.body;
        auto p = json_of(page);
        for (const auto& c : p.at("data").as_array()) {
            EXPECT_TRUE(seen.insert(std::string(c.at("id").as_string())).second);
        }
        cursor = p.at("nextCursor").is_null() ? "" : std::string(p.at("nextCursor").as_string());
        ++pages;
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen.size(), 7u);

    // Filters, by query and in the POST payload.
    EXPECT_EQ(json_of(m.call("GET", "calls?assistantId=" + asst, a)).at("data").as_array().size(),
              5u);
    EXPECT_EQ(json_of(m.call("GET", "calls?phoneNumberId=" + pn, a)).at("data").as_array().size(),
              2u);
    EXPECT_EQ(json_of(m.call("GET", "calls?status=in-progress", a)).at("data").as_array().size(),
              2u);
    auto ranged = m.call("POST", "calls", a,
                         R"({"action":"list","data":{"createdAtGe":"2026-01-01T10:02:00Z",
                             "createdAtLt":"2026-01-01T10:10:00Z"}})");
    ASSERT_EQ(ranged.status, 200u) << ranged.body;
    EXPECT_EQ(json_of(ranged).at("data").as_array().size(), 3u);  // a-2, a-3, a-4
    EXPECT_EQ(m.call("GET", "calls?createdAtGe=yesterday", a).status, 400u);
    auto impossible = m.call("GET", "calls?createdAtLt=2026-02-30T00:00:00Z", a);
    EXPECT_EQ(impossible.status, 400u) << impossible.body;
    EXPECT_THAT(json_error_text(impossible.body).value_or(""), HasSubstr("createdAtLt"));
    EXPECT_EQ(m.call("GET", "calls?limit=201", a).status, 400u);

    // Bob sees only his call; Alice's call is 404 for him.
    auto bobs = json_of(m.call("GET", "calls", b));
    ASSERT_EQ(bobs.at("data").as_array().size(), 1u);
    EXPECT_EQ(bobs.at("data").as_array()[0].at("id").as_string(), "b-0");
    EXPECT_EQ(m.call("GET", "calls/a-0", b).status, 404u);
    EXPECT_EQ(m.call("GET", "calls/x-0", a).status, 404u);
    EXPECT_EQ(m.call("GET", "calls/a-0", a).status, 200u);
}

TEST(ManageCalls, GetHasTurnsAndEventsFromIngestedWebhooks) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"A"})"));
    ASSERT_FALSE(asst.empty());
    // A real call through the webhook path: status-update then an end-of-call report.
    const std::string call_id = "call-turns-1";
    const long long t0 = unix_millis_now();
    auto msg = [&](const std::string& type, long long ts, const std::string& extra) {
        return R"({"message":{"type":")" + type + R"(","timestamp":)" + std::to_string(ts) +
               R"(,"call":{"id":")" + call_id + R"(","assistantId":")" + asst +
               R"(","createdAt":"2026-02-01T09:00:00.000Z"})" + extra + "}}";
    };
    http_client hook("127.0.0.1", m.port());
    const header_list h = {{"X-Vapi-Secret", k_secret}, {"Content-Type", "application/json"}};
    ASSERT_EQ(
        hook.post("/receive", msg("status-update", t0, R"(,"status":"in-progress")"), h).status,
        200u);
    ASSERT_EQ(hook.post("/receive",
                        msg("conversation-update", t0 + 1000,
                            R"(,"messages":[{"role":"bot","message":"Hello","time":)" +
                                std::to_string(t0) + R"(,"secondsFromStart":0},
                                {"role":"user","message":"Hi","time":)" +
                                std::to_string(t0 + 500) + R"(,"secondsFromStart":0.5}])"),
                        h)
                  .status,
              200u);
    m.db().wait_derived();  // the call's row and turns follow its messages within a delay
    auto got = m.call("GET", "calls/" + call_id, a);
    ASSERT_EQ(got.status, 200u) << got.body;
    auto v = json_of(got);
    EXPECT_EQ(v.at("assistantId").as_string(), asst);
    ASSERT_EQ(v.at("events").as_array().size(), 2u) << got.body;
    EXPECT_EQ(v.at("events").as_array()[0].at("type").as_string(), "status-update");
    EXPECT_EQ(v.at("events").as_array()[0].at("timestamp").to_number<long long>(), t0);
    EXPECT_TRUE(v.at("events").as_array()[1].as_object().contains("receivedAt"));
    ASSERT_EQ(v.at("messages").as_array().size(), 2u) << got.body;
    EXPECT_EQ(v.at("messages").as_array()[0].at("role").as_string(), "bot");
    EXPECT_EQ(v.at("messages").as_array()[1].at("message").as_string(), "Hi");
    // Also reachable with the action form.
    auto post = m.call("POST", "calls", a, R"({"action":"get","id":")" + call_id + R"("})");
    EXPECT_EQ(post.status, 200u) << post.body;
    EXPECT_EQ(m.call("GET", "calls/" + call_id, hs256_token("bob")).status, 404u);
}

// A call's events come in pages (eventsLimit, eventsCursor), in the order of one whole answer,
// each event once; events of the same millisecond are not split or repeated at a page's edge.
TEST(ManageCalls, GetGivesTheEventsInPages) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"A"})"));
    ASSERT_FALSE(asst.empty());
    const std::string call_id = "call-event-pages";
    const long long t0 = unix_millis_now();
    http_client hook("127.0.0.1", m.port());
    const header_list h = {{"X-Vapi-Secret", k_secret}, {"Content-Type", "application/json"}};
    // Ten messages, in the order they are expected back: three in one millisecond (told apart
    // by their status; they come in the order of their arrival), and three far in the future,
    // past 2^53 microseconds (the year 5138), where a cursor must still be exact.
    constexpr long long k_far = 99'999'999'999'998;
    const std::vector<std::pair<long long, std::string>> sent = {
        {t0, "queued"},          {t0 + 1, "ringing"},
        {t0 + 2, "in-progress"}, {t0 + 2, "forwarding"},
        {t0 + 2, "ended"},       {t0 + 3, "in-progress"},
        {t0 + 4, "ended"},       {k_far, "queued"},
        {k_far + 1, "ringing"},  {k_far + 1, "in-progress"}};
    for (const auto& [ts, status] : sent) {
        const std::string body = R"({"message":{"type":"status-update","timestamp":)" +
                                 std::to_string(ts) + R"(,"status":")" + status +
                                 R"(","call":{"id":")" + call_id + R"(","assistantId":")" + asst +
                                 R"("}}})";
        ASSERT_EQ(hook.post("/receive", body, h).status, 200u);
    }
    m.db().wait_derived();

    auto whole = m.call("GET", "calls/" + call_id, a);
    ASSERT_EQ(whole.status, 200u) << whole.body;
    const json::value all = json_of(whole);
    ASSERT_EQ(all.at("events").as_array().size(), sent.size()) << whole.body;
    EXPECT_TRUE(all.at("eventsNextCursor").is_null());
    for (std::size_t i = 0; i < sent.size(); ++i) {
        const auto& e = all.at("events").as_array()[i];
        EXPECT_EQ(e.at("timestamp").to_number<long long>(), sent[i].first) << i;
        if (i > 0 && sent[i].first == sent[i - 1].first) {  // arrival order within the ms
            EXPECT_GE(e.at("receivedAt").as_string(),
                      all.at("events").as_array()[i - 1].at("receivedAt").as_string())
                << i;
        }
    }

    json::array paged;
    std::string cursor;
    int pages = 0;
    do {
        std::string target = "calls/" + call_id + "?eventsLimit=2";
        if (!cursor.empty()) target += "&eventsCursor=" + cursor;
        auto page = m.call("GET", target, a);
        ASSERT_EQ(page.status, 200u) << page.body;
        const json::value v = json_of(page);
        ASSERT_LE(v.at("events").as_array().size(), 2u);
        for (const auto& e : v.at("events").as_array()) paged.push_back(e);
        cursor = v.at("eventsNextCursor").is_null()
                     ? std::string()
                     : std::string(v.at("eventsNextCursor").as_string());
        ++pages;
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(pages, 5);
    EXPECT_EQ(json::value(paged), all.at("events"));
    // One at a time across the same millisecond and past 2^53 µs: each once, none skipped.
    json::array singly;
    cursor.clear();
    pages = 0;
    do {
        std::string target = "calls/" + call_id + "?eventsLimit=1";
        if (!cursor.empty()) target += "&eventsCursor=" + cursor;
        const json::value v = json_of(m.call("GET", target, a));
        for (const auto& e : v.at("events").as_array()) singly.push_back(e);
        cursor = v.at("eventsNextCursor").is_null()
                     ? std::string()
                     : std::string(v.at("eventsNextCursor").as_string());
        ++pages;
    } while (!cursor.empty() && pages < 20);
    EXPECT_EQ(json::value(singly), all.at("events"));

    // The action form takes the same parameters.
    auto post = m.call("POST", "calls", a,
                       R"({"action":"get","id":")" + call_id + R"(","eventsLimit":10})");
    ASSERT_EQ(post.status, 200u) << post.body;
    EXPECT_TRUE(json_of(post).at("eventsNextCursor").is_null());

    for (const std::string bad : {"eventsLimit=0", "eventsLimit=10001", "eventsLimit=x",
                                  "eventsCursor=not-a-cursor", "eventsCursor=%2F%2F"}) {
        auto r = m.call("GET", "calls/" + call_id + "?" + bad, a);
        EXPECT_EQ(r.status, 400u) << bad << ": " << r.body;
    }
}

// What the API gives back of a call is what was stored: nulls inside stored values stay, the
// status is there even when unknown; any call id ingest takes can be read and paged past; a
// number an operator gives to someone else shows them its calls from then on only.
TEST(ManageCalls, StoredValuesIdsAndOwnersAsTheyAre) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const auto b = hs256_token("bob");
    const std::string asst = id_of(m.call("POST", "assistants", a, R"({"name":"A"})"));
    ASSERT_FALSE(asst.empty());

    insert_call(m.db(), "with-nulls", asst, "", "ended", 1);
    m.db().exec(R"(UPDATE calls SET status = NULL, structured_data = '{"date": null, "name": "x"}',
                   costs = '[{"type": "model", "minutes": null}]' WHERE id = 'with-nulls')");
    auto got = m.call("GET", "calls/with-nulls", a);
    ASSERT_EQ(got.status, 200u) << got.body;
    auto v = json_of(got);
    EXPECT_TRUE(v.at("status").is_null()) << got.body;
    EXPECT_EQ(v.at("analysis").at("structuredData"), json::parse(R"({"date": null, "name": "x"})"));
    EXPECT_EQ(v.at("costs"), json::parse(R"([{"type": "model", "minutes": null}])"));
    EXPECT_FALSE(v.as_object().contains("endedReason")) << got.body;  // no value: left out
    // A POST to a call reads it, whatever its body.
    EXPECT_EQ(m.call("POST", "calls/with-nulls", a, R"({"x":1})").status, 200u);

    // A long id with spaces and slashes (a chat's, say), the newest call: read by its id, and
    // the page before it ends with a cursor that leads on.
    const std::string odd = "chat / " + std::string(150, 'z') + " ?#%";
    insert_call(m.db(), "placeholder", asst, "", "ended", 30);
    m.db().exec("UPDATE calls SET id = '" + odd + "' WHERE id = 'placeholder'");
    std::string encoded;
    for (unsigned char ch : odd) {
        static const char hex[] = "0123456789ABCDEF";
        if (std::isalnum(ch) != 0) {
            encoded += static_cast<char>(ch);
        } else {
            encoded += '%';
            encoded += hex[ch >> 4];
            encoded += hex[ch & 0xF];
        }
    }
    auto long_one = m.call("GET", "calls/" + encoded, a);
    ASSERT_EQ(long_one.status, 200u) << long_one.body;
    EXPECT_EQ(json_of(long_one).at("id").as_string(), odd);
    auto first = m.call("GET", "calls?limit=1", a);
    ASSERT_EQ(first.status, 200u) << first.body;
    EXPECT_EQ(json_of(first).at("data").as_array()[0].at("id").as_string(), odd);
    const std::string cursor(json_of(first).at("nextCursor").as_string());
    auto second = m.call("GET", "calls?limit=1&cursor=" + cursor, a);
    ASSERT_EQ(second.status, 200u) << second.body;
    EXPECT_EQ(json_of(second).at("data").as_array()[0].at("id").as_string(), "with-nulls");
    auto bad = m.call("GET", "calls?cursor=" + std::string(40, 'A'), a);
    EXPECT_EQ(bad.status, 400u) << bad.body;

    // Alice's number, with a call; the operator gives it to Bob in SQL.
    const std::string pn = id_of(m.call("POST", "phone-numbers", a, R"({"provider":"vapi"})"));
    ASSERT_FALSE(pn.empty());
    insert_call(m.db(), "on-alices-number", "", pn, "ended", 40);
    m.db().exec(
        "UPDATE calls SET created_at = now() - interval '1 minute' "
        "WHERE id = 'on-alices-number'");
    EXPECT_EQ(m.call("GET", "calls/on-alices-number", a).status, 200u);
    // A call that is hers two ways (her assistant on her number) is listed once.
    insert_call(m.db(), "both-ways", asst, pn, "ended", 50);
    const json::value listed = json_of(m.call("GET", "calls?limit=200", a));
    int both = 0;
    for (const auto& call : listed.at("data").as_array()) both += call.at("id") == "both-ways";
    EXPECT_EQ(both, 1) << json::serialize(listed);
    EXPECT_EQ(listed.at("data").as_array().size(), 4u) << json::serialize(listed);
    m.db().exec("UPDATE phone_numbers SET owner = 'bob' WHERE id = '" + pn + "'");
    EXPECT_EQ(m.call("GET", "calls/on-alices-number", b).status, 404u);
    EXPECT_EQ(json_of(m.call("GET", "calls?phoneNumberId=" + pn, b)).at("data").as_array().size(),
              0u);
    insert_call(m.db(), "on-bobs-number", "", pn, "ended", 41);
    m.db().exec(
        "UPDATE calls SET created_at = now() + interval '1 minute' "
        "WHERE id = 'on-bobs-number'");
    EXPECT_EQ(m.call("GET", "calls/on-bobs-number", b).status, 200u);
}

}  // namespace
}  // namespace switchboard::test
