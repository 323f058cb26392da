// Which names the kernel may keep (entry_timeout). Without default_permissions the kernel checks
// no permission when it walks a path through names it keeps, so a name in a directory that not
// everyone may search must not stay cached for a user who may not search it.
//
// While only root has used the mount (tar run as root makes every directory 0700 until its end),
// such names are kept, and the time the last of them expires in the kernel is remembered. From
// the first request of any other user on, they are no longer kept, and until the kept ones have
// expired, a request of another user that came from a path walk (which may have gone through
// them) is answered ESTALE once they have: the kernel then walks the path again, looking every
// name up (and the mount checks each). System calls that take a path retry once on ESTALE.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace dfs::fuse {

class NameKeeping {
 public:
  using Clock = std::chrono::steady_clock;
  explicit NameKeeping(std::chrono::milliseconds entry_timeout) : entry_timeout_(entry_timeout) {}

  // A request of uid; from_walk: it names an inode the kernel reached by walking a path. A time:
  // answer it ESTALE then.
  std::optional<Clock::time_point> admit(uint32_t uid, bool from_walk);
  // Whether the kernel may keep a name in a directory everyone may search or not.
  bool mayKeep(bool searchable_by_all);

 private:
  std::chrono::milliseconds entry_timeout_;
  std::mutex mutex_;
  bool only_root_ = true;
  Clock::time_point kept_until_;  // the last name kept in a directory not everyone may search
};

}  // namespace dfs::fuse
