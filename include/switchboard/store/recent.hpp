#pragma once
/// A set or map that forgets what has not been used for a while, in bounded memory: two
/// generations of `Container` (a std:: or boost:: unordered set or map, node-based or flat).
/// Entries go into the newer one; a lookup that finds an entry in the older one moves it to the
/// newer; once the newer holds `limit` entries, the older is dropped and the newer becomes the
/// older. So it holds at most 2 × `limit` entries, and an entry added or found within the last
/// `limit` additions is always still there.
///
/// The batch writers remember this way which parts of which calls are stored, and the numbers
/// they give calls: the calls in progress stay known however long they last, while the memory
/// stays flat (before, the sets grew until a bound and were then cleared, so the service's RSS
/// climbed for minutes; bench/analysis.md, session 8).

#include <cstddef>
#include <utility>

namespace switchboard::store {

template <class Container>
class recent {
  public:
    using value_type = typename Container::value_type;

    explicit recent(std::size_t limit) : limit_(limit == 0 ? 1 : limit) {}

    /// The entry for `key` (any type the container's find takes), counted as used now;
    /// nullptr when it is not held. With a flat container the pointer is valid only until the
    /// next change.
    template <class K>
    const value_type* use(const K& key) {
        if (auto it = newer_.find(key); it != newer_.end()) return &*it;
        const auto old = older_.find(key);
        if (old == older_.end()) return nullptr;
        if constexpr (requires { typename Container::node_type; }) {
            auto node = older_.extract(old);
            make_room(1);
            return &*newer_.insert(std::move(node)).position;
        } else {  // open addressing (no nodes): the entry is copied
            value_type entry = *old;
            older_.erase(old);
            make_room(1);
            return &*newer_.insert(std::move(entry)).first;
        }
    }
    /// Adds an entry whose key is not held (check with `use` first).
    template <class... Args>
    void emplace(Args&&... args) {
        make_room(1);
        newer_.emplace(std::forward<Args>(args)...);
    }
    /// Sets the value for `key` (maps only), whether it is held or not.
    template <class K, class V>
    void assign(const K& key, V&& value) {
        if (auto it = newer_.find(key); it != newer_.end()) {
            it->second = std::forward<V>(value);
            return;
        }
        older_.erase(key);
        make_room(1);
        newer_.emplace(key, std::forward<V>(value));
    }
    /// Moves the entries of the set `from` in (those already held stay in `from`).
    void merge(Container& from) {
        for (const auto& entry : from) older_.erase(entry);
        make_room(from.size());
        newer_.merge(from);
    }
    std::size_t size() const noexcept { return newer_.size() + older_.size(); }
    void clear() {
        newer_ = Container{};
        older_ = Container{};
    }

  private:
    void make_room(std::size_t n) {
        if (newer_.size() + n <= limit_) return;
        older_ = std::move(newer_);
        newer_ = Container{};
    }

    std::size_t limit_;
    Container newer_, older_;
};

}  // namespace switchboard::store
