#include "server/master/namespace.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "lib/base/clock.h"
#include "server/master/xattrs.h"

namespace dfs::master {
namespace {

// An inode changed at t: its ctime moves there, never back (a client's clock, or the master's
// after a step back, may be behind a time the inode already has).
void stamp(Inode& inode, int64_t t) { inode.ctime_ns = std::max(inode.ctime_ns, t); }
// A directory's entries changed at t: its mtime is t (as ext4's, even after a utime set it
// ahead), its ctime moves there.
void changed(Inode& dir, int64_t t) {
  dir.mtime_ns = t;
  stamp(dir, t);
}

}  // namespace

bool Inode::isDir() const { return S_ISDIR(mode); }
bool Inode::isRegular() const { return S_ISREG(mode); }

Namespace::Namespace() {
  auto root = std::make_unique<Inode>();
  root->ino = kRootIno;
  root->mode = S_IFDIR | 0755;
  root->nlink = 2;
  root->parent = kRootIno;
  // Times 0 until the cluster's first record (InitClusterOp) gives them: a replay of the
  // journal builds the same root.
  root->atime_ns = root->mtime_ns = root->ctime_ns = 0;
  inodes_.emplace(kRootIno, std::move(root));
}

Status Namespace::checkName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Status(Code::kInvalid, "bad name '" + name + "'");
  }
  if (name.size() > kMaxNameLength) {
    return Status(Code::kNameTooLong, fmt::format("name of {} bytes", name.size()));
  }
  return Status::ok();
}

const Inode* Namespace::find(uint64_t ino) const {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second.get();
}

Result<const Inode*> Namespace::get(uint64_t ino) const {
  const Inode* inode = find(ino);
  if (!inode) return makeError(Code::kNotFound, fmt::format("inode {}", ino));
  return inode;
}

Result<const Inode*> Namespace::lookup(uint64_t parent, const std::string& name) const {
  DFS_TRY(const Inode* dir, get(parent));
  if (!dir->isDir()) return makeError(Code::kNotDir, fmt::format("inode {}", parent));
  if (name.size() > kMaxNameLength) return makeError(Code::kNameTooLong, name.substr(0, 32));
  auto it = dir->entries.find(name);
  if (it == dir->entries.end()) return makeError(Code::kNotFound, name);
  return get(it->second);
}

const ChunkMeta* Namespace::chunk(uint64_t chunk_id) const {
  auto it = chunks_.find(chunk_id);
  return it == chunks_.end() ? nullptr : &it->second;
}

bool Namespace::holdsCommittedData(uint64_t chunk_id) const {
  const ChunkMeta* meta = chunk(chunk_id);
  if (!meta) return false;
  const Inode* inode = find(meta->ino);
  return inode && meta->index * kChunkSize < inode->size;
}

void Namespace::fillAttr(const Inode& inode, proto::Attr* attr) const {
  attr->set_ino(inode.ino);
  attr->set_mode(inode.mode);
  attr->set_nlink(inode.nlink);
  attr->set_uid(inode.uid);
  attr->set_gid(inode.gid);
  uint64_t size = inode.size;
  if (inode.isDir()) size = 4096;
  if (S_ISLNK(inode.mode)) size = inode.symlink_target.size();
  attr->set_size(size);
  uint64_t stored = size;
  if (inode.isRegular()) {
    stored = 0;
    for (uint64_t index = 0; index < inode.chunks.size() && index * kChunkSize < size; ++index) {
      if (inode.chunks[index] != 0) stored += std::min(kChunkSize, size - index * kChunkSize);
    }
  }
  attr->set_blocks((stored + 511) / 512);
  attr->set_atime_ns(inode.atime_ns);
  attr->set_mtime_ns(inode.mtime_ns);
  attr->set_ctime_ns(inode.ctime_ns);
  attr->set_rdev(inode.rdev);
  attr->set_has_xattrs(!inode.xattrs.empty());
}

Result<ApplyOutcome> Namespace::apply(const proto::MetaRecord& record) {
  int64_t now = record.time_ns();
  switch (record.op_case()) {
    case proto::MetaRecord::kCreateInode: return createInode(record.create_inode(), now);
    case proto::MetaRecord::kUnlink: return unlink(record.unlink(), now);
    case proto::MetaRecord::kRename: return rename(record.rename(), now);
    case proto::MetaRecord::kLink: return link(record.link(), now);
    case proto::MetaRecord::kSetAttr: return setAttr(record.set_attr().attr(), now);
    case proto::MetaRecord::kAllocChunk: return allocChunk(record.alloc_chunk(), now);
    case proto::MetaRecord::kSetChunkVersion: return setChunkVersion(record.set_chunk_version());
    case proto::MetaRecord::kCommitWrite: return commitWrite(record.commit_write(), now);
    case proto::MetaRecord::kPurgeInode: return purgeInode(record.purge_inode());
    case proto::MetaRecord::kSetGoal: return setGoal(record.set_goal());
    case proto::MetaRecord::kReserveInodes:
      return reserveInodes(record.reserve_inodes());
    case proto::MetaRecord::kReserveChunks:
      return reserveChunks(record.reserve_chunks());
    case proto::MetaRecord::kInitCluster: return initCluster(record.init_cluster(), now);
    case proto::MetaRecord::kSetXattr: return setXattr(record.set_xattr(), now);
    case proto::MetaRecord::OP_NOT_SET: break;
  }
  return makeError(Code::kInvalid, "metadata record without an operation");
}

Result<Inode*> Namespace::mutableDir(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("directory {}", ino));
  if (!it->second->isDir()) return makeError(Code::kNotDir, fmt::format("inode {}", ino));
  return it->second.get();
}

bool Namespace::isAncestorOrSelf(uint64_t ancestor, uint64_t ino) const {
  for (;;) {
    if (ino == ancestor) return true;
    if (ino == kRootIno) return false;
    const Inode* inode = find(ino);
    if (!inode) return false;
    ino = inode->parent;
  }
}

Result<ApplyOutcome> Namespace::createInode(const proto::CreateInodeOp& op, int64_t now) {
  DFS_RETURN_IF_ERROR(toResult(checkName(op.name())));
  DFS_TRY(Inode * dir, mutableDir(op.parent()));
  if (dir->entries.contains(op.name())) return makeError(Code::kExists, op.name());
  // A reserved number lies below next_ino_ (the reservation moved it); the session that owns
  // it was checked before the record was made.
  if ((op.ino() < next_ino_ && !op.reserved()) || op.ino() <= kRootIno ||
      inodes_.contains(op.ino())) {
    return makeError(Code::kInternal, fmt::format("inode number {} reused", op.ino()));
  }
  auto inode = std::make_unique<Inode>();
  inode->ino = op.ino();
  inode->mode = op.mode();
  if (auto inherited = dir->xattrs.find(kAclDefault);
      inherited != dir->xattrs.end() && !S_ISLNK(op.mode())) {
    auto acl = inheritAcl(inherited->second, op.mode() & 07777);
    inode->mode = (op.mode() & ~07777u) | acl.mode;
    if (acl.access) inode->xattrs.emplace(kAclAccess, std::move(*acl.access));
    if (S_ISDIR(op.mode())) inode->xattrs.emplace(kAclDefault, inherited->second);
  } else if (!S_ISLNK(op.mode())) {
    inode->mode = op.mode() & ~(op.umask() & 0777);
  }
  inode->uid = op.uid();
  inode->gid = op.gid();
  if (dir->mode & S_ISGID) {
    // A setgid directory gives what is made in it its group, and a new directory its setgid
    // bit too (as Linux's inode_init_owner).
    inode->gid = dir->gid;
    if (S_ISDIR(op.mode())) inode->mode |= S_ISGID;
  }
  inode->rdev = op.rdev();
  inode->symlink_target = op.symlink_target();
  inode->goal = op.goal();
  inode->atime_ns = inode->mtime_ns = inode->ctime_ns = now;
  if (inode->isDir()) {
    inode->nlink = 2;
    inode->parent = dir->ino;
    dir->nlink++;
    directories_++;
  } else {
    inode->nlink = 1;
    files_++;
  }
  dir->entries.emplace(op.name(), op.ino());
  changed(*dir, now);
  next_ino_ = std::max(next_ino_, op.ino() + 1);
  inodes_.emplace(op.ino(), std::move(inode));
  return ApplyOutcome{.ino = op.ino()};
}

Result<ApplyOutcome> Namespace::reserveInodes(const proto::ReserveInodesOp& op) {
  if (op.first() < next_ino_ || op.count() == 0) {
    return makeError(Code::kInternal,
                     fmt::format("inode numbers from {} reserved twice", op.first()));
  }
  next_ino_ = op.first() + op.count();
  return ApplyOutcome{.ino = op.first()};
}

Result<ApplyOutcome> Namespace::reserveChunks(const proto::ReserveChunksOp& op) {
  if (op.first() < next_chunk_id_ || op.count() == 0) {
    return makeError(Code::kInternal, fmt::format("chunk ids from {} reserved twice", op.first()));
  }
  next_chunk_id_ = op.first() + op.count();
  return ApplyOutcome{.ino = op.first()};
}

void Namespace::dropLink(Inode& inode, int64_t now, ApplyOutcome* outcome) {
  stamp(inode, now);
  if (inode.isDir()) {
    inode.nlink = 0;
  } else if (inode.nlink > 0) {
    inode.nlink--;
  }
  if (inode.nlink == 0) outcome->unlinked.push_back(inode.ino);
}

Result<ApplyOutcome> Namespace::unlink(const proto::UnlinkOp& op, int64_t now) {
  DFS_TRY(Inode * dir, mutableDir(op.parent()));
  auto entry = dir->entries.find(op.name());
  if (entry == dir->entries.end()) return makeError(Code::kNotFound, op.name());
  Inode& target = *inodes_.at(entry->second);
  if (op.directory()) {
    if (!target.isDir()) return makeError(Code::kNotDir, op.name());
    if (!target.entries.empty()) return makeError(Code::kNotEmpty, op.name());
  } else if (target.isDir()) {
    return makeError(Code::kIsDir, op.name());
  }
  ApplyOutcome outcome{.ino = target.ino};
  dir->entries.erase(entry);
  changed(*dir, now);
  if (target.isDir()) dir->nlink--;
  dropLink(target, now, &outcome);
  return outcome;
}

Result<ApplyOutcome> Namespace::rename(const proto::RenameOp& op, int64_t now) {
  DFS_RETURN_IF_ERROR(toResult(checkName(op.new_name())));
  DFS_TRY(Inode * from_dir, mutableDir(op.parent()));
  DFS_TRY(Inode * to_dir, mutableDir(op.new_parent()));
  auto from_entry = from_dir->entries.find(op.name());
  if (from_entry == from_dir->entries.end()) return makeError(Code::kNotFound, op.name());
  Inode& source = *inodes_.at(from_entry->second);
  auto to_entry = to_dir->entries.find(op.new_name());
  Inode* target = to_entry == to_dir->entries.end() ? nullptr : inodes_.at(to_entry->second).get();
  bool exchange = op.flags() & kRenameExchange;
  if (op.flags() & ~(kRenameExchange | kRenameNoReplace) ||
      (exchange && (op.flags() & kRenameNoReplace))) {
    return makeError(Code::kInvalid, "rename flags");
  }

  // A directory may not move below itself.
  if (source.isDir() && isAncestorOrSelf(source.ino, to_dir->ino)) {
    return makeError(Code::kInvalid, "directory moved into itself: " + op.name());
  }
  ApplyOutcome outcome{.ino = source.ino};
  if (exchange) {
    if (!target) return makeError(Code::kNotFound, op.new_name());
    if (target->isDir() && isAncestorOrSelf(target->ino, from_dir->ino)) {
      return makeError(Code::kInvalid, "directory moved into itself: " + op.new_name());
    }
    std::swap(from_entry->second, to_entry->second);
    if (source.isDir() != target->isDir() && from_dir != to_dir) {
      Inode* dir_moved_to_to = source.isDir() ? to_dir : from_dir;
      Inode* dir_moved_from = source.isDir() ? from_dir : to_dir;
      dir_moved_to_to->nlink++;
      dir_moved_from->nlink--;
    }
    if (source.isDir()) source.parent = to_dir->ino;
    if (target->isDir()) target->parent = from_dir->ino;
    stamp(source, now);
    stamp(*target, now);
  } else {
    if (target == &source) return outcome;  // two links to the same inode: nothing to do
    if (target) {
      if (op.flags() & kRenameNoReplace) return makeError(Code::kExists, op.new_name());
      if (source.isDir() && !target->isDir()) return makeError(Code::kNotDir, op.new_name());
      if (!source.isDir() && target->isDir()) return makeError(Code::kIsDir, op.new_name());
      if (target->isDir() && !target->entries.empty()) {
        return makeError(Code::kNotEmpty, op.new_name());
      }
      if (target->isDir()) to_dir->nlink--;
      dropLink(*target, now, &outcome);
      to_entry->second = source.ino;
    } else {
      to_dir->entries.emplace(op.new_name(), source.ino);
    }
    from_dir->entries.erase(op.name());
    if (source.isDir()) {
      from_dir->nlink--;
      to_dir->nlink++;
      source.parent = to_dir->ino;
    }
    stamp(source, now);
  }
  changed(*from_dir, now);
  changed(*to_dir, now);
  return outcome;
}

Result<ApplyOutcome> Namespace::link(const proto::LinkOp& op, int64_t now) {
  DFS_RETURN_IF_ERROR(toResult(checkName(op.new_name())));
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  Inode& inode = *it->second;
  if (inode.isDir()) return makeError(Code::kNotPermitted, "hard link to a directory");
  if (inode.nlink == 0) return makeError(Code::kNotFound, "inode was unlinked");
  DFS_TRY(Inode * dir, mutableDir(op.new_parent()));
  if (dir->entries.contains(op.new_name())) return makeError(Code::kExists, op.new_name());
  dir->entries.emplace(op.new_name(), inode.ino);
  changed(*dir, now);
  inode.nlink++;
  stamp(inode, now);
  return ApplyOutcome{.ino = inode.ino};
}

void Namespace::truncateChunks(Inode& inode, uint64_t size, ApplyOutcome* outcome) {
  uint64_t keep = (size + kChunkSize - 1) / kChunkSize;
  for (uint64_t index = keep; index < inode.chunks.size(); ++index) {
    if (uint64_t id = inode.chunks[index]) {
      chunks_.erase(id);
      outcome->freed_chunks.push_back(id);
    }
  }
  if (inode.chunks.size() > keep) inode.chunks.resize(keep);
}

Result<ApplyOutcome> Namespace::setAttr(const proto::SetAttrRequest& op, int64_t now) {
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  Inode& inode = *it->second;
  uint32_t valid = op.valid();
  if ((valid & proto::SET_SIZE) && !inode.isRegular()) {
    return makeError(inode.isDir() ? Code::kIsDir : Code::kInvalid, "size of a non-regular file");
  }
  ApplyOutcome outcome{.ino = inode.ino};
  if (valid & proto::SET_MODE) changeMode(inode, op.mode());
  if (valid & proto::SET_UID) inode.uid = op.uid();
  if (valid & proto::SET_GID) inode.gid = op.gid();
  if (valid & proto::SET_SIZE) {
    if (op.size() < inode.size) truncateChunks(inode, op.size(), &outcome);
    inode.size = op.size();
    inode.mtime_ns = now;
  }
  if (valid & proto::SET_ATIME) inode.atime_ns = op.atime_ns();
  if (valid & proto::SET_ATIME_NOW) inode.atime_ns = now;
  if (valid & proto::SET_MTIME) inode.mtime_ns = op.mtime_ns();
  if (valid & proto::SET_MTIME_NOW) inode.mtime_ns = now;
  stamp(inode, now);
  return outcome;
}

Result<ApplyOutcome> Namespace::allocChunk(const proto::AllocChunkOp& op, int64_t now) {
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  Inode& inode = *it->second;
  if (!inode.isRegular()) return makeError(Code::kInvalid, "chunk for a non-regular file");
  if (op.chunk_id() < next_chunk_id_ || chunks_.contains(op.chunk_id())) {
    return makeError(Code::kInternal, fmt::format("chunk id {} reused", op.chunk_id()));
  }
  if (inode.chunks.size() <= op.chunk_index()) inode.chunks.resize(op.chunk_index() + 1, 0);
  if (inode.chunks[op.chunk_index()] != 0) {
    return makeError(Code::kExists, fmt::format("chunk {} of inode {}", op.chunk_index(), op.ino()));
  }
  inode.chunks[op.chunk_index()] = op.chunk_id();
  chunks_.emplace(op.chunk_id(), ChunkMeta{op.ino(), op.chunk_index(), 1});
  next_chunk_id_ = op.chunk_id() + 1;
  return ApplyOutcome{.ino = op.ino()};
}

Result<ApplyOutcome> Namespace::setChunkVersion(const proto::SetChunkVersionOp& op) {
  auto it = chunks_.find(op.chunk_id());
  if (it == chunks_.end()) return makeError(Code::kNotFound, fmt::format("chunk {}", op.chunk_id()));
  it->second.version = op.version();
  return ApplyOutcome{.ino = it->second.ino};
}

Result<ApplyOutcome> Namespace::commitWrite(const proto::CommitWriteOp& op, int64_t now) {
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  Inode& inode = *it->second;
  if (!inode.isRegular()) return makeError(Code::kInvalid, "write to a non-regular file");
  if (uint64_t id = op.reserved_chunk_id(); id != 0) {
    // Reserved (so below next_chunk_id_) and written before this commit: chunk 0 from now on.
    if (id >= next_chunk_id_ || chunks_.contains(id)) {
      return makeError(Code::kInternal, fmt::format("chunk id {} is not a reserved one", id));
    }
    if (!inode.chunks.empty() && inode.chunks[0] != 0) {
      return makeError(Code::kExists, fmt::format("chunk 0 of inode {}", op.ino()));
    }
    if (inode.chunks.empty()) inode.chunks.resize(1, 0);
    inode.chunks[0] = id;
    chunks_.emplace(id, ChunkMeta{op.ino(), 0, 1});
  }
  inode.size = std::max(inode.size, op.min_size());
  inode.mtime_ns = op.mtime_ns() ? op.mtime_ns() : now;
  if (op.has_mode()) changeMode(inode, op.mode());
  if (op.has_atime()) inode.atime_ns = op.atime_ns();
  stamp(inode, op.ctime_ns() != 0 ? op.ctime_ns() : now);
  return ApplyOutcome{.ino = inode.ino};
}

uint32_t Namespace::chunkGoal(uint64_t chunk_id, uint32_t default_goal) const {
  const ChunkMeta* meta = chunk(chunk_id);
  const Inode* inode = meta ? find(meta->ino) : nullptr;
  return inode ? goalOf(*inode, default_goal) : default_goal;
}

Result<ApplyOutcome> Namespace::setGoal(const proto::SetGoalOp& op) {
  if (op.goal() > 16) return makeError(Code::kInvalid, "goal above 16");
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  std::vector<Inode*> pending{it->second.get()};
  while (!pending.empty()) {
    Inode* inode = pending.back();
    pending.pop_back();
    inode->goal = op.goal();
    if (op.recursive() && inode->isDir()) {
      for (const auto& [name, child] : inode->entries) pending.push_back(inodes_.at(child).get());
    }
  }
  return ApplyOutcome{.ino = op.ino()};
}

Result<ApplyOutcome> Namespace::purgeInode(const proto::PurgeInodeOp& op) {
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  Inode& inode = *it->second;
  if (inode.nlink != 0) return makeError(Code::kInvalid, "purge of a linked inode");
  ApplyOutcome outcome{.ino = inode.ino};
  truncateChunks(inode, 0, &outcome);
  if (inode.isDir()) {
    directories_--;
  } else {
    files_--;
  }
  inodes_.erase(it);
  return outcome;
}

void Namespace::clearForRestore() {
  inodes_.clear();
  chunks_.clear();
  files_ = directories_ = 0;
  next_ino_ = kRootIno + 1;
  next_chunk_id_ = 1;
}

Status Namespace::restoreInode(std::unique_ptr<Inode> inode,
                               const std::vector<uint64_t>& chunk_versions) {
  if (inode->ino == 0 || inodes_.contains(inode->ino)) {
    return Status(Code::kCorrupt, fmt::format("inode {} twice", inode->ino));
  }
  if (chunk_versions.size() != inode->chunks.size()) {
    return Status(Code::kCorrupt, fmt::format("inode {}: chunk versions do not match", inode->ino));
  }
  for (size_t index = 0; index < inode->chunks.size(); ++index) {
    if (uint64_t id = inode->chunks[index]) {
      chunks_[id] = ChunkMeta{inode->ino, index, chunk_versions[index]};
    }
  }
  if (inode->isDir()) {
    directories_++;
  } else {
    files_++;
  }
  next_ino_ = std::max(next_ino_, inode->ino + 1);
  inodes_.emplace(inode->ino, std::move(inode));
  return Status::ok();
}

Status Namespace::restoreEntries(uint64_t dir,
                                 const std::vector<std::pair<std::string, uint64_t>>& entries) {
  auto it = inodes_.find(dir);
  if (it == inodes_.end() || !it->second->isDir()) {
    return Status(Code::kCorrupt, fmt::format("entries for {}, not a directory", dir));
  }
  for (const auto& [name, ino] : entries) it->second->entries.emplace(name, ino);
  return Status::ok();
}

void Namespace::changeMode(Inode& inode, uint32_t permission_bits) {
  inode.mode = (inode.mode & S_IFMT) | (permission_bits & 07777);
  if (auto acl = inode.xattrs.find(kAclAccess); acl != inode.xattrs.end()) {
    acl->second = aclWithMode(acl->second, inode.mode);
  }
}

Result<ApplyOutcome> Namespace::setXattr(const proto::SetXattrOp& op, int64_t now) {
  auto it = inodes_.find(op.ino());
  if (it == inodes_.end()) return makeError(Code::kNotFound, fmt::format("inode {}", op.ino()));
  Inode& inode = *it->second;
  if (op.remove()) {
    if (auto checked = checkXattrName(op.name()); !checked.isOk()) return makeError(checked);
    if (inode.xattrs.erase(op.name()) == 0) {
      // Removing an ACL an inode does not have leaves it as it is, as ext4 answers (setfacl -b,
      // -k of a plain file).
      if (op.name() == kAclAccess || op.name() == kAclDefault) return ApplyOutcome{.ino = inode.ino};
      return makeError(Code::kNoData, op.name());
    }
  } else {
    DFS_RETURN_IF_ERROR(
        toResult(checkXattrSet(inode.xattrs, op.name(), op.value(), op.flags(), inode.isDir())));
    if (op.name() == kAclAccess) {
      // The ACL and the permission bits are one: the bits take the ACL's, and an ACL that says
      // no more than they do is not kept.
      inode.mode = *modeWithAcl(inode.mode, op.value());
      if (aclIsMinimal(op.value())) {
        inode.xattrs.erase(op.name());
      } else {
        inode.xattrs[op.name()] = op.value();
      }
    } else {
      inode.xattrs[op.name()] = op.value();
    }
  }
  stamp(inode, now);
  return ApplyOutcome{.ino = inode.ino};
}

Result<ApplyOutcome> Namespace::initCluster(const proto::InitClusterOp& op, int64_t now) {
  if (!cluster_id_.empty()) return makeError(Code::kInvalid, "the cluster has an identity already");
  if (op.cluster_id().empty()) return makeError(Code::kInvalid, "empty cluster identity");
  cluster_id_ = op.cluster_id();
  Inode& root = *inodes_.at(kRootIno);
  if (root.ctime_ns == 0) root.atime_ns = root.mtime_ns = root.ctime_ns = now;  // made now
  return ApplyOutcome{};
}

void Namespace::restoreCounters(uint64_t next_ino, uint64_t next_chunk_id) {
  next_ino_ = std::max(next_ino_, next_ino);
  next_chunk_id_ = std::max(next_chunk_id_, next_chunk_id);
}

Status Namespace::checkConsistency() const {
  if (!find(kRootIno) || !find(kRootIno)->isDir()) return Status(Code::kCorrupt, "no root directory");
  std::unordered_map<uint64_t, uint32_t> links;
  for (const auto& [ino, inode] : inodes_) {
    for (const auto& [name, child] : inode->entries) {
      const Inode* target = find(child);
      if (!target) {
        return Status(Code::kCorrupt, fmt::format("entry '{}' of {} names missing inode {}", name,
                                                  ino, child));
      }
      if (target->isDir() && target->parent != ino) {
        return Status(Code::kCorrupt, fmt::format("directory {} under {} says its parent is {}",
                                                  child, ino, target->parent));
      }
      links[child]++;
    }
  }
  for (const auto& [ino, inode] : inodes_) {
    if (inode->isDir() || ino == kRootIno) continue;
    if (inode->nlink != links[ino]) {
      return Status(Code::kCorrupt, fmt::format("inode {} has nlink {} but {} entries", ino,
                                                inode->nlink, links[ino]));
    }
  }
  return Status::ok();
}

}  // namespace dfs::master
