// The master's persistent state: inodes, directory entries, and each file's chunks with their
// versions. It changes only through apply(MetaRecord), which either applies the whole record or
// nothing and is deterministic, so replaying a journal of records rebuilds the same state.
// Not thread-safe: owned by the master's state thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/chunk_layout.h"
#include "lib/base/status.h"
#include "proto/common.pb.h"
#include "proto/master.pb.h"

namespace dfs::master {

inline constexpr uint64_t kRootIno = 1;
inline constexpr size_t kMaxNameLength = 255;
inline constexpr uint32_t kRenameNoReplace = 1;
inline constexpr uint32_t kRenameExchange = 2;

struct Inode {
  uint64_t ino = 0;
  uint32_t mode = 0;  // full st_mode
  uint32_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t rdev = 0;
  std::string symlink_target;
  uint64_t parent = 0;                        // directories: the one directory holding them
  std::map<std::string, uint64_t> entries;    // directories: name -> inode, sorted bytewise
  std::vector<uint64_t> chunks;               // regular files: chunk id per index, 0 = hole
  uint32_t goal = 0;                          // replicas per chunk; 0: the cluster's default
  std::map<std::string, std::string> xattrs;  // extended attributes and ACLs (xattrs.h)

  bool isDir() const;
  bool isRegular() const;
};

struct ChunkMeta {
  uint64_t ino = 0;
  uint64_t index = 0;
  uint64_t version = 0;
};

// What an applied record did beyond the state change, for the caller to act on.
struct ApplyOutcome {
  uint64_t ino = 0;                     // the inode created, linked or changed
  std::vector<uint64_t> freed_chunks;   // no longer referenced: delete their replicas
  std::vector<uint64_t> unlinked;       // inodes whose link count reached 0 (orphans until purged)
  bool repeated = false;  // a retried call, answered as the first time: nothing was applied
};

class Namespace {
 public:
  Namespace();

  Result<ApplyOutcome> apply(const proto::MetaRecord& record);

  const Inode* find(uint64_t ino) const;
  Result<const Inode*> get(uint64_t ino) const;
  Result<const Inode*> lookup(uint64_t parent, const std::string& name) const;
  const ChunkMeta* chunk(uint64_t chunk_id) const;
  // The goal that applies to an inode, or to the file a chunk belongs to.
  uint32_t goalOf(const Inode& inode, uint32_t default_goal) const {
    return inode.goal ? inode.goal : default_goal;
  }
  uint32_t chunkGoal(uint64_t chunk_id, uint32_t default_goal) const;
  // Whether the committed size of the chunk's file reaches into it: only then can it hold a
  // byte a writer was told is stored (a commit follows every replica's acknowledgement).
  bool holdsCommittedData(uint64_t chunk_id) const;
  void fillAttr(const Inode& inode, proto::Attr* attr) const;

  // The cluster's identity, set by the journal's first record (InitClusterOp); empty before.
  const std::string& clusterId() const { return cluster_id_; }
  uint64_t nextIno() const { return next_ino_; }
  uint64_t nextChunkId() const { return next_chunk_id_; }
  uint64_t fileCount() const { return files_; }
  uint64_t directoryCount() const { return directories_; }
  uint64_t chunkCount() const { return chunks_.size(); }
  const std::unordered_map<uint64_t, ChunkMeta>& chunks() const { return chunks_; }

  static Status checkName(const std::string& name);

  // Checkpoints: iterate, and rebuild a namespace from scratch (clear, then restore).
  template <class Visit>
  void forEachInode(Visit visit) const {
    for (const auto& [ino, inode] : inodes_) visit(*inode);
  }
  void clearForRestore();
  Status restoreInode(std::unique_ptr<Inode> inode, const std::vector<uint64_t>& chunk_versions);
  Status restoreEntries(uint64_t dir, const std::vector<std::pair<std::string, uint64_t>>& entries);
  void restoreCounters(uint64_t next_ino, uint64_t next_chunk_id);
  void restoreClusterId(std::string cluster_id) { cluster_id_ = std::move(cluster_id); }
  // Every directory entry names an existing inode; link counts match the entries.
  Status checkConsistency() const;

 private:
  Result<ApplyOutcome> createInode(const proto::CreateInodeOp& op, int64_t now);
  Result<ApplyOutcome> unlink(const proto::UnlinkOp& op, int64_t now);
  Result<ApplyOutcome> rename(const proto::RenameOp& op, int64_t now);
  Result<ApplyOutcome> link(const proto::LinkOp& op, int64_t now);
  Result<ApplyOutcome> setAttr(const proto::SetAttrRequest& op, int64_t now);
  Result<ApplyOutcome> allocChunk(const proto::AllocChunkOp& op, int64_t now);
  Result<ApplyOutcome> setChunkVersion(const proto::SetChunkVersionOp& op);
  Result<ApplyOutcome> commitWrite(const proto::CommitWriteOp& op, int64_t now);
  Result<ApplyOutcome> purgeInode(const proto::PurgeInodeOp& op);
  Result<ApplyOutcome> setGoal(const proto::SetGoalOp& op);
  Result<ApplyOutcome> reserveInodes(const proto::ReserveInodesOp& op);
  Result<ApplyOutcome> reserveChunks(const proto::ReserveChunksOp& op);
  Result<ApplyOutcome> initCluster(const proto::InitClusterOp& op, int64_t now);
  Result<ApplyOutcome> setXattr(const proto::SetXattrOp& op, int64_t now);
  // A mode change of an inode: its access ACL, if any, follows.
  static void changeMode(Inode& inode, uint32_t permission_bits);

  Result<Inode*> mutableDir(uint64_t ino);
  // True when dir is ancestor or the same as ino (walking parents up to the root).
  bool isAncestorOrSelf(uint64_t ancestor, uint64_t ino) const;
  // Drops one link of inode; when it reaches 0 the inode is an orphan, listed in outcome.
  void dropLink(Inode& inode, int64_t now, ApplyOutcome* outcome);
  void truncateChunks(Inode& inode, uint64_t size, ApplyOutcome* outcome);

  std::unordered_map<uint64_t, std::unique_ptr<Inode>> inodes_;
  std::unordered_map<uint64_t, ChunkMeta> chunks_;
  uint64_t next_ino_ = kRootIno + 1;
  uint64_t next_chunk_id_ = 1;
  uint64_t files_ = 0;
  uint64_t directories_ = 1;
  std::string cluster_id_;
};

}  // namespace dfs::master
