#include "lib/client/dir_names.h"

namespace dfs::client {

DirNames::DirNames(std::chrono::milliseconds ttl, size_t max_dirs, size_t max_names)
    : ttl_(ttl), max_dirs_(max_dirs), max_names_(max_names) {}

void DirNames::listed(uint64_t dir, const std::vector<std::string>& names, uint64_t changes_before,
                      Clock::time_point now) {
  if (changes_ != changes_before) return;
  if (names.size() > max_names_) {
    dirs_.erase(dir);
    return;
  }
  if (!dirs_.contains(dir) && dirs_.size() >= max_dirs_) {
    // Stale listings go first; if all are fresh, all go (a rare burst of listings).
    std::erase_if(dirs_, [&](const auto& entry) { return now - entry.second.seen >= ttl_; });
    if (dirs_.size() >= max_dirs_) dirs_.clear();
  }
  Dir& kept = dirs_[dir];
  kept.names = std::unordered_set<std::string>(names.begin(), names.end());
  kept.seen = now;
  kept.misses = 0;
}

void DirNames::added(uint64_t dir, const std::string& name) {
  changes_++;
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  it->second.names.insert(name);
  if (it->second.names.size() > max_names_) dirs_.erase(it);
}

void DirNames::removed(uint64_t dir, const std::string& name) {
  changes_++;
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  it->second.names.erase(name);
}

bool DirNames::absent(uint64_t dir, const std::string& name, Clock::time_point now) const {
  auto it = dirs_.find(dir);
  return it != dirs_.end() && now - it->second.seen < ttl_ && !it->second.names.contains(name);
}

void DirNames::forget(uint64_t dir) {
  changes_++;
  dirs_.erase(dir);
}

void DirNames::missed(uint64_t dir) {
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) it->second.misses++;
}

bool DirNames::worthRelisting(uint64_t dir, Clock::time_point now) const {
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || now - it->second.seen < ttl_) return false;
  // A listing carries about 128 names for the cost of one lookup.
  return it->second.names.size() <= 128 || it->second.misses >= it->second.names.size() / 128;
}

}  // namespace dfs::client
