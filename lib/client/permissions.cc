#include "lib/client/permissions.h"

#include <sys/stat.h>

#include <algorithm>

namespace dfs::client {

bool Caller::inGroup(uint32_t gid) const {
  if (gid == gid_) return true;
  if (!groups_) groups_ = load_groups_ ? load_groups_() : std::vector<uint32_t>{};
  return std::find(groups_->begin(), groups_->end(), gid) != groups_->end();
}

namespace {

bool grants(uint32_t triplet, int mask) { return (static_cast<int>(triplet) & mask) == mask; }

bool isOwner(const proto::Attr& attr, const Caller& caller) { return caller.uid() == attr.uid(); }

}  // namespace

Result<void> checkAccess(const proto::Attr& attr, const Caller& caller, int mask) {
  mask &= kMayRead | kMayWrite | kMayExec;
  uint32_t mode = attr.mode();
  if (caller.isRoot()) {
    // Root may search any directory but runs only what someone may run.
    if ((mask & kMayExec) && !S_ISDIR(mode) && (mode & 0111) == 0) {
      return makeError(Code::kAccessDenied, "no execute permission for anyone");
    }
    return {};
  }
  bool allowed;
  if (isOwner(attr, caller)) {
    allowed = grants((mode >> 6) & 7, mask);
  } else {
    bool by_group = grants((mode >> 3) & 7, mask);
    bool by_others = grants(mode & 7, mask);
    // The group's bits count (for or against) only for a member: ask for the caller's groups
    // only when they decide.
    allowed =
        by_group == by_others ? by_others : (caller.inGroup(attr.gid()) ? by_group : by_others);
  }
  if (!allowed) return makeError(Code::kAccessDenied, "permission denied");
  return {};
}

Result<void> checkSticky(const proto::Attr& dir, const proto::Attr& entry, const Caller& caller) {
  if ((dir.mode() & S_ISVTX) == 0 || caller.isRoot()) return {};
  if (isOwner(entry, caller) || isOwner(dir, caller)) return {};
  return makeError(Code::kNotPermitted, "sticky directory: not the owner of the entry");
}

Result<void> checkSetAttr(const proto::Attr& current, proto::SetAttrRequest* request,
                          const Caller& caller, bool through_writable_handle) {
  uint32_t valid = request->valid();
  if ((valid & proto::SET_SIZE) && !through_writable_handle) {
    DFS_RETURN_IF_ERROR(checkAccess(current, caller, kMayWrite));
  }
  if (caller.isRoot()) return {};
  bool owner = isOwner(current, caller);
  if ((valid & proto::SET_UID) && (!owner || request->uid() != current.uid())) {
    return makeError(Code::kNotPermitted, "only root may change a file's owner");
  }
  if ((valid & proto::SET_GID) && !owner) {
    return makeError(Code::kNotPermitted, "only the owner may change a file's group");
  }
  if ((valid & proto::SET_GID) && request->gid() != current.gid() &&
      !caller.inGroup(request->gid())) {
    return makeError(Code::kNotPermitted, "not a member of the new group");
  }
  if (valid & proto::SET_MODE) {
    // The kernel drops set-user-ID and set-group-ID as a write or truncate by anyone requires.
    constexpr uint32_t kPrivileges = S_ISUID | S_ISGID;
    uint32_t before = current.mode() & 07777;
    uint32_t after = request->mode() & 07777;
    bool only_drops_privileges = (after & ~before) == 0 && ((before & ~after) & ~kPrivileges) == 0;
    if (!owner && !only_drops_privileges) {
      return makeError(Code::kNotPermitted, "only the owner may change a file's mode");
    }
    uint32_t group = (valid & proto::SET_GID) ? request->gid() : current.gid();
    if ((request->mode() & S_ISGID) && !caller.inGroup(group)) {
      request->set_mode(request->mode() & ~static_cast<uint32_t>(S_ISGID));
    }
  }
  if ((valid & (proto::SET_ATIME | proto::SET_MTIME)) && !owner) {
    return makeError(Code::kNotPermitted, "only the owner may set a file's times");
  }
  if ((valid & (proto::SET_ATIME_NOW | proto::SET_MTIME_NOW)) && !owner) {
    // Touching to the current time needs only write permission.
    DFS_RETURN_IF_ERROR(checkAccess(current, caller, kMayWrite));
  }
  return {};
}

}  // namespace dfs::client
