// The POSIX permission rules (generic_permission, may_delete, setattr_prepare) as pure functions
// of an inode's attributes and a caller. A mount leaves them to the kernel (default_permissions,
// with POSIX ACLs); they are kept, with their unit test, for the master's own enforcement of a
// client's claimed identity.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "lib/base/status.h"
#include "proto/common.pb.h"
#include "proto/master.pb.h"

namespace dfs::client {

// Access bits, as in access(2) and the mode's rwx triplets.
inline constexpr int kMayRead = 4;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayExec = 1;

// Who asks: the caller's fsuid and fsgid, and its supplementary groups, which are read only if
// a decision depends on them (reading them costs a read of /proc for a FUSE caller).
class Caller {
 public:
  Caller(uint32_t uid, uint32_t gid, std::function<std::vector<uint32_t>()> load_groups = {})
      : uid_(uid), gid_(gid), load_groups_(std::move(load_groups)) {}

  uint32_t uid() const { return uid_; }
  uint32_t gid() const { return gid_; }
  // Root passes every check but execution of a file with no execute bit at all.
  bool isRoot() const { return uid_ == 0; }
  bool inGroup(uint32_t gid) const;

 private:
  uint32_t uid_;
  uint32_t gid_;
  std::function<std::vector<uint32_t>()> load_groups_;
  mutable std::optional<std::vector<uint32_t>> groups_;
};

// kAccessDenied unless caller may access the inode with mask (kMay* bits; 0 only checks that it
// exists, which the caller's having attr shows).
Result<void> checkAccess(const proto::Attr& attr, const Caller& caller, int mask);

// The sticky bit of a directory: only the owner of the entry, of the directory, or root may
// remove or rename an entry of it (kNotPermitted, as Linux). The caller checks write and search
// permission on the directory first.
Result<void> checkSticky(const proto::Attr& dir, const proto::Attr& entry, const Caller& caller);

// May caller make the change request asks of an inode with attributes current? A mode change
// by an owner outside the file's group loses the set-group-ID bit (the request is changed).
// through_writable_handle: a size change made through a file opened for writing (ftruncate,
// open with O_TRUNC) needs no write permission now.
Result<void> checkSetAttr(const proto::Attr& current, proto::SetAttrRequest* request,
                          const Caller& caller, bool through_writable_handle);

}  // namespace dfs::client
