// Extended attributes and POSIX ACLs of an inode, as the master keeps them: the namespaces a
// mount may use, the limits and errors (as ext4's), and what an ACL means for the mode bits
// (an access ACL and the group bits are one value; a directory's default ACL is what its new
// entries start with). Pure functions of their arguments, so Namespace::apply stays
// deterministic. No locks: owned by the master's state thread, like the namespace.
//
// ACL values are the kernel's xattr format (linux/posix_acl_xattr.h): a little-endian u32
// version (2), then entries of u16 tag, u16 permissions, u32 id, sorted by tag and id.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "lib/base/status.h"

namespace dfs::master {

inline constexpr size_t kMaxXattrNameBytes = 255;
inline constexpr size_t kMaxXattrValueBytes = 65536;  // XATTR_SIZE_MAX: E2BIG above
// All of one inode's names and values together: ENOSPC above. (ext4 keeps them in the inode and
// one 4 KiB block unless ea_inode is on; 64 KiB takes the large values ea_inode allows.)
inline constexpr size_t kMaxXattrBytesPerInode = 65536;

inline constexpr const char* kAclAccess = "system.posix_acl_access";
inline constexpr const char* kAclDefault = "system.posix_acl_default";

using Xattrs = std::map<std::string, std::string>;

// A name a mount may set: "user.", "trusted.", "security." with something after, or one of the
// two ACL names. Others: kNotSupported; a known prefix alone: kInvalid; empty or longer than
// 255 bytes: kOutOfRange (ERANGE).
Status checkXattrName(const std::string& name);
// The whole change, as ext4 answers it: flags are proto::XattrFlags.
Status checkXattrSet(const Xattrs& current, const std::string& name, const std::string& value,
                     uint32_t flags, bool is_dir);

// An ACL's entries are well formed (known tags, one of each base entry, a mask when there are
// named entries, sorted, unique ids).
Status checkAcl(const std::string& value);
// The permission bits an access ACL stands for (owner, mask or group, other), with mode's other
// bits (type, set-id, sticky) kept. Nullopt for a malformed ACL.
std::optional<uint32_t> modeWithAcl(uint32_t mode, const std::string& acl);
// Whether an access ACL says no more than the mode bits (three base entries): it is then not
// kept, only the mode (as every Linux file system does).
bool aclIsMinimal(const std::string& acl);
// A chmod of an inode with an access ACL: its owner, mask (or group) and other entries follow
// the new permission bits.
std::string aclWithMode(const std::string& acl, uint32_t mode);
// A new inode in a directory with default ACL default_acl: its access ACL (nullopt when it says
// no more than its mode), and its mode (the create mode's bits masked by the ACL, no umask).
struct InheritedAcl {
  uint32_t mode = 0;
  std::optional<std::string> access;
};
InheritedAcl inheritAcl(const std::string& default_acl, uint32_t create_mode);

}  // namespace dfs::master
