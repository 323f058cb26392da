#include "server/master/xattrs.h"

#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "proto/master.pb.h"

namespace dfs::master {
namespace {

constexpr uint32_t kAclVersion = 2;
constexpr uint16_t kUserObj = 0x01, kUser = 0x02, kGroupObj = 0x04, kGroup = 0x08, kMask = 0x10,
                   kOther = 0x20;
constexpr uint32_t kUndefinedId = 0xffffffff;

struct AclEntry {
  uint16_t tag = 0;
  uint16_t perm = 0;
  uint32_t id = kUndefinedId;
};

template <class T>
T load(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);  // little-endian, as the machine
  return value;
}

std::optional<std::vector<AclEntry>> parseAcl(const std::string& value) {
  if (value.size() < 4 || (value.size() - 4) % 8 != 0) return std::nullopt;
  if (load<uint32_t>(value.data()) != kAclVersion) return std::nullopt;
  std::vector<AclEntry> entries;
  for (size_t at = 4; at < value.size(); at += 8) {
    entries.push_back({load<uint16_t>(value.data() + at), load<uint16_t>(value.data() + at + 2),
                       load<uint32_t>(value.data() + at + 4)});
  }
  return entries;
}

std::string formatAcl(const std::vector<AclEntry>& entries) {
  std::string out(4 + 8 * entries.size(), '\0');
  std::memcpy(out.data(), &kAclVersion, 4);
  for (size_t i = 0; i < entries.size(); ++i) {
    std::memcpy(out.data() + 4 + 8 * i, &entries[i].tag, 2);
    std::memcpy(out.data() + 6 + 8 * i, &entries[i].perm, 2);
    std::memcpy(out.data() + 8 + 8 * i, &entries[i].id, 4);
  }
  return out;
}

bool wellFormed(const std::vector<AclEntry>& entries) {
  int user_obj = 0, group_obj = 0, other = 0, mask = 0, named = 0;
  uint16_t last_tag = 0;
  uint32_t last_id = 0;
  for (const auto& entry : entries) {
    if (entry.perm & ~7u) return false;
    if (entry.tag < last_tag) return false;  // sorted by tag, then id
    switch (entry.tag) {
      case kUserObj: user_obj++; break;
      case kGroupObj: group_obj++; break;
      case kOther: other++; break;
      case kMask: mask++; break;
      case kUser:
      case kGroup:
        if (entry.id == kUndefinedId) return false;
        if (entry.tag == last_tag && entry.id <= last_id) return false;
        named++;
        break;
      default: return false;
    }
    last_tag = entry.tag;
    last_id = entry.id;
  }
  return user_obj == 1 && group_obj == 1 && other == 1 && mask <= 1 && (named == 0 || mask == 1);
}

}  // namespace

Status checkXattrName(const std::string& name) {
  if (name.empty() || name.size() > kMaxXattrNameBytes) {
    return Status(Code::kOutOfRange, "attribute name of " + std::to_string(name.size()) + " bytes");
  }
  for (const char* prefix : {"user.", "trusted.", "security."}) {
    size_t length = std::strlen(prefix);
    if (name.compare(0, length, prefix) != 0) continue;
    if (name.size() == length) return Status(Code::kInvalid, "attribute name " + name);  // as the VFS
    return Status::ok();
  }
  if (name == kAclAccess || name == kAclDefault) return Status::ok();
  return Status(Code::kNotSupported, "attribute namespace of " + name);
}

Status checkXattrSet(const Xattrs& current, const std::string& name, const std::string& value,
                     uint32_t flags, bool is_dir) {
  if (auto checked = checkXattrName(name); !checked.isOk()) return checked;
  if (value.size() > kMaxXattrValueBytes) {
    return Status(Code::kTooBig, "attribute value of " + std::to_string(value.size()) + " bytes");
  }
  auto it = current.find(name);
  if ((flags & proto::XATTR_CREATE_ONLY) && it != current.end()) {
    return Status(Code::kExists, name);
  }
  if ((flags & proto::XATTR_REPLACE_ONLY) && it == current.end()) {
    return Status(Code::kNoData, name);
  }
  if (name == kAclAccess || name == kAclDefault) {
    if (auto acl = checkAcl(value); !acl.isOk()) return acl;
    if (name == kAclDefault && !is_dir) {
      return Status(Code::kAccessDenied, "a default ACL on a non-directory");
    }
  }
  size_t total = name.size() + value.size();
  for (const auto& [other_name, other_value] : current) {
    if (other_name != name) total += other_name.size() + other_value.size();
  }
  if (total > kMaxXattrBytesPerInode) {
    return Status(Code::kNoSpace, "extended attributes of " + std::to_string(total) + " bytes");
  }
  return Status::ok();
}

Status checkAcl(const std::string& value) {
  auto entries = parseAcl(value);
  if (!entries || !wellFormed(*entries)) return Status(Code::kInvalid, "malformed ACL");
  return Status::ok();
}

std::optional<uint32_t> modeWithAcl(uint32_t mode, const std::string& acl) {
  auto entries = parseAcl(acl);
  if (!entries || !wellFormed(*entries)) return std::nullopt;
  uint32_t owner = 0, group = 0, other = 0, mask = 0;
  bool has_mask = false;
  for (const auto& entry : *entries) {
    if (entry.tag == kUserObj) owner = entry.perm;
    if (entry.tag == kGroupObj) group = entry.perm;
    if (entry.tag == kOther) other = entry.perm;
    if (entry.tag == kMask) mask = entry.perm, has_mask = true;
  }
  return (mode & ~0777u) | owner << 6 | (has_mask ? mask : group) << 3 | other;
}

bool aclIsMinimal(const std::string& acl) {
  auto entries = parseAcl(acl);
  return entries && entries->size() == 3;
}

std::string aclWithMode(const std::string& acl, uint32_t mode) {
  auto entries = parseAcl(acl);
  if (!entries) return acl;
  bool has_mask = false;
  for (const auto& entry : *entries) has_mask |= entry.tag == kMask;
  for (auto& entry : *entries) {
    if (entry.tag == kUserObj) entry.perm = (mode >> 6) & 7;
    if (entry.tag == (has_mask ? kMask : kGroupObj)) entry.perm = (mode >> 3) & 7;
    if (entry.tag == kOther) entry.perm = mode & 7;
  }
  return formatAcl(*entries);
}

InheritedAcl inheritAcl(const std::string& default_acl, uint32_t create_mode) {
  // As the kernel's posix_acl_create_masq: each base entry is masked by the create mode, and the
  // mode by the entries.
  InheritedAcl out;
  auto parsed = parseAcl(default_acl);
  if (!parsed || !wellFormed(*parsed)) {
    out.mode = create_mode;
    return out;
  }
  auto entries = *parsed;
  uint32_t mode = create_mode;
  AclEntry* group_obj = nullptr;
  AclEntry* mask = nullptr;
  bool not_minimal = false;
  for (auto& entry : entries) {
    switch (entry.tag) {
      case kUserObj:
        entry.perm &= (mode >> 6) & 7;
        mode &= (entry.perm << 6) | ~S_IRWXU;
        break;
      case kUser:
      case kGroup:
        not_minimal = true;
        break;
      case kGroupObj:
        group_obj = &entry;
        break;
      case kOther:
        entry.perm &= mode & 7;
        mode &= entry.perm | ~S_IRWXO;
        break;
      case kMask:
        mask = &entry;
        not_minimal = true;
        break;
    }
  }
  AclEntry* group_bits = mask ? mask : group_obj;
  group_bits->perm &= (mode >> 3) & 7;
  mode &= (group_bits->perm << 3) | ~S_IRWXG;
  out.mode = mode;
  if (not_minimal) out.access = formatAcl(entries);
  return out;
}

}  // namespace dfs::master
