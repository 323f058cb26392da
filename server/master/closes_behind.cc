#include "server/master/closes_behind.h"

#include <algorithm>
#include <iterator>

namespace dfs::master {

void ClosesBehind::announce(uint64_t ino, uint64_t session_id, uint64_t seq) {
  uint64_t& announced = by_ino_[ino][session_id];
  announced = std::max(announced, seq);
}

bool ClosesBehind::land(uint64_t ino, uint64_t session_id, uint64_t seq) {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return false;
  auto session = file->second.find(session_id);
  if (session == file->second.end() || session->second > seq) return false;
  file->second.erase(session);
  if (file->second.empty()) by_ino_.erase(file);
  return true;
}

bool ClosesBehind::dropFile(uint64_t ino, uint64_t session_id) {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end() || file->second.erase(session_id) == 0) return false;
  if (file->second.empty()) by_ino_.erase(file);
  return true;
}

bool ClosesBehind::dropSession(uint64_t session_id) {
  // Rare (a session ends) and the table holds only closes of the last milliseconds: a scan.
  bool dropped = false;
  for (auto file = by_ino_.begin(); file != by_ino_.end();) {
    dropped = file->second.erase(session_id) > 0 || dropped;
    file = file->second.empty() ? by_ino_.erase(file) : std::next(file);
  }
  return dropped;
}

bool ClosesBehind::pendingForOthers(uint64_t ino, uint64_t reader) const {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return false;
  return file->second.size() > 1 || !file->second.contains(reader);
}

}  // namespace dfs::master
