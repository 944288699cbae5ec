#include "call_script.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace switchboard::load {
namespace json = boost::json;

namespace {

constexpr std::string_view k_example_call = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
constexpr std::string_view k_example_tool = "call_Xq4mB7nR2tL9vK1pZ8wD3hYc";

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
}

/// Loads an example, puts the call id and tool id placeholders in, and returns its message.
json::value load(const std::string& dir, const char* name) {
    std::string text = read(dir + "/" + name);
    replace_all(text, k_example_call, "@@CALL_ID@@");
    replace_all(text, k_example_tool, "@@TOOL_ID@@");
    return json::parse(text);
}

std::string escape(std::string_view s) {
    std::string out = json::serialize(json::string(s));
    return out.substr(1, out.size() - 2);
}

/// Raw-JSON slots (the placeholder replaces a whole JSON value, quotes included).
bool is_raw(body_template::slot s) {
    using slot = body_template::slot;
    return s == slot::timestamp || s == slot::turn || s == slot::messages || s == slot::openai;
}

}  // namespace

body_template::body_template(const std::string& text) {
    static const std::pair<std::string_view, slot> k_names[] = {
        {"CALL_ID", slot::call_id},
        {"TIMESTAMP", slot::timestamp},
        {"STATUS", slot::status},
        {"ROLE", slot::role},
        {"TURN", slot::turn},
        {"TRANSCRIPT_TYPE", slot::transcript_type},
        {"TEXT", slot::text},
        {"TOOL_ID", slot::tool_id},
        {"MESSAGES", slot::messages},
        {"OPENAI", slot::openai},
        {"TRANSCRIPT_LOG", slot::transcript_log}};
    std::size_t pos = 0;
    std::string piece;
    while (pos < text.size()) {
        const auto at = text.find("@@", pos);
        if (at == std::string::npos) break;
        const auto end = text.find("@@", at + 2);
        if (end == std::string::npos) break;
        const std::string_view name(text.data() + at + 2, end - at - 2);
        std::optional<slot> found;
        for (auto [n, s] : k_names) {
            if (n == name) found = s;
        }
        if (!found) throw std::runtime_error("unknown placeholder " + std::string(name));
        std::size_t cut = at;
        std::size_t resume = end + 2;
        if (is_raw(*found)) {  // drop the quotes around the placeholder
            --cut;
            ++resume;
        }
        piece.append(text, pos, cut - pos);
        pieces_.push_back(std::move(piece));
        piece.clear();
        slots_.push_back(*found);
        pos = resume;
    }
    piece.append(text, pos);
    pieces_.push_back(std::move(piece));
}

void body_template::render(const values& v, std::string& out) const {
    out.clear();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        out += pieces_[i];
        switch (slots_[i]) {
            case slot::call_id:
                out += v.call_id;
                break;
            case slot::timestamp:
                out += std::to_string(v.timestamp);
                break;
            case slot::status:
                out += v.status;
                break;
            case slot::role:
                out += v.role;
                break;
            case slot::turn:
                out += std::to_string(v.turn);
                break;
            case slot::transcript_type:
                out += v.transcript_type;
                break;
            case slot::text:
                out += v.text;
                break;
            case slot::tool_id:
                out += v.tool_id;
                break;
            case slot::messages:
                out += '[', out += v.messages, out += ']';
                break;
            case slot::openai:
                out += '[', out += v.openai, out += ']';
                break;
            case slot::transcript_log:
                out += v.transcript_log;
                break;
        }
    }
    out += pieces_.back();
}

namespace {

std::string make(json::value doc) {
    return json::serialize(doc);
}

json::object& msg(json::value& doc) {
    return doc.as_object()["message"].as_object();
}

}  // namespace

call_templates::call_templates(const std::string& dir)
    : status_update([&] {
          auto d = load(dir, "02-status-update-queued.json");
          msg(d)["status"] = "@@STATUS@@";
          msg(d)["timestamp"] = "@@TIMESTAMP@@";
          msg(d)["call"].as_object()["status"] = "@@STATUS@@";
          return make(d);
      }()),
      speech_update([&] {
          auto d = load(dir, "05-speech-update.json");
          msg(d)["status"] = "@@STATUS@@";
          msg(d)["role"] = "@@ROLE@@";
          msg(d)["turn"] = "@@TURN@@";
          msg(d)["timestamp"] = "@@TIMESTAMP@@";
          return make(d);
      }()),
      transcript([&] {
          auto d = load(dir, "07-transcript-final.json");
          msg(d)["role"] = "@@ROLE@@";
          msg(d)["transcriptType"] = "@@TRANSCRIPT_TYPE@@";
          msg(d)["transcript"] = "@@TEXT@@";
          msg(d)["timestamp"] = "@@TIMESTAMP@@";
          return make(d);
      }()),
      conversation_update([&] {
          auto d = load(dir, "10-conversation-update.json");
          msg(d)["messages"] = "@@MESSAGES@@";
          msg(d)["messagesOpenAIFormatted"] = "@@OPENAI@@";
          msg(d)["timestamp"] = "@@TIMESTAMP@@";
          return make(d);
      }()),
      tool_calls([&] {
          auto d = load(dir, "08-tool-calls.json");
          auto& artifact = msg(d)["artifact"].as_object();
          artifact["messages"] = "@@MESSAGES@@";
          artifact["messagesOpenAIFormatted"] = "@@OPENAI@@";
          msg(d)["timestamp"] = "@@TIMESTAMP@@";
          return make(d);
      }()),
      end_of_call_report([&] {
          auto d = load(dir, "12-end-of-call-report.json");
          auto& artifact = msg(d)["artifact"].as_object();
          artifact["messages"] = "@@MESSAGES@@";
          artifact["messagesOpenAIFormatted"] = "@@OPENAI@@";
          artifact["transcript"] = "@@TRANSCRIPT_LOG@@";
          msg(d)["timestamp"] = "@@TIMESTAMP@@";
          return make(d);
      }()) {
    const auto eocr = json::parse(read(dir + "/12-end-of-call-report.json"));
    for (const auto& item : eocr.at("message").at("artifact").at("messages").as_array()) {
        const auto& o = item.as_object();
        const auto role = o.at("role").as_string();
        if (!o.contains("message")) continue;
        const std::string text = escape(o.at("message").as_string());
        if (role == "user") user_lines.push_back(text);
        if (role == "bot") bot_lines.push_back(text);
    }
    if (user_lines.empty() || bot_lines.empty())
        throw std::runtime_error("no conversation lines in examples");
}

call_script::call_script(const call_templates& t, std::string id, int turns, std::int64_t start_ms)
    : t_(t), id_(std::move(id)), turns_(turns), start_ms_(start_ms) {
    int per_turns = 0;
    for (int turn = 0; turn < turns_; ++turn) per_turns += turn % 3 == 2 ? 8 : 7;
    total_steps_ = 3 + per_turns + 2;
    messages_ =
        R"({"role":"system","message":"You are Riley, the scheduling assistant for Maple Street Dental.","time":)" +
        std::to_string(start_ms_) + R"(,"secondsFromStart":0})";
    openai_ =
        R"({"role":"system","content":"You are Riley, the scheduling assistant for Maple Street Dental."})";
}

void call_script::add_turn_items(int turn) {
    const auto& bot = t_.bot_lines[static_cast<std::size_t>(turn) % t_.bot_lines.size()];
    const auto& user = t_.user_lines[static_cast<std::size_t>(turn) % t_.user_lines.size()];
    const std::int64_t t0 = start_ms_ + 2000 + turn * 9000;
    const auto item = [&](const char* role, const std::string& text, std::int64_t at,
                          std::int64_t dur) {
        messages_ += R"(,{"role":")";
        messages_ += role;
        messages_ += R"(","message":")" + text + R"(","time":)" + std::to_string(at) +
                     R"(,"endTime":)" + std::to_string(at + dur) + R"(,"secondsFromStart":)" +
                     std::to_string(static_cast<double>(at - start_ms_) / 1000.0) +
                     R"(,"duration":)" + std::to_string(dur) + "}";
        openai_ += std::string(R"(,{"role":")") +
                   (std::string_view(role) == "bot" ? "assistant" : "user") + R"(","content":")" +
                   text + R"("})";
        transcript_log_ += std::string_view(role) == "bot" ? "AI: " : "User: ";
        transcript_log_ += text;
        transcript_log_ += "\\n";
    };
    item("bot", bot, t0, 3500);
    item("user", user, t0 + 4500, 3000);
}

std::int64_t call_script::next(std::string& out) {
    const int step = step_++;
    const std::int64_t ts = start_ms_ + step * 700LL + 1;
    body_template::values v;
    v.call_id = id_;
    v.timestamp = ts;
    static constexpr std::string_view k_statuses[] = {"queued", "ringing", "in-progress"};
    if (step < 3) {
        v.status = k_statuses[step];
        t_.status_update.render(v, out);
        return ts;
    }
    if (step == total_steps_ - 2) {
        v.status = "ended";
        t_.status_update.render(v, out);
        return ts;
    }
    if (step == total_steps_ - 1) {
        v.messages = messages_;
        v.openai = openai_;
        v.transcript_log = transcript_log_;
        t_.end_of_call_report.render(v, out);
        return ts;
    }
    // Locate (turn, phase) of this step.
    int s = step - 3;
    int turn = 0;
    for (;; ++turn) {
        const int len = turn % 3 == 2 ? 8 : 7;
        if (s < len) break;
        s -= len;
    }
    v.turn = turn;
    const auto& user = t_.user_lines[static_cast<std::size_t>(turn) % t_.user_lines.size()];
    const std::string tool_id = "call_" + id_.substr(0, 8) + "_" + std::to_string(turn);
    switch (s) {
        case 0:
            v.status = "started", v.role = "assistant";
            t_.speech_update.render(v, out);
            break;
        case 1:
            v.status = "stopped", v.role = "assistant";
            t_.speech_update.render(v, out);
            break;
        case 2:
            v.status = "started", v.role = "user";
            t_.speech_update.render(v, out);
            break;
        case 3:
            v.role = "user", v.transcript_type = "partial";
            v.text = std::string_view(user).substr(0, user.size() / 2);
            t_.transcript.render(v, out);
            break;
        case 4:
            v.role = "user", v.transcript_type = "final", v.text = user;
            t_.transcript.render(v, out);
            break;
        case 5:
            v.status = "stopped", v.role = "user";
            t_.speech_update.render(v, out);
            break;
        case 6:
            add_turn_items(turn);
            v.messages = messages_;
            v.openai = openai_;
            t_.conversation_update.render(v, out);
            break;
        default:
            v.tool_id = tool_id;
            v.messages = messages_;
            v.openai = openai_;
            t_.tool_calls.render(v, out);
            break;
    }
    return ts;
}

}  // namespace switchboard::load
