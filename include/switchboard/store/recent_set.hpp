#pragma once
/// A set that forgets what has not been used for a while, in bounded memory: two generations.
/// Entries go into the newer one; a lookup that finds an entry in the older one moves it to the
/// newer; once the newer holds `limit` entries, the older is dropped and the newer becomes the
/// older. So it holds at most 2 × `limit` entries, and an entry inserted or found within the last
/// `limit` insertions is always still there.
///
/// The batch writers remember this way which parts of which calls are stored, and the numbers
/// they give calls: the calls in progress stay known however long they last, while the memory
/// stays flat (before, the sets grew until a bound and were then cleared, so the service's RSS
/// climbed for minutes; bench/analysis.md, session 8).

#include <cstddef>
#include <functional>
#include <unordered_set>
#include <utility>

namespace switchboard::store {

template <class Key, class Hash = std::hash<Key>, class Eq = std::equal_to<Key>>
class recent_set {
  public:
    using set_type = std::unordered_set<Key, Hash, Eq>;

    explicit recent_set(std::size_t limit) : limit_(limit == 0 ? 1 : limit) {}

    /// Whether `key` is held; if so it counts as used now.
    bool use(const Key& key) {
        if (newer_.contains(key)) return true;
        auto node = older_.extract(key);
        if (node.empty()) return false;
        make_room(1);
        newer_.insert(std::move(node));
        return true;
    }
    void insert(const Key& key) {
        if (newer_.contains(key)) return;
        older_.erase(key);
        make_room(1);
        newer_.insert(key);
    }
    /// Moves the entries of `from` in (those already held stay in `from`).
    void merge(set_type& from) {
        for (const auto& key : from) older_.erase(key);
        make_room(from.size());
        newer_.merge(from);
    }
    void clear() {
        newer_.clear();
        older_.clear();
    }
    std::size_t size() const noexcept { return newer_.size() + older_.size(); }
    std::size_t limit() const noexcept { return limit_; }

  private:
    void make_room(std::size_t n) {
        if (newer_.size() + n <= limit_) return;
        older_ = std::move(newer_);
        newer_ = set_type{};
    }

    std::size_t limit_;
    set_type newer_, older_;
};

}  // namespace switchboard::store
