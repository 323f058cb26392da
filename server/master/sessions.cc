#include "server/master/sessions.h"

#include <random>

namespace dfs::master {

uint64_t SessionTable::allocateId() {
  if (next_id_ == 0) {
    // Ids of a master that starts from nothing differ from those of an earlier one, so a
    // client never resumes a stranger's session.
    next_id_ = (uint64_t{std::random_device{}()} & 0xffffff) << 24 | 1;
  }
  return next_id_++;
}

void SessionTable::add(uint64_t id, std::string host, uint32_t pid, std::string mount_point,
                       int64_t now_ms) {
  sessions_[id] =
      Session{id, std::move(host), pid, std::move(mount_point), now_ms + lease_ms_, {}, {}, {}};
  next_id_ = std::max(next_id_, id + 1);
}

Status SessionTable::renew(uint64_t id, int64_t now_ms) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Status(Code::kSessionExpired, "session expired or unknown");
  it->second.expiry_ms = now_ms + lease_ms_;
  return Status::ok();
}

Session* SessionTable::find(uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

std::vector<uint64_t> SessionTable::expired(int64_t now_ms) const {
  std::vector<uint64_t> ids;
  for (const auto& [id, session] : sessions_) {
    if (session.expiry_ms <= now_ms) ids.push_back(id);
  }
  return ids;
}

std::optional<Session> SessionTable::close(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  for (auto [ino, count] : it->second.open_inodes) dropOpen(ino, count);
  Session closed = std::move(it->second);
  sessions_.erase(it);
  return closed;
}

void SessionTable::reserveInodes(uint64_t id, uint64_t next, uint64_t end) {
  // A client asks for the next range before its last one runs out: two are in use at most.
  constexpr size_t kMaxRanges = 4;
  Session* session = find(id);
  if (!session || next >= end) return;
  auto& ranges = session->reserved_inodes;
  if (ranges.size() >= kMaxRanges) ranges.erase(ranges.begin());
  ranges.push_back({next, end});
}

namespace {

bool inRanges(const std::vector<IdRange>& ranges, uint64_t id) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [id](const IdRange& range) { return id >= range.next && id < range.end; });
}

}  // namespace

std::vector<uint64_t> idsOf(const std::vector<IdRange>& ranges) {
  std::vector<uint64_t> ids;
  for (const auto& range : ranges) {
    for (uint64_t id = range.next; id < range.end; ++id) ids.push_back(id);
  }
  return ids;
}

std::vector<uint64_t> SessionTable::reserveChunks(uint64_t id, uint64_t next, uint64_t end) {
  constexpr size_t kMaxRanges = 4;
  Session* session = find(id);
  if (!session || next >= end) return {};
  auto& ranges = session->reserved_chunks;
  std::vector<uint64_t> dropped;
  if (ranges.size() >= kMaxRanges) {
    dropped = idsOf({ranges.front()});
    ranges.erase(ranges.begin());
  }
  ranges.push_back({next, end});
  return dropped;
}

bool SessionTable::mayUseReservedChunk(uint64_t id, uint64_t chunk_id) const {
  auto it = sessions_.find(id);
  return it != sessions_.end() && inRanges(it->second.reserved_chunks, chunk_id);
}

std::vector<uint64_t> SessionTable::useReservedChunk(uint64_t id, uint64_t chunk_id) {
  Session* session = find(id);
  if (!session) return {};
  auto& ranges = session->reserved_chunks;
  std::vector<uint64_t> passed;
  for (auto it = ranges.begin(); it != ranges.end(); ++it) {
    if (chunk_id < it->next || chunk_id >= it->end) continue;
    // Ranges are used oldest first too: older ranges' ids left are passed over as well.
    passed = idsOf(std::vector<IdRange>(ranges.begin(), it));
    for (uint64_t skipped = it->next; skipped < chunk_id; ++skipped) passed.push_back(skipped);
    it->next = chunk_id + 1;
    auto keep_from = it->next == it->end ? std::next(it) : it;
    ranges.erase(ranges.begin(), keep_from);
    break;
  }
  return passed;
}

bool SessionTable::isReservedChunk(uint64_t chunk_id) const {
  return std::any_of(sessions_.begin(), sessions_.end(), [chunk_id](const auto& entry) {
    return inRanges(entry.second.reserved_chunks, chunk_id);
  });
}

bool SessionTable::mayUseReserved(uint64_t id, uint64_t ino) const {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  return inRanges(it->second.reserved_inodes, ino);
}

void SessionTable::useReserved(uint64_t id, uint64_t ino) {
  Session* session = find(id);
  if (!session) return;
  auto& ranges = session->reserved_inodes;
  for (auto it = ranges.begin(); it != ranges.end(); ++it) {
    if (ino < it->next || ino >= it->end) continue;
    it->next = ino + 1;
    if (it->next == it->end) ranges.erase(it);
    return;
  }
}

void SessionTable::open(Session& session, uint64_t ino) {
  session.open_inodes[ino]++;
  open_counts_[ino]++;
}

bool SessionTable::release(Session& session, uint64_t ino) {
  auto it = session.open_inodes.find(ino);
  if (it == session.open_inodes.end()) return false;
  if (--it->second == 0) session.open_inodes.erase(it);
  return dropOpen(ino, 1);
}

bool SessionTable::dropOpen(uint64_t ino, uint32_t count) {
  auto it = open_counts_.find(ino);
  if (it == open_counts_.end()) return false;
  if (it->second <= count) {
    open_counts_.erase(it);
    return true;
  }
  it->second -= count;
  return false;
}

}  // namespace dfs::master
