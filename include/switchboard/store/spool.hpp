#pragma once
/// A local, fsync'd file for the events a stop had to give up (Postgres unreachable past
/// --shutdown-timeout-s), written again at the next start. Some of them were answered already:
/// a message that expects a reply gets it after --reply-commit-wait-ms even when its commit has
/// not happened, and Vapi does not send a message twice. Without a spool those are lost.
///
/// Files in the directory (one service process per directory, held by a lock on `lock`):
/// - `switchboard.spool`: appended by the writers when they give up events;
/// - `switchboard.spool.replaying`: what the start took to write again; removed once all of it
///   is committed (or given up again, and so in `switchboard.spool` once more).
/// A record is a line `SBSPOOL1 <received_us> <length>` and the body, then a newline; a record
/// cut short (a crash while appending) ends the file.
///
/// Threads: `append` may be called from any thread; the rest at start-up.

#include "switchboard/ingest/event.hpp"

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace switchboard::store {

class spool {
  public:
    /// `dir` empty: off (append does nothing and returns false). Otherwise the directory is
    /// created when missing and locked; throws std::runtime_error when it cannot be (not
    /// writable, or another process holds it).
    explicit spool(std::string dir);
    ~spool();
    spool(const spool&) = delete;
    spool& operator=(const spool&) = delete;

    bool enabled() const noexcept { return !dir_.empty(); }
    const std::string& dir() const noexcept { return dir_; }

    /// Appends the events' bodies and flushes them to disk. False (and logged) when off or on
    /// an I/O error: then they are lost.
    bool append(std::span<const ingest::event> events);

    struct record {
        std::int64_t received_us = 0;
        std::string body;
    };
    /// Start-up: everything spooled, a replay that did not finish included, moved to the
    /// `replaying` file and returned.
    std::vector<record> take();
    /// Once every record `take` returned is committed, rejected or spooled again.
    void replayed();

  private:
    std::string path(const char* name) const;
    void sync_dir() const;

    std::string dir_;
    int lock_fd_ = -1;
    std::mutex mutex_;
};

}  // namespace switchboard::store
