#include "switchboard/store/spool.hpp"

#include "switchboard/base/log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace switchboard::store {
namespace {

constexpr const char* k_file = "switchboard.spool";
constexpr const char* k_replaying = "switchboard.spool.replaying";
constexpr const char* k_magic = "SBSPOOL1";

std::string errno_text() {
    return std::strerror(errno);
}

/// Writes all of `data` (retrying short writes); false on an error.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void append_record(std::string& out, std::int64_t received_us, std::string_view body) {
    out += k_magic;
    out += ' ';
    out += std::to_string(received_us);
    out += ' ';
    out += std::to_string(body.size());
    out += '\n';
    out += body;
    out += '\n';
}

/// The records of one file; a record cut short ends it (logged).
void read_records(const std::string& file, std::vector<spool::record>& out) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t at = 0;
    while (at < text.size()) {
        const auto eol = text.find('\n', at);
        long long received = 0;
        unsigned long long length = 0;
        char magic[16] = {};
        if (eol == std::string::npos ||
            std::sscanf(text.substr(at, eol - at).c_str(), "%15s %lld %llu", magic, &received,
                        &length) != 3 ||
            std::string_view(magic) != k_magic || eol + 1 + length + 1 > text.size() ||
            text[eol + 1 + length] != '\n') {
            log::warn("msg=\"spool: a record cut short ends the file\" file=\"{}\" offset={}", file,
                      at);
            return;
        }
        out.push_back({received, text.substr(eol + 1, length)});
        at = eol + 1 + length + 1;
    }
}

}  // namespace

spool::spool(std::string dir) : dir_(std::move(dir)) {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("spool directory " + dir_ + ": " + ec.message());
    lock_fd_ = ::open(path("lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) throw std::runtime_error("spool directory " + dir_ + ": " + errno_text());
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock_fd_);
        lock_fd_ = -1;
        throw std::runtime_error("spool directory " + dir_ +
                                 " is in use by another switchboard process");
    }
}

spool::~spool() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

std::string spool::path(const char* name) const {
    return dir_ + "/" + name;
}

void spool::sync_dir() const {
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

bool spool::append(std::span<const ingest::event> events) {
    if (!enabled() || events.empty()) return false;
    std::string out;
    for (const auto& ev : events) append_record(out, ev.received_us, ev.body);
    std::lock_guard lock(mutex_);
    const std::string file = path(k_file);
    const bool existed = ::access(file.c_str(), F_OK) == 0;
    const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log::error("msg=\"spool: cannot open\" file=\"{}\" error=\"{}\"", file, errno_text());
        return false;
    }
    const bool ok = write_all(fd, out) && ::fdatasync(fd) == 0;
    if (!ok) log::error("msg=\"spool: cannot write\" file=\"{}\" error=\"{}\"", file, errno_text());
    ::close(fd);
    if (ok && !existed) sync_dir();  // the file's name is durable too
    return ok;
}

std::vector<spool::record> spool::take() {
    std::vector<record> records;
    if (!enabled()) return records;
    std::lock_guard lock(mutex_);
    read_records(path(k_replaying), records);
    read_records(path(k_file), records);
    if (records.empty()) {
        ::unlink(path(k_replaying).c_str());
        ::unlink(path(k_file).c_str());
        sync_dir();
        return records;
    }
    // Both files' records into one new `replaying` file, durable before the old files go.
    std::string out;
    for (const auto& r : records) append_record(out, r.received_us, r.body);
    const std::string tmp = path("switchboard.spool.replaying.tmp");
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !write_all(fd, out) || ::fsync(fd) != 0) {
        const std::string why = errno_text();
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("spool: cannot write " + tmp + ": " + why);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path(k_replaying).c_str()) != 0) {
        throw std::runtime_error("spool: cannot rename " + tmp + ": " + errno_text());
    }
    sync_dir();
    ::unlink(path(k_file).c_str());
    sync_dir();
    return records;
}

void spool::replayed() {
    if (!enabled()) return;
    std::lock_guard lock(mutex_);
    ::unlink(path(k_replaying).c_str());
    sync_dir();
}

}  // namespace switchboard::store
