#include "fuse/name_keeping.h"

namespace dfs::fuse {

namespace {
// The kernel counts an entry's timeout in ticks from its own reading of the reply.
constexpr std::chrono::milliseconds kKernelMargin(100);
}  // namespace

std::optional<NameKeeping::Clock::time_point> NameKeeping::admit(uint32_t uid, bool from_walk) {
  if (uid == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  only_root_ = false;
  if (!from_walk || Clock::now() >= kept_until_) return std::nullopt;
  return kept_until_;
}

bool NameKeeping::mayKeep(bool searchable_by_all) {
  if (searchable_by_all) return true;
  std::lock_guard lock(mutex_);
  if (!only_root_) return false;
  kept_until_ = Clock::now() + entry_timeout_ + kKernelMargin;
  return true;
}

}  // namespace dfs::fuse
