// files and knowledge-bases end to end: multipart upload with its size limit, list/get/update/
// delete, knowledge bases with attach/detach/list files, and isolation between users.
#include "support/manage.hpp"
#include "support/raw_connection.hpp"
#include "support/webhooks.hpp"

#include <boost/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace switchboard::test {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string k_boundary = "----switchboard-test-boundary";

http_reply upload(manage_service& m, const std::string& token, const std::string& name,
                  const std::string& data, const std::string& purpose = "knowledge-base-v2") {
    std::vector<form_part_spec> parts = {{"file", name, "text/plain", data}};
    if (!purpose.empty()) parts.push_back({"purpose", "", "", purpose});
    parts.push_back({"metadata", "", "", R"({"source":"test"})"});
    return m.call("POST", "files", token, multipart_body(parts, k_boundary),
                  {{"Content-Type", "multipart/form-data; boundary=" + k_boundary}});
}

TEST(ManageFiles, UploadListGetUpdateDelete) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-f");
    auto up = upload(m, t, "faq.txt", "Opening hours: 9 to 5.\n");
    ASSERT_EQ(up.status, 201u) << up.body;
    const std::string id = id_of(up);
    auto v = json_of(up);
    EXPECT_EQ(v.at("name").as_string(), "faq.txt");
    EXPECT_EQ(v.at("bytes").to_number<int>(), 23);
    EXPECT_EQ(v.at("purpose").as_string(), "knowledge-base-v2");
    // What Vapi received: the same bytes, purpose and metadata.
    auto sent = m.fake().requests().as_array().back();
    ASSERT_TRUE(sent.as_object().contains("multipart")) << json::serialize(sent);
    EXPECT_EQ(sent.at("multipart").as_array()[0].at("data").as_string(),
              "Opening hours: 9 to 5.\n");
    EXPECT_EQ(m.db().scalar("SELECT bytes FROM files WHERE id = '" + id + "'"), "23");

    ASSERT_EQ(upload(m, t, "other.txt", "x", "assistant").status, 201u);
    EXPECT_EQ(json_of(m.call("GET", "files", t)).as_array().size(), 2u);
    auto kb_only = m.call("GET", "files?purpose=knowledge-base-v2", t);
    ASSERT_EQ(json_of(kb_only).as_array().size(), 1u);
    EXPECT_EQ(json_of(kb_only).as_array()[0].at("id").as_string(), id);
    EXPECT_EQ(m.call("GET", "files/" + id, t).status, 200u);
    auto upd = m.call("PATCH", "files/" + id, t, R"({"name":"faq-v2.txt"})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(m.db().scalar("SELECT name FROM files WHERE id = '" + id + "'"), "faq-v2.txt");
    auto bad = m.call("PATCH", "files/" + id, t, R"({"purpose":"assistant"})");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_THAT(error_of(bad), HasSubstr("only name"));

    // Not multipart, missing file part, bad metadata.
    auto json_upload = m.call("POST", "files", t, R"({"name":"x"})");
    EXPECT_EQ(json_upload.status, 415u) << json_upload.body;
    auto no_file =
        m.call("POST", "files", t, multipart_body({{"purpose", "", "", "assistant"}}, k_boundary),
               {{"Content-Type", "multipart/form-data; boundary=" + k_boundary}});
    EXPECT_EQ(no_file.status, 400u);
    EXPECT_THAT(error_of(no_file), HasSubstr("file"));
    auto bad_meta = m.call(
        "POST", "files", t,
        multipart_body({{"file", "a.txt", "text/plain", "a"}, {"metadata", "", "", "not json"}},
                       k_boundary),
        {{"Content-Type", "multipart/form-data; boundary=" + k_boundary}});
    EXPECT_EQ(bad_meta.status, 400u);

    auto del = m.call("DELETE", "files/" + id, t);
    ASSERT_EQ(del.status, 200u) << del.body;
    EXPECT_EQ(fake_objects(m.fake(), "files").size(), 1u);
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM files"), "1");
}

TEST(ManageFiles, UploadLargerThanTheLimitIs413WithCors) {
    manage_service m(env_list{{"SWITCHBOARD_MAX_UPLOAD_BYTES", "4096"}});
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-f");
    auto small = upload(m, t, "small.txt", std::string(1000, 'a'));
    EXPECT_EQ(small.status, 201u) << small.body;
    auto big = upload(m, t, "big.txt", std::string(8000, 'b'));
    EXPECT_EQ(big.status, 413u) << big.body;
    EXPECT_THAT(error_of(big), HasSubstr("4096"));
    EXPECT_EQ(big.headers["access-control-allow-origin"], "*");
    EXPECT_EQ(fake_objects(m.fake(), "files").size(), 1u);
    // Webhooks keep their own (larger) limit.
    http_client hook("127.0.0.1", m.port());
    auto w = hook.post("/receive", small_webhook("call-big", "hang", 6000),
                       {{"X-Vapi-Secret", k_secret}, {"Content-Type", "application/json"}});
    EXPECT_EQ(w.status, 200u) << w.body;
}

// What a management request is counted for against --max-body-memory while it is handled: an
// upload three times its size (the request, the body forwarded to Vapi, that body's copy for
// the attempt), a JSON body sixteen times (its parsed tree); a JSON body is at most 1 MiB.
TEST(ManageFiles, BodiesCountAgainstTheBodyMemoryAsTheyAreHeld) {
    manage_service m(env_list{{"SWITCHBOARD_MAX_BODY_MEMORY", "2000000"},
                              {"SWITCHBOARD_MAX_BODY_BYTES", "120000"},
                              {"SWITCHBOARD_MAX_UPLOAD_BYTES", "120000"}});
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-f");
    auto held = [&] {
        return metric_value(scrape_metrics(m.port()), "switchboard_http_body_memory_bytes");
    };
    const std::string body =
        multipart_body({{"file", "big.txt", "text/plain", std::string(100'000, 'a')}}, k_boundary);
    const auto head = [&](const std::string& target, const std::string& type, std::size_t length) {
        return "POST /functions/v1/" + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               t + "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(length) +
               "\r\n\r\n";
    };
    const std::string form = "multipart/form-data; boundary=" + k_boundary;
    raw_connection upload_in_progress(m.port());
    ASSERT_TRUE(upload_in_progress.connected());
    ASSERT_TRUE(upload_in_progress.send(head("files", form, body.size()) + body.substr(0, 1000)));
    for (int i = 0; i < 100 && held() != 3.0 * body.size(); ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(held(), 3.0 * body.size());

    // 110 kB of JSON counts 1.76 MB, which does not fit beside the upload's 300 kB: refused
    // before its body is read.
    raw_connection json_body(m.port());
    ASSERT_TRUE(json_body.connected());
    ASSERT_TRUE(json_body.send(head("assistants", "application/json", 110'000)));
    const auto refused = json_body.read_until_closed(5s);
    EXPECT_TRUE(refused.data.starts_with("HTTP/1.1 503")) << refused.data.substr(0, 300);
    EXPECT_THAT(refused.data, HasSubstr("too many large request bodies"));

    ASSERT_TRUE(upload_in_progress.send(body.substr(1000)));
    const auto created = upload_in_progress.read_until("}", 10s);
    EXPECT_TRUE(created.data.starts_with("HTTP/1.1 201")) << created.data.substr(0, 300);
    for (int i = 0; i < 100 && held() != 0; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(held(), 0);
    EXPECT_EQ(fake_objects(m.fake(), "files").size(), 1u);
}

TEST(ManageFiles, AJsonBodyIsAtMostOneMebibyte) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    raw_connection c(m.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(
        c.send("POST /functions/v1/assistants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               hs256_token("user-f") +
               "\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n"));
    const auto refused = c.read_until_closed(5s);
    EXPECT_TRUE(refused.data.starts_with("HTTP/1.1 413")) << refused.data.substr(0, 300);
    EXPECT_THAT(refused.data, HasSubstr("1048576"));
    // An upload may be larger (--max-upload-bytes, 25 MiB by default).
    const std::string file(1'100'000, 'a');
    auto up = upload(m, hs256_token("user-f"), "big.txt", file);
    EXPECT_EQ(up.status, 201u) << up.body.substr(0, 300);
}

TEST(ManageKnowledgeBases, CreateAttachListDetachUpdateDelete) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("user-k");
    auto missing = m.call("POST", "knowledge-bases", t, R"({"description":"no name"})");
    EXPECT_EQ(missing.status, 400u);
    EXPECT_THAT(error_of(missing), HasSubstr("name"));
    auto kb = m.call("POST", "knowledge-bases", t, R"({"name":"FAQ","description":"Hours"})");
    ASSERT_EQ(kb.status, 201u) << kb.body;
    const std::string kb_id = id_of(kb);
    const std::string file = id_of(upload(m, t, "faq.txt", "hours"));
    ASSERT_FALSE(file.empty());

    auto att =
        m.call("POST", "knowledge-bases/" + kb_id + "/files", t, R"({"fileId":")" + file + R"("})");
    ASSERT_EQ(att.status, 201u) << att.body;
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM knowledge_base_files"), "1");
    auto twice =
        m.call("POST", "knowledge-bases", t,
               R"({"action":"attach","id":")" + kb_id + R"(","fileId":")" + file + R"("})");
    EXPECT_EQ(twice.status, 409u) << twice.body;

    auto files = m.call("GET", "knowledge-bases/" + kb_id + "/files", t);
    ASSERT_EQ(files.status, 200u) << files.body;
    ASSERT_EQ(json_of(files).as_array().size(), 1u);
    auto got = m.call("GET", "knowledge-bases/" + kb_id, t);
    ASSERT_EQ(got.status, 200u) << got.body;
    ASSERT_EQ(json_of(got).at("files").as_array().size(), 1u);
    EXPECT_EQ(json_of(m.call("GET", "knowledge-bases", t)).as_array().size(), 1u);

    auto upd = m.call("PATCH", "knowledge-bases/" + kb_id, t, R"({"name":"FAQ 2"})");
    ASSERT_EQ(upd.status, 200u) << upd.body;
    EXPECT_EQ(m.db().scalar("SELECT name FROM knowledge_bases"), "FAQ 2");

    auto det = m.call("DELETE", "knowledge-bases/" + kb_id + "/files/" + file, t);
    ASSERT_EQ(det.status, 200u) << det.body;
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM knowledge_base_files"), "0");
    EXPECT_EQ(json_of(m.call("GET", "knowledge-bases/" + kb_id + "/files", t)).as_array().size(),
              0u);
    auto del = m.call("DELETE", "knowledge-bases/" + kb_id, t);
    ASSERT_EQ(del.status, 200u) << del.body;
    EXPECT_TRUE(fake_objects(m.fake(), "knowledgeBases").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM knowledge_bases"), "0");
}

TEST(ManageIsolation, FilesAndKnowledgeBasesOfAnotherUserAre404) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto a = hs256_token("alice");
    const auto b = hs256_token("bob");
    const std::string a_file = id_of(upload(m, a, "a.txt", "alice"));
    const std::string a_kb = id_of(m.call("POST", "knowledge-bases", a, R"({"name":"A"})"));
    const std::string b_kb = id_of(m.call("POST", "knowledge-bases", b, R"({"name":"B"})"));
    ASSERT_FALSE(a_file.empty());
    ASSERT_FALSE(a_kb.empty());
    ASSERT_FALSE(b_kb.empty());
    EXPECT_EQ(json_of(m.call("GET", "files", b)).as_array().size(), 0u);
    EXPECT_EQ(m.call("GET", "files/" + a_file, b).status, 404u);
    EXPECT_EQ(m.call("PATCH", "files/" + a_file, b, R"({"name":"x"})").status, 404u);
    EXPECT_EQ(m.call("DELETE", "files/" + a_file, b).status, 404u);
    // Bob cannot attach Alice's file to his own knowledge base...
    auto att = m.call("POST", "knowledge-bases/" + b_kb + "/files", b,
                      R"({"fileId":")" + a_file + R"("})");
    EXPECT_EQ(att.status, 404u) << att.body;
    // ...nor touch Alice's knowledge base.
    EXPECT_EQ(json_of(m.call("GET", "knowledge-bases", b)).as_array().size(), 1u);
    EXPECT_EQ(m.call("GET", "knowledge-bases/" + a_kb, b).status, 404u);
    EXPECT_EQ(m.call("GET", "knowledge-bases/" + a_kb + "/files", b).status, 404u);
    EXPECT_EQ(m.call("DELETE", "knowledge-bases/" + a_kb + "/files/" + a_file, b).status, 404u);
    EXPECT_EQ(m.call("DELETE", "knowledge-bases/" + a_kb, b).status, 404u);
    EXPECT_EQ(fake_objects(m.fake(), "knowledgeBases").size(), 2u);
    EXPECT_EQ(fake_objects(m.fake(), "files").size(), 1u);

    // ...nor have his assistants read Alice's file or knowledge base to his callers.
    const auto with_file = [](const std::string& file) {
        return R"({"name":"reader","model":{"provider":"openai","model":"gpt-4o",
                   "tools":[{"type":"query","knowledgeBases":[{"name":"kb","provider":"google",
                   "description":"d","fileIds":[")" +
               file + R"("]}]}]}})";
    };
    auto reader = m.call("POST", "assistants", b, with_file(a_file));
    EXPECT_EQ(reader.status, 404u) << reader.body;
    EXPECT_THAT(reader.body, HasSubstr("file " + a_file + " not found"));
    const std::string b_asst = id_of(m.call("POST", "assistants", b, R"({"name":"own"})"));
    ASSERT_FALSE(b_asst.empty());
    auto patched = m.call("PATCH", "assistants/" + b_asst, b,
                          R"({"model":{"provider":"openai","model":"gpt-4o",
                              "knowledgeBaseId":")" +
                              a_kb + R"("}})");
    EXPECT_EQ(patched.status, 404u) << patched.body;
    auto workflow = m.call("POST", "workflows", b,
                           R"({"name":"w","nodes":[{"type":"conversation","name":"start",
                               "model":{"provider":"openai","model":"gpt-4o",
                               "knowledgeBaseId":")" +
                               a_kb + R"("}}],"edges":[]})");
    EXPECT_EQ(workflow.status, 404u) << workflow.body;
    EXPECT_EQ(fake_objects(m.fake(), "assistants").size(), 1u);  // only Bob's "own"
    EXPECT_EQ(fake_objects(m.fake(), "workflows").size(), 0u);
    // Alice may use her own.
    auto hers = m.call("POST", "assistants", a, with_file(a_file));
    EXPECT_EQ(hers.status, 201u) << hers.body;
}

}  // namespace
}  // namespace switchboard::test
