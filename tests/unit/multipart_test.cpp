// http::parse_multipart on hand-written bodies and on bodies made by real clients (curl 7.88
// -F, and Node 20's FormData via undici), committed under tests/unit/data.
#include "switchboard/http/multipart.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

namespace switchboard::http {
namespace {

std::string read_data(const std::string& name) {
    std::ifstream in(std::string(SWITCHBOARD_UNIT_DATA_DIR) + "/" + name, std::ios::binary);
    if (!in) throw std::runtime_error("missing test data " + name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct parsed {
    std::optional<std::vector<multipart_part>> parts;
    std::string error;
};

parsed parse(std::string_view content_type, std::string_view body) {
    parsed p;
    p.parts = parse_multipart(content_type, body, p.error);
    return p;
}

constexpr std::string_view form = "multipart/form-data; boundary=XyZ";

TEST(Multipart, ParsesABodyMadeByCurl) {
    const std::string content_type = read_data("multipart_curl.content-type");
    const std::string body = read_data("multipart_curl.body");
    const parsed p = parse(content_type, body);
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 5u);
    const auto& parts = *p.parts;
    EXPECT_EQ(parts[0].name, "purpose");
    EXPECT_EQ(parts[0].data, "assistant");
    EXPECT_FALSE(parts[0].has_filename);
    EXPECT_EQ(parts[0].content_type, "");
    EXPECT_EQ(parts[1].name, "metadata");
    EXPECT_EQ(parts[1].data, R"({"a":1,"b":"x y"})");
    EXPECT_EQ(parts[2].name, "file");
    EXPECT_TRUE(parts[2].has_filename);
    EXPECT_EQ(parts[2].filename, R"(report "q3" \final.bin)");  // curl --form-escape
    EXPECT_EQ(parts[2].content_type, "application/octet-stream");
    EXPECT_EQ(parts[2].data, read_data("multipart_upload.bin"));
    EXPECT_EQ(parts[3].name, "notes");
    EXPECT_EQ(parts[3].filename, "notes.txt");
    EXPECT_EQ(parts[3].content_type, "text/plain");
    EXPECT_EQ(parts[3].data, "hello\nworld\n");
    EXPECT_EQ(parts[4].name, "empty");
    EXPECT_EQ(parts[4].data, "");
    // views into the body, not copies
    EXPECT_GE(parts[2].data.data(), body.data());
    EXPECT_LE(parts[2].data.data() + parts[2].data.size(), body.data() + body.size());
}

TEST(Multipart, ParsesABodyMadeByNodeFormData) {
    const std::string body = read_data("multipart_node.body");  // the parts view it
    const parsed p = parse(read_data("multipart_node.content-type"), body);
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 4u);
    const auto& parts = *p.parts;
    EXPECT_EQ(parts[0].name, "purpose");
    EXPECT_EQ(parts[0].data, "assistant");
    EXPECT_EQ(parts[1].data, R"({"a":1,"note":"line\r\nbreak"})");
    EXPECT_EQ(parts[2].name, "file");
    // WHATWG FormData percent-encodes '"' in filenames; that is left as sent.
    EXPECT_EQ(parts[2].filename, "R\xC3\xA9sum\xC3\xA9 %22final%22.pdf");
    EXPECT_EQ(parts[2].content_type, "application/pdf");
    EXPECT_EQ(parts[2].data, read_data("multipart_upload.bin"));
    EXPECT_EQ(parts[3].name, "blank");
    EXPECT_FALSE(parts[3].has_filename);  // undici leaves out an empty filename
    EXPECT_EQ(parts[3].filename, "");
    EXPECT_EQ(parts[3].content_type, "application/octet-stream");
    EXPECT_EQ(parts[3].data, "");
}

TEST(Multipart, AcceptsQuotedAndBareBoundaries) {
    const std::string body =
        "--a:b c\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--a:b c--\r\n";
    const parsed quoted = parse(R"(multipart/form-data; charset=utf-8; BOUNDARY="a:b c")", body);
    ASSERT_TRUE(quoted.parts) << quoted.error;
    ASSERT_EQ(quoted.parts->size(), 1u);
    EXPECT_EQ((*quoted.parts)[0].data, "1");

    const parsed bare =
        parse("Multipart/Form-Data;boundary=XyZ ",
              "--XyZ\r\nContent-Disposition: form-data; name=x\r\n\r\n2\r\n--XyZ--");
    ASSERT_TRUE(bare.parts) << bare.error;
    ASSERT_EQ(bare.parts->size(), 1u);
    EXPECT_EQ((*bare.parts)[0].name, "x");
    EXPECT_EQ((*bare.parts)[0].data, "2");
}

TEST(Multipart, ToleratesBareLf) {
    const parsed p = parse(form,
                           "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nline1\nline2\n"
                           "--XyZ\ncontent-disposition: form-data; name=\"b\"\n\n\n--XyZ--\n");
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 2u);
    EXPECT_EQ((*p.parts)[0].data, "line1\nline2");
    EXPECT_EQ((*p.parts)[1].data, "");
}

TEST(Multipart, IgnoresPreambleAndEpilogue) {
    const parsed p = parse(form,
                           "This is the preamble.\r\n--XyZ is not a delimiter here\r\n"
                           "--XyZ  \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n"
                           "--XyZ--\r\nThis is the epilogue.\r\n--XyZ\r\nnot a part\r\n");
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 1u);
    EXPECT_EQ((*p.parts)[0].data, "A");
}

TEST(Multipart, KeepsBoundaryLookalikesInData) {
    const std::string data = std::string("\x00\xff\r\n--XyZ", 8) +
                             "Q\r\n--Xy\r\n-XyZ\r\n--\r\n--XyZZ" + std::string("\r\n\x00--XyZ", 8) +
                             "\r";
    const std::string body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"b.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n" +
        data + "\r\n--XyZ--\r\n";
    const parsed p = parse(form, body);
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 1u);
    EXPECT_EQ((*p.parts)[0].data, data);
    EXPECT_EQ((*p.parts)[0].filename, "b.bin");
}

TEST(Multipart, HeaderNamesAreCaseInsensitive) {
    const parsed p =
        parse(form,
              "--XyZ\r\nCONTENT-DISPOSITION: Form-Data; NAME=\"a\"; FileName=\"x.txt\"\r\n"
              "content-type:text/plain; charset=utf-8\r\nX-Other: 1\r\n\r\nhi\r\n--XyZ--");
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 1u);
    EXPECT_EQ((*p.parts)[0].name, "a");
    EXPECT_EQ((*p.parts)[0].filename, "x.txt");
    EXPECT_EQ((*p.parts)[0].content_type, "text/plain; charset=utf-8");
}

TEST(Multipart, UnquotesNamesWithEscapes) {
    const parsed p = parse(form,
                           "--XyZ\r\nContent-Disposition: form-data; name=\"a\\\"b\\\\c;d\"; "
                           "filename=\"we;ird \\\"name\\\".txt\"\r\n\r\nx\r\n--XyZ--");
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 1u);
    EXPECT_EQ((*p.parts)[0].name, "a\"b\\c;d");
    EXPECT_EQ((*p.parts)[0].filename, "we;ird \"name\".txt");
}

TEST(Multipart, DecodesFilenameStar) {
    const parsed p =
        parse(form,
              "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"EUR rates.txt\"; "
              "filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\nx\r\n"
              "--XyZ\r\nContent-Disposition: form-data; name=\"g\"; "
              "filename*=iso-8859-1'en'%A3%20rates.txt\r\n\r\ny\r\n--XyZ--");
    ASSERT_TRUE(p.parts) << p.error;
    ASSERT_EQ(p.parts->size(), 2u);
    EXPECT_EQ((*p.parts)[0].filename, "\xE2\x82\xAC rates.txt");
    EXPECT_TRUE((*p.parts)[1].has_filename);
    EXPECT_EQ((*p.parts)[1].filename, "\xC2\xA3 rates.txt");

    const parsed bad = parse(form,
                             "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
                             "filename*=UTF-8''%E2%8\r\n\r\nx\r\n--XyZ--");
    ASSERT_FALSE(bad.parts);
    EXPECT_EQ(bad.error, "malformed filename*");
}

TEST(Multipart, AnEmptyFormHasNoParts) {
    const parsed p = parse(form, "--XyZ--\r\n");
    ASSERT_TRUE(p.parts) << p.error;
    EXPECT_TRUE(p.parts->empty());
}

TEST(Multipart, ReportsErrors) {
    const std::string part = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n";
    const auto error_of = [](std::string_view ct, std::string_view body) {
        const parsed p = parse(ct, body);
        return p.parts ? std::string("accepted") : p.error;
    };
    EXPECT_EQ(error_of("application/json", part + "--XyZ--"),
              "Content-Type is not multipart/form-data");
    EXPECT_EQ(error_of("multipart/mixed; boundary=XyZ", part + "--XyZ--"),
              "Content-Type is not multipart/form-data");
    EXPECT_EQ(error_of("multipart/form-data", part + "--XyZ--"), "missing boundary");
    EXPECT_EQ(error_of("multipart/form-data; boundary=\"\"", part + "--XyZ--"), "missing boundary");
    EXPECT_EQ(error_of("multipart/form-data; boundary=\"XyZ", part + "--XyZ--"),
              "malformed Content-Type");
    EXPECT_EQ(error_of("multipart/form-data; boundary=" + std::string(71, 'b'), part),
              "boundary longer than 70 characters");
    EXPECT_EQ(error_of(form, ""), "no opening boundary");
    EXPECT_EQ(error_of(form, "--XyZZ\r\n"), "no opening boundary");
    EXPECT_EQ(error_of(form, part), "no closing boundary");
    EXPECT_EQ(error_of(form, part + "--XyZ"), "no closing boundary");
    EXPECT_EQ(error_of(form, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n"),
              "no closing boundary");
    EXPECT_EQ(error_of(form, "--XyZ\r\nContent-Type: text/plain\r\n\r\nA\r\n--XyZ--"),
              "part without Content-Disposition");
    EXPECT_EQ(
        error_of(form, "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nA\r\n--XyZ--"),
        "part is not form-data");
    EXPECT_EQ(error_of(form, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nA\r\n--XyZ--"),
              "part without a name");
    EXPECT_EQ(error_of(form, "--XyZ\r\nno colon here\r\n\r\nA\r\n--XyZ--"),
              "malformed part header");
}

TEST(Multipart, LimitsTheNumberOfParts) {
    std::string body;
    for (int i = 0; i < 100; ++i) {
        body += "--XyZ\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) +
                "\"\r\n\r\nv\r\n";
    }
    const parsed hundred = parse(form, body + "--XyZ--");
    ASSERT_TRUE(hundred.parts) << hundred.error;
    EXPECT_EQ(hundred.parts->size(), 100u);
    EXPECT_EQ(hundred.parts->back().name, "p99");

    body += "--XyZ\r\nContent-Disposition: form-data; name=\"one-more\"\r\n\r\nv\r\n--XyZ--";
    const parsed more = parse(form, body);
    ASSERT_FALSE(more.parts);
    EXPECT_EQ(more.error, "too many parts (at most 100)");
}

TEST(Multipart, LimitsThePartHeaders) {
    const auto with_header = [](std::size_t size) {
        return "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " +
               std::string(size, 'p') + "\r\n\r\nA\r\n--XyZ--";
    };
    const parsed fits = parse(form, with_header(std::size_t{7} * 1024));
    EXPECT_TRUE(fits.parts) << fits.error;
    const parsed big = parse(form, with_header(std::size_t{9} * 1024));
    ASSERT_FALSE(big.parts);
    EXPECT_EQ(big.error, "part headers too large");
}

TEST(Multipart, RefusesControlCharactersInPartHeaders) {
    // A bare CR in a part's Content-Type would start a header of its own in the upload to Vapi.
    const std::string body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\rX-Injected: 1\r\n\r\nhello\r\n--XyZ--\r\n";
    const parsed p = parse(form, body);
    EXPECT_FALSE(p.parts);
    EXPECT_EQ(p.error, "control character in a part header");
    // A tab is fine (folded or spaced header values).
    const std::string tabbed =
        "--XyZ\r\nContent-Disposition:\tform-data; name=\"a\"\r\n\r\nx\r\n--XyZ--\r\n";
    const parsed q = parse(form, tabbed);
    ASSERT_TRUE(q.parts) << q.error;
    EXPECT_EQ(q.parts->at(0).name, "a");
}

TEST(Multipart, EveryTruncationIsAnErrorOrStaysInsideTheBody) {
    const std::string content_type = read_data("multipart_curl.content-type");
    const std::string full = read_data("multipart_curl.body");
    const auto closing = full.rfind("\r\n--");  // the close delimiter's line break
    int accepted = 0;
    for (std::size_t n = 0; n < full.size(); ++n) {
        // a buffer of exactly n bytes, so a read past the end is caught by the sanitizers
        const std::unique_ptr<char[]> copy(new char[n + 1]);
        std::copy_n(full.data(), n, copy.get());
        const std::string_view body(copy.get(), n);
        const parsed p = parse(content_type, body);
        if (!p.parts) {
            EXPECT_FALSE(p.error.empty());
            continue;
        }
        ++accepted;
        for (const multipart_part& part : *p.parts) {
            EXPECT_GE(part.data.data(), body.data());
            EXPECT_LE(part.data.data() + part.data.size(), body.data() + body.size());
        }
    }
    // only the truncations that keep the whole close delimiter ("--" included) parse
    EXPECT_EQ(accepted, static_cast<int>(full.size() - (closing + 2 + 2 + 24 + 16 + 2)));
}

}  // namespace
}  // namespace switchboard::http
