// The permission checks of DfsClient: the rules are permissions.h's; this finds the attributes
// they are judged against.
#include <sys/stat.h>

#include "lib/client/internal.h"

namespace dfs::client {

void DfsClient::notePermissions(const proto::Attr& attr) {
  if (attr.ino() == 0) return;
  // Forgetting costs only a call to the master per inode checked again.
  if (known_permissions_.size() >= kMaxKnownPermissions) known_permissions_.clear();
  proto::Attr current = attr;
  overlayLocalState(&current);  // a mode change waiting for the file's commit
  known_permissions_[attr.ino()] = {current.mode(), current.uid(), current.gid(),
                                    current.has_xattrs(), std::chrono::steady_clock::now()};
}

bool DfsClient::knownWithoutXattrs(uint64_t ino) const {
  auto now = std::chrono::steady_clock::now();
  if (auto fresh = fresh_dirs_.find(ino); fresh != fresh_dirs_.end()) {
    if (held_dirs_.contains(ino) || now - fresh->second.second < options_.fresh_attr_ttl) {
      return !fresh->second.first.has_xattrs();
    }
  }
  auto known = known_permissions_.find(ino);
  return known != known_permissions_.end() && now - known->second.at < options_.fresh_attr_ttl &&
         !known->second.has_xattrs;
}

Task<proto::Attr> DfsClient::attrForCheck(uint64_t ino) {
  auto now = std::chrono::steady_clock::now();
  if (auto fresh = fresh_dirs_.find(ino); fresh != fresh_dirs_.end()) {
    if (held_dirs_.contains(ino) || now - fresh->second.second < options_.fresh_attr_ttl) {
      co_return fresh->second.first;
    }
  }
  if (auto known = known_permissions_.find(ino); known != known_permissions_.end()) {
    if (now - known->second.at < options_.fresh_attr_ttl) {
      proto::Attr attr;
      attr.set_ino(ino);
      attr.set_mode(known->second.mode);
      attr.set_uid(known->second.uid);
      attr.set_gid(known->second.gid);
      co_return attr;
    }
    known_permissions_.erase(known);
  }
  DFS_CO_TRY(auto attr, co_await getAttr(ino));
  notePermissions(attr);
  co_return attr;
}

bool DfsClient::searchableByAll(uint64_t dir) const {
  constexpr uint32_t kSearchByAll = 0111;
  if (auto fresh = fresh_dirs_.find(dir); fresh != fresh_dirs_.end()) {
    return (fresh->second.first.mode() & kSearchByAll) == kSearchByAll;
  }
  auto known = known_permissions_.find(dir);
  return known != known_permissions_.end() && (known->second.mode & kSearchByAll) == kSearchByAll;
}

Task<void> DfsClient::checkAccess(uint64_t ino, Caller caller, int mask) {
  DFS_CO_TRY(auto attr, co_await attrForCheck(ino));
  co_return client::checkAccess(attr, caller, mask);
}

Task<void> DfsClient::checkCreate(uint64_t parent, Caller caller) {
  DFS_CO_TRY(auto dir, co_await attrForCheck(parent));
  if (!S_ISDIR(dir.mode())) co_return makeError(Code::kNotDir, "not a directory");
  co_return client::checkAccess(dir, caller, kMayWrite | kMayExec);
}

Task<void> DfsClient::checkRemove(uint64_t parent, std::string name, Caller caller) {
  DFS_CO_TRY(auto dir, co_await attrForCheck(parent));
  if (!S_ISDIR(dir.mode())) co_return makeError(Code::kNotDir, "not a directory");
  DFS_CO_RETURN_IF_ERROR(client::checkAccess(dir, caller, kMayWrite | kMayExec));
  if ((dir.mode() & S_ISVTX) == 0 || caller.isRoot()) co_return Result<void>{};
  DFS_CO_TRY(auto entry, co_await lookup(parent, std::move(name)));
  co_return checkSticky(dir, entry, caller);
}

Task<void> DfsClient::checkRename(uint64_t parent, std::string name, uint64_t new_parent,
                                  std::string new_name, Caller caller) {
  DFS_CO_TRY(auto from, co_await attrForCheck(parent));
  DFS_CO_TRY(auto to, co_await attrForCheck(new_parent));
  if (!S_ISDIR(from.mode()) || !S_ISDIR(to.mode())) {
    co_return makeError(Code::kNotDir, "not a directory");
  }
  DFS_CO_RETURN_IF_ERROR(client::checkAccess(from, caller, kMayWrite | kMayExec));
  DFS_CO_RETURN_IF_ERROR(client::checkAccess(to, caller, kMayWrite | kMayExec));
  if (caller.isRoot()) co_return Result<void>{};
  bool moves_away = parent != new_parent;
  if ((from.mode() & S_ISVTX) || moves_away) {
    DFS_CO_TRY(auto moved, co_await lookup(parent, std::move(name)));
    DFS_CO_RETURN_IF_ERROR(checkSticky(from, moved, caller));
    if (moves_away && S_ISDIR(moved.mode())) {
      DFS_CO_RETURN_IF_ERROR(client::checkAccess(moved, caller, kMayWrite));
    }
  }
  if (to.mode() & S_ISVTX) {
    auto replaced = co_await lookup(new_parent, std::move(new_name));
    if (replaced) DFS_CO_RETURN_IF_ERROR(checkSticky(to, *replaced, caller));
  }
  co_return Result<void>{};
}

Task<proto::SetAttrRequest> DfsClient::checkSetAttr(proto::SetAttrRequest request, Caller caller,
                                                    bool through_writable_handle) {
  DFS_CO_TRY(auto current, co_await attrForCheck(request.ino()));
  DFS_CO_RETURN_IF_ERROR(client::checkSetAttr(current, &request, caller, through_writable_handle));
  co_return request;
}

}  // namespace dfs::client
