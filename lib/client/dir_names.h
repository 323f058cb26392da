// The names in directories as this client last saw them whole (a listing, or a directory it
// made itself, empty), kept current with its own changes. Within ttl of that, a name missing
// from it is absent without asking the master: a create's LOOKUP of a new name costs no master
// call. Another mount's new name can stay unseen that long, as a positive name it removed can
// in the kernel's dentry cache. Not thread-safe: lives on the client's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dfs::client {

class DirNames {
 public:
  using Clock = std::chrono::steady_clock;
  // Directories with more than max_names entries are not kept (listing them again costs more
  // than the lookups it saves).
  DirNames(std::chrono::milliseconds ttl, size_t max_dirs, size_t max_names);

  // Counts this client's changes to names; a listing fetched across one is not taken (it may
  // predate the change).
  uint64_t changes() const { return changes_; }
  // The whole of dir as listed at now, asked for when changes() was changes_before.
  void listed(uint64_t dir, const std::vector<std::string>& names, uint64_t changes_before,
              Clock::time_point now);
  void made(uint64_t dir, Clock::time_point now) { listed(dir, {}, changes_, now); }
  void added(uint64_t dir, const std::string& name);
  void removed(uint64_t dir, const std::string& name);
  // The outcome of a change to dir is unknown (no answer): what was known of it goes.
  void forget(uint64_t dir);
  // The master said a name is not in dir (its listing was too old to say so).
  void missed(uint64_t dir);

  // True when dir was seen whole within ttl and name was not in it.
  bool absent(uint64_t dir, const std::string& name, Clock::time_point now) const;
  // True when dir was seen whole longer than ttl ago and listing it again costs less than the
  // lookups it would save: it is small, or names keep being looked up in it and missed.
  bool worthRelisting(uint64_t dir, Clock::time_point now) const;

 private:
  struct Dir {
    std::unordered_set<std::string> names;
    Clock::time_point seen;
    uint64_t misses = 0;  // lookups the master answered since the listing went stale
  };

  std::chrono::milliseconds ttl_;
  size_t max_dirs_;
  size_t max_names_;
  std::unordered_map<uint64_t, Dir> dirs_;
  uint64_t changes_ = 0;
};

}  // namespace dfs::client
