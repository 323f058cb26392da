#include "lib/locks/lock_table.h"

#include <algorithm>

namespace dfs::locks {

void LockTable::clearRange(std::vector<Lock>& held, const Owner& owner, const Range& range) {
  std::vector<Lock> kept;
  for (const Lock& lock : held) {
    if (lock.owner != owner || !lock.range.overlaps(range)) {
      kept.push_back(lock);
      continue;
    }
    if (lock.range.start < range.start) {
      Lock left = lock;
      left.range.end = range.start - 1;
      kept.push_back(left);
    }
    if (lock.range.end > range.end) {
      Lock right = lock;
      right.range.start = range.end + 1;
      kept.push_back(right);
    }
  }
  held = std::move(kept);
}

void LockTable::setRange(std::vector<Lock>& held, const Lock& lock) {
  clearRange(held, lock.owner, lock.range);
  Lock merged = lock;
  auto touches = [&](const Lock& other) {
    if (other.owner != merged.owner || other.exclusive != merged.exclusive) return false;
    bool before = other.range.end != kToEnd && other.range.end + 1 == merged.range.start;
    bool after = merged.range.end != kToEnd && merged.range.end + 1 == other.range.start;
    return before || after || other.range.overlaps(merged.range);
  };
  for (bool again = true; again;) {
    again = false;
    for (auto it = held.begin(); it != held.end(); ++it) {
      if (!touches(*it)) continue;
      merged.range.start = std::min(merged.range.start, it->range.start);
      merged.range.end = std::max(merged.range.end, it->range.end);
      merged.since_ms = std::min(merged.since_ms, it->since_ms);
      held.erase(it);
      again = true;
      break;
    }
  }
  held.push_back(merged);
  std::sort(held.begin(), held.end(), [](const Lock& a, const Lock& b) {
    return a.range.start != b.range.start ? a.range.start < b.range.start : a.owner < b.owner;
  });
}

std::optional<Lock> LockTable::conflicting(const Request& request) const {
  auto it = files_.find({request.ino, request.kind});
  if (it == files_.end()) return std::nullopt;
  for (const Lock& held : it->second.held) {
    if (held.conflictsWith(request.lock)) return held;
  }
  return std::nullopt;
}

std::optional<Lock> LockTable::tryLock(const Request& request) {
  FileLocks& file = files_[{request.ino, request.kind}];
  bool holds_some = false;
  for (const Lock& held : file.held) {
    if (held.conflictsWith(request.lock)) return held;
    holds_some = holds_some || held.owner == request.lock.owner;
  }
  // Waiters ahead go first. (Not for an owner that already holds a lock here: it may be what
  // those waiters wait for, and queueing its change behind them would deadlock.)
  if (!holds_some) {
    for (const Waiter& waiter : file.waiting) {
      if (waiter.lock.conflictsWith(request.lock)) return waiter.lock;
    }
  }
  setRange(file.held, request.lock);
  return std::nullopt;
}

void LockTable::forceLock(const Request& request) {
  setRange(files_[{request.ino, request.kind}].held, request.lock);
}

void LockTable::enqueue(const Request& request, uint64_t waiter_id) {
  files_[{request.ino, request.kind}].waiting.push_back({waiter_id, request.lock});
}

std::vector<uint64_t> LockTable::grantWaiters(FileLocks& file) {
  std::vector<uint64_t> granted;
  for (size_t i = 0; i < file.waiting.size();) {
    const Lock& wanted = file.waiting[i].lock;
    bool blocked = std::any_of(file.held.begin(), file.held.end(),
                               [&](const Lock& held) { return held.conflictsWith(wanted); });
    for (size_t j = 0; j < i && !blocked; ++j) {
      blocked = file.waiting[j].lock.conflictsWith(wanted);
    }
    if (blocked) {
      ++i;
      continue;
    }
    setRange(file.held, wanted);
    granted.push_back(file.waiting[i].id);
    file.waiting.erase(file.waiting.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return granted;
}

void LockTable::dropIfEmpty(const Key& key) {
  auto it = files_.find(key);
  if (it != files_.end() && it->second.held.empty() && it->second.waiting.empty()) files_.erase(it);
}

std::vector<uint64_t> LockTable::unlock(uint64_t ino, Kind kind, const Owner& owner,
                                        const Range& range) {
  auto it = files_.find({ino, kind});
  if (it == files_.end()) return {};
  clearRange(it->second.held, owner, range);
  auto granted = grantWaiters(it->second);
  dropIfEmpty({ino, kind});
  return granted;
}

std::vector<uint64_t> LockTable::releaseOwner(uint64_t ino, Kind kind, const Owner& owner) {
  return unlock(ino, kind, owner, Range{0, kToEnd});
}

std::vector<uint64_t> LockTable::cancel(uint64_t waiter_id, bool* found) {
  if (found) *found = false;
  for (auto& [key, file] : files_) {
    auto it = std::find_if(file.waiting.begin(), file.waiting.end(),
                           [&](const Waiter& waiter) { return waiter.id == waiter_id; });
    if (it == file.waiting.end()) continue;
    if (found) *found = true;
    file.waiting.erase(it);
    Key where = key;
    auto granted = grantWaiters(file);  // a waiter behind it may have been held back by it
    dropIfEmpty(where);
    return granted;
  }
  return {};
}

LockTable::SessionEnd LockTable::releaseSession(uint64_t session) {
  SessionEnd end;
  std::vector<Key> touched;
  for (auto& [key, file] : files_) {
    size_t before = file.held.size() + file.waiting.size();
    std::erase_if(file.held, [&](const Lock& lock) { return lock.owner.session == session; });
    for (auto it = file.waiting.begin(); it != file.waiting.end();) {
      if (it->lock.owner.session == session) {
        end.dropped.push_back(it->id);
        it = file.waiting.erase(it);
      } else {
        ++it;
      }
    }
    if (file.held.size() + file.waiting.size() == before) continue;
    auto granted = grantWaiters(file);
    end.granted.insert(end.granted.end(), granted.begin(), granted.end());
    touched.push_back(key);
  }
  for (const Key& key : touched) dropIfEmpty(key);
  return end;
}

std::vector<LockTable::Entry> LockTable::list(uint64_t ino) const {
  std::vector<Entry> entries;
  for (const auto& [key, file] : files_) {
    if (ino != 0 && key.first != ino) continue;
    for (const Lock& lock : file.held) entries.push_back({key.first, key.second, lock, false, 0});
    for (const Waiter& waiter : file.waiting) {
      entries.push_back({key.first, key.second, waiter.lock, true, waiter.id});
    }
  }
  return entries;
}

std::vector<Request> LockTable::heldBy(uint64_t session) const {
  std::vector<Request> held;
  for (const auto& [key, file] : files_) {
    for (const Lock& lock : file.held) {
      if (lock.owner.session == session) held.push_back({key.first, key.second, lock});
    }
  }
  return held;
}

}  // namespace dfs::locks
