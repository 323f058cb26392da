#include "server/master/closes_behind.h"

#include <algorithm>
#include <iterator>

namespace dfs::master {

void ClosesBehind::hold(uint64_t ino, uint64_t session_id) { by_ino_[ino].try_emplace(session_id); }

bool ClosesBehind::dropFile(uint64_t ino, uint64_t session_id) {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end() || file->second.erase(session_id) == 0) return false;
  if (file->second.empty()) by_ino_.erase(file);
  return true;
}

bool ClosesBehind::dropSession(uint64_t session_id) {
  // Rare (a session ends): a scan.
  bool dropped = false;
  for (auto file = by_ino_.begin(); file != by_ino_.end();) {
    dropped = file->second.erase(session_id) > 0 || dropped;
    file = file->second.empty() ? by_ino_.erase(file) : std::next(file);
  }
  queued_.erase(session_id);
  return dropped;
}

bool ClosesBehind::dropInode(uint64_t ino) { return by_ino_.erase(ino) > 0; }

bool ClosesBehind::dropOthers(uint64_t ino, uint64_t keep) {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return false;
  bool dropped =
      std::erase_if(file->second, [keep](const auto& hold) { return hold.first != keep; }) > 0;
  if (file->second.empty()) by_ino_.erase(file);
  return dropped;
}

bool ClosesBehind::heldByOthers(uint64_t ino, uint64_t reader) const {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return false;
  return file->second.size() > 1 || !file->second.contains(reader);
}

std::vector<ClosesBehind::Wait> ClosesBehind::recall(uint64_t ino, uint64_t reader) {
  std::vector<Wait> waits;
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return waits;
  for (auto& [session_id, hold] : file->second) {
    if (session_id == reader) continue;
    if (hold.requested <= hold.delivered) {
      hold.requested = next_number_++;
      queued_[session_id].push_back({ino, hold.requested});
    }
    waits.push_back({session_id, hold.requested});
  }
  return waits;
}

bool ClosesBehind::satisfied(uint64_t ino, const Wait& wait) const {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return true;
  auto hold = file->second.find(wait.session_id);
  return hold == file->second.end() || hold->second.answered >= wait.number;
}

std::vector<ClosesBehind::Recall> ClosesBehind::takeRecalls(uint64_t session_id) {
  auto queued = queued_.find(session_id);
  if (queued == queued_.end()) return {};
  std::vector<Recall> recalls;
  for (const Recall& recall : queued->second) {
    auto file = by_ino_.find(recall.ino);
    if (file == by_ino_.end()) continue;
    auto hold = file->second.find(session_id);
    if (hold == file->second.end() || hold->second.requested != recall.number) continue;
    hold->second.delivered = recall.number;
    recalls.push_back(recall);
  }
  queued_.erase(queued);
  return recalls;
}

bool ClosesBehind::hasRecalls(uint64_t session_id) const {
  auto queued = queued_.find(session_id);
  return queued != queued_.end() && !queued->second.empty();
}

bool ClosesBehind::answer(uint64_t ino, uint64_t session_id, uint64_t number) {
  auto file = by_ino_.find(ino);
  if (file == by_ino_.end()) return false;
  auto hold = file->second.find(session_id);
  if (hold == file->second.end()) return false;
  // Never past what was asked: a stray number must not answer a recall not yet made.
  uint64_t answered = std::min(number, hold->second.requested);
  if (answered <= hold->second.answered) return false;
  hold->second.answered = answered;
  return true;
}

}  // namespace dfs::master
