// DfsClient: the one client library of DFS, used by mount.dfs and the dfs CLI. It holds a
// session with the master, caches chunk locations and buffers writes per file, and turns file
// operations into master calls and chunk reads/writes.
//
// Every operation is a coroutine that runs on the client's own I/O thread, where all of the
// client's state lives (no locks). FUSE callbacks start them with spawn() and reply from the
// completion; the CLI waits for them with run().
//
// Consistency: close-to-open. open() fetches fresh attributes and drops cached locations;
// flush() sends buffered data to every replica and commits length and mtime to the master.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/base/address.h"
#include "lib/base/chunk_layout.h"
#include "lib/base/status.h"
#include "lib/client/permissions.h"
#include "lib/locks/lock_table.h"
#include "lib/rpc/async_event.h"
#include "lib/rpc/client.h"
#include "lib/rpc/client_pool.h"
#include "proto/common.pb.h"
#include "proto/master.pb.h"

namespace dfs::proto {
class WriteChunkRequest;  // proto/chunk.pb.h, for the client's .cc files only
}  // namespace dfs::proto

namespace dfs::client {

class LocalReplicas;

inline constexpr uint64_t kRootIno = 1;

struct ClientOptions {
  HostPort master;
  std::string mount_point;                         // for the master's session list
  std::chrono::milliseconds call_timeout{10000};   // one RPC attempt
  std::chrono::milliseconds retry_window{60000};   // how long a retriable call keeps trying
  size_t write_batch_bytes = 8 << 20;              // buffered bytes that start a background flush
  size_t write_piece_bytes = 1 << 20;              // bytes per chunk write RPC
  size_t max_batches_in_flight = 2;
  size_t max_pieces_in_flight = 12;                // chunk write RPCs under way per file
  // How long the client's thread keeps polling after work before it sleeps (lib/rpc/run_loop).
  std::chrono::microseconds idle_spin{50};
  // How long attributes the master returned with this client's own change answer getAttr: a
  // directory's after a create or remove in it (the kernel asks right after, for its permission
  // check), and a file's this client is writing (a chown makes the kernel ask). Like the
  // kernel's own attribute cache, it hides other mounts' changes that long.
  std::chrono::milliseconds fresh_attr_ttl{1000};
  // Close-behind (flushOnClose): a close of a file with at most close_behind_file_bytes left to
  // write returns once its data is stored on its replicas; the commit to the master finishes in
  // the background, and other mounts' opens and stats of the file are recalled from this
  // client and wait for it (server/master/closes_behind.h). Off unless asked for: only the
  // mount closes files.
  bool close_behind = false;
  size_t close_behind_file_bytes = 1 << 20;
  // How long a commit behind waits for others to go out with it (one call to the master, one
  // journal sync, for all of them). Cut short by a full batch, and by anyone waiting for the
  // file (another mount's open, fsync, unmount).
  std::chrono::microseconds commit_behind_linger{5000};
  // Creates of regular files in, and removals of names from, directories this client made and
  // holds are answered at once and sent to the master behind, in order and in batches (like a
  // local file system's, they are durable after an fsync of the directory). A create takes its
  // inode number from a range the master reserved to the session. Another session that looks
  // into such a directory waits for them first. Off unless asked for: only the mount does it.
  bool changes_behind = false;
  // How long a change answered here waits for more to go out with it. Cut short by a full
  // batch and by anything that must come after it.
  std::chrono::microseconds changes_behind_linger{5000};
  // Replicas on chunkservers of this machine are read straight from their files
  // (local_replicas.h) when the chunkserver allows it.
  bool local_reads = true;
};

template <class T>
using Task = boost::asio::awaitable<Result<T>>;

class DfsClient {
 public:
  static Result<std::unique_ptr<DfsClient>> connect(ClientOptions options);
  ~DfsClient();
  DfsClient(const DfsClient&) = delete;
  DfsClient& operator=(const DfsClient&) = delete;

  // Runs an operation on the client's thread and waits for it (CLI, tests).
  template <class T>
  T run(boost::asio::awaitable<T> operation) {
    return boost::asio::co_spawn(io_, std::move(operation), boost::asio::use_future).get();
  }
  // Runs an operation on the client's thread and calls done(result) there (FUSE).
  template <class T>
  void spawn(boost::asio::awaitable<Result<T>> operation, std::function<void(Result<T>)> done) {
    boost::asio::co_spawn(io_, std::move(operation),
                          [done = std::move(done)](std::exception_ptr error, Result<T> result) {
                            if (error) {
                              done(makeError(Code::kInternal, "client operation threw"));
                            } else {
                              done(std::move(result));
                            }
                          });
  }

  // ---- namespace
  Task<proto::Attr> lookup(uint64_t parent, std::string name);
  Task<proto::Attr> getAttr(uint64_t ino);
  // Size changes flush buffered writes and zero the cut-off tail of the last chunk first.
  Task<proto::Attr> setAttr(proto::SetAttrRequest request);
  // umask: the creator's, applied unless the directory has a default ACL (whose entries then
  // mask the mode, and which the new inode inherits).
  Task<proto::Attr> mknod(uint64_t parent, std::string name, uint32_t mode, uint64_t rdev,
                          uint32_t uid, uint32_t gid, uint32_t umask = 0);
  // mknod of a regular file and open, in one master call.
  Task<proto::Attr> create(uint64_t parent, std::string name, uint32_t mode, uint32_t uid,
                           uint32_t gid, uint32_t umask = 0);
  Task<proto::Attr> mkdir(uint64_t parent, std::string name, uint32_t mode, uint32_t uid,
                          uint32_t gid, uint32_t umask = 0);
  Task<void> unlink(uint64_t parent, std::string name);
  Task<void> rmdir(uint64_t parent, std::string name);
  Task<void> rename(uint64_t parent, std::string name, uint64_t new_parent, std::string new_name,
                    uint32_t flags);
  Task<proto::Attr> link(uint64_t ino, uint64_t new_parent, std::string new_name);
  Task<proto::Attr> symlink(uint64_t parent, std::string name, std::string target, uint32_t uid,
                            uint32_t gid);
  Task<std::string> readlink(uint64_t ino);
  // fallocate(2): mode 0 or FALLOC_FL_KEEP_SIZE. Succeeds when the cluster has length bytes
  // free; without KEEP_SIZE the file grows to offset + length (the range reads as zeros).
  // Chunks are not reserved ahead: a later write can still meet a full cluster.
  Task<void> allocate(uint64_t ino, int mode, uint64_t offset, uint64_t length);
  // lseek(2) SEEK_DATA (hole false) and SEEK_HOLE: data is every allocated chunk (64 MiB) up to
  // the size, a hole every chunk never allocated. Past the end: kNoSuchOffset (ENXIO).
  Task<uint64_t> seekData(uint64_t ino, uint64_t offset, bool hole);
  // Extended attributes (user., trusted., security., system.posix_acl_*), names and values as
  // bytes. An inode this client lately saw without any is answered "none" here (the kernel
  // asks for security.capability before every cached write).
  Task<std::string> getXattr(uint64_t ino, std::string name);
  Task<std::vector<std::string>> listXattrs(uint64_t ino);
  // flags: proto::XattrFlags.
  Task<void> setXattr(uint64_t ino, std::string name, std::string value, uint32_t flags);
  Task<void> removeXattr(uint64_t ino, std::string name);
  // The whole directory, attributes included.
  Task<std::vector<proto::DirEntry>> readDir(uint64_t ino);
  Task<proto::StatFsReply> statFs();

  // ---- files
  Task<proto::Attr> open(uint64_t ino, int flags);
  // Last step of a close: flushes, then tells the master the file is no longer open here.
  Task<void> release(uint64_t ino);
  // Buffers data (the reply means "accepted"); errors of background writes surface at the next
  // write, flush or fsync of the file.
  Task<size_t> write(uint64_t ino, uint64_t offset, std::string data);
  // Writes at the end of the file as this client knows it (O_APPEND); returns the offset used.
  Task<uint64_t> append(uint64_t ino, std::string data);
  Task<std::string> read(uint64_t ino, uint64_t offset, uint32_t size);
  // What a read fetched: the bytes asked for lie inside [offset, offset + data.size()). data
  // points into bytes, which may be shared with the client's read-ahead: a sequential read is
  // answered from the fetched piece without copying it.
  struct ReadExtent {
    uint64_t offset = 0;
    std::shared_ptr<const std::string> bytes;
    std::string_view data;
  };
  // Like read, but a random read of part of a checksum block returns the whole block (clipped to
  // the file's end): the chunkserver reads and verifies all of it anyway, and the caller may
  // keep the rest for reads nearby.
  Task<ReadExtent> readAround(uint64_t ino, uint64_t offset, uint32_t size);
  Task<void> flush(uint64_t ino);
  // The flush of a close (FUSE): returns once the data is on every replica, or fails. A held
  // small file's commit may land after it returns (ClientOptions::close_behind); a commit that
  // fails is logged, and reported by the next write, flush or fsync if the file is open here.
  Task<void> flushOnClose(uint64_t ino);
  // flush, then every replica of every chunk written since the last fsync syncs to disk.
  Task<void> fsync(uint64_t ino);
  // Returns once every metadata change so far is durable on the master (fsync of a directory).
  Task<void> syncMetadata();

  // ---- locks, enforced by the master across every mount (lib/locks/lock_table.h)
  struct LockSpec {
    uint64_t ino = 0;
    proto::LockKind kind = proto::LOCK_POSIX;
    proto::LockType type = proto::LOCK_EXCLUSIVE;
    uint64_t start = 0;
    uint64_t end = locks::kToEnd;  // inclusive
    uint64_t owner = 0;            // the kernel's lock owner
    uint32_t pid = 0;
  };
  // Takes or drops a lock. Dropping first writes out what was written under it; taking one
  // forgets what this client knew of the file (size, locations), so the holder reads what the
  // previous holder wrote. With wait, blocks until granted, or until cancelLockWait(wait_id):
  // then kCancelled. A conflict without wait: kLocked.
  Task<void> setLock(LockSpec spec, bool wait, uint64_t wait_id);
  // A fresh id for a blocking setLock (any thread).
  uint64_t newWaitId() { return next_wait_id_.fetch_add(1); }
  Task<void> cancelLockWait(uint64_t wait_id);
  // The conflicting lock of another owner, if any (F_GETLK).
  Task<proto::GetLockReply> getLock(LockSpec spec);
  // Drops every lock of owner on the file (close); costs nothing when it holds none.
  Task<void> releaseLocks(uint64_t ino, proto::LockKind kind, uint64_t owner);
  // The last close of an open file (FUSE release): release, then drops the locks of owners on
  // the file, so the next holder finds the file written out and its leases free. A lock call of
  // one of these owners made meanwhile waits until they are dropped: the kernel reuses owner
  // ids (a flock owner is the address of the open file), and a new open locking under the id
  // of one whose release is still writing out must not have its lock dropped by that release.
  Task<void> releaseAndUnlock(uint64_t ino,
                              std::vector<std::pair<proto::LockKind, uint64_t>> owners);
  Task<proto::ListLocksReply> listLocks(uint64_t ino);

  // ---- paths and administration
  // "/a/b" relative to the cluster root.
  Task<proto::Attr> resolve(std::string path);
  Task<proto::GetChunksReply> chunks(uint64_t ino);
  Task<proto::ClusterStatusReply> clusterStatus();
  // Replicas per chunk of a file, or of what a directory holds (recursive) and will hold.
  Task<proto::Attr> setGoal(uint64_t ino, uint32_t goal, bool recursive);
  // Reads from one given replica (fsck --verify); the chunkserver checks the block CRCs.
  Task<std::string> readReplica(const std::string& address, uint64_t chunk_id, uint64_t version,
                                uint64_t offset, uint32_t length);

  uint64_t sessionId() const { return session_id_; }
  const std::string& clusterId() const { return cluster_id_; }
  // Called on the client's thread (it must not block) when another mount's change of a file
  // this client has open was noticed: the kernel's cached pages and size of it are stale.
  void setRemoteChangeHandler(std::function<void(uint64_t ino)> handler) {
    on_remote_change_ = std::move(handler);
  }
  // Bytes of file data read straight from replica files on this machine (local_reads).
  uint64_t bytesReadLocally() const;
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  const ClientOptions& options() const { return options_; }

 private:
  struct FileState;
  struct ReadAheadPiece;
  explicit DfsClient(ClientOptions options);

  template <class Reply>
  Task<Reply> masterCall(proto::Method method, const google::protobuf::Message& request);
  Task<void> openSession();
  boost::asio::awaitable<void> keepAliveLoop();
  // Tells a restarted master which files this client has open.
  boost::asio::awaitable<void> reopenFiles();
  // flush, and give up this client's write leases on a file it keeps open (a lock is dropped:
  // the next holder, on another mount, must be able to write at once).
  Task<void> flushAndYieldLeases(uint64_t ino);
  // Claims the locks this client held from a restarted master.
  boost::asio::awaitable<void> reclaimLocks();
  // A blocking lock call: waits as long as it takes, asking again after a lost connection.
  Task<proto::LockReply> lockCall(const proto::LockRequest& request);

  FileState& file(uint64_t ino);
  void rememberDir(const proto::Attr& dir);
  // Mode, owners and whether they have extended attributes, of inodes as the master (or this
  // client's own change) gave them lately; held directories' come from fresh_dirs_.
  struct KnownPermissions {
    uint32_t mode = 0;
    uint32_t uid = 0;
    uint32_t gid = 0;
    bool has_xattrs = true;
    std::chrono::steady_clock::time_point at;
  };
  // Whether ino was lately (within fresh_attr_ttl, or held) seen without extended attributes:
  // no ACL to inherit, nothing to list.
  bool knownWithoutXattrs(uint64_t ino) const;
  // A create's umask applied to mode here, when dir is known to have no default ACL (then true,
  // and umask is 0); else both are left for the master.
  bool maskHereWithoutDefaultAcl(uint64_t dir, uint32_t* mode, uint32_t* umask) const;
  // What changing ino's extended attributes did to it (mode, ctime, has_xattrs).
  void noteXattrChange(const proto::Attr& attr);
  static constexpr size_t kMaxKnownPermissions = 65536;
  std::unordered_map<uint64_t, KnownPermissions> known_permissions_;
  void notePermissions(const proto::Attr& attr);
  // A name this client is about to add to parent: if it holds parent, lookups of the name must
  // ask the master from now on.
  void noteNewName(uint64_t parent, const std::string& name);
  // A name this client removed from parent (or renamed away).
  void noteGoneName(uint64_t parent, const std::string& name);
  // What a name this client added to parent turned out to be.
  void noteNameIs(uint64_t parent, const std::string& name, const proto::Attr& attr);
  // A create (or mkdir) answered here (options_.changes_behind), or nullopt when it must go to
  // the master.
  std::optional<proto::Attr> createBehind(uint64_t parent, const std::string& name, uint32_t mode,
                                          uint32_t uid, uint32_t gid);
  std::optional<proto::Attr> mkdirBehind(uint64_t parent, const std::string& name, uint32_t mode,
                                         uint32_t uid, uint32_t gid);
  // A new name of the given type in a directory this client holds, answered here: the inode
  // number it gets, or 0 when the change must go to the master.
  uint32_t knownGoal(uint64_t dir) const;
  // What a new inode in dir takes from it (a setgid directory's group and, for a directory, its
  // setgid bit) into *mode and *gid; false when dir's attributes are not known here.
  bool inheritFromDir(uint64_t dir, uint32_t* mode, uint32_t* gid) const;
  uint64_t claimNameBehind(uint64_t parent, const std::string& name, uint32_t type);
  // An rmdir answered here; false when it must go to the master.
  bool rmdirBehind(uint64_t parent, const std::string& name);
  // setAttr but for what permission checks know.
  Task<proto::Attr> changeAttr(proto::SetAttrRequest request);
  // A setattr of a directory this client holds, answered here (tar sets each directory's times,
  // owner and mode); nullopt when it must go to the master.
  std::optional<proto::Attr> setAttrBehind(proto::SetAttrRequest request);
  // A number from the inodes reserved to this session, 0 when none is left; asks for more
  // before they run out.
  uint64_t takeReservedIno();
  boost::asio::awaitable<void> reserveInodes();
  // The directory this client just changed (links: subdirectories added or removed), as the
  // master will have it.
  // A change made at time_ns (stampFor) in a directory this client answers for.
  void touchFreshDir(uint64_t dir, int64_t time_ns, int links = 0);
  // The time of a change this client answers itself, of ino (a held directory) or in it: now,
  // but never before a time ino already has, nor before the last one chosen. The master keeps
  // it (ChangeBehind.time_ns), so both answer the same times.
  int64_t stampFor(uint64_t ino);
  int64_t last_stamp_ns_ = 0;
  // touched: the inodes the change touches besides its directory (0: one this client does not
  // know).
  void queueChangeBehind(proto::ChangeBehind change, uint64_t parent, uint64_t touched);
  // Sends the changes answered here (changes_behind_) to the master, a batch at a time.
  boost::asio::awaitable<void> sendChangesBehind();
  // Until every change answered here so far (or up to the change numbered until) has reached
  // the master: whatever else asks the master about the namespace or a file comes after them
  // (masterCall; listings wait only for the changes that touch what they list).
  boost::asio::awaitable<void> settleChangesBehind();
  boost::asio::awaitable<void> settleChangesBehind(uint64_t until);
  static bool followsChangesBehind(proto::Method method);
  // The master's listing of a directory, every page of it.
  Task<std::vector<proto::DirEntry>> listDir(uint64_t ino);
  // Calls to the master that may change what a listing shows (all but changesNothingListed).
  uint64_t master_changes_ = 0;
  static bool changesNothingListed(proto::Method method);
  // Listings of held directories. No other session changes a held directory's names, nor the
  // attributes of what is in it (it would have to look into the directory first, which recalls
  // it), so a listing stays true until this client changes the directory or an inode listed in
  // it (a change behind) or calls the master for any change at all. An entry with other links
  // may be reached by another path: such a listing is kept for fresh_attr_ttl only.
  // When a held directory is listed, its held subdirectories are listed ahead (rm -rf and find
  // list one after the other, and each listing at the master is a round trip they wait for).
  struct HeldListing {
    uint64_t master_changes = 0;  // master_changes_ when it was asked for
    std::chrono::steady_clock::time_point at;
    bool shared_inodes = false;
    // As the master sent them, but those this client removed since, which are marked with
    // inode 0 (removed of them).
    std::vector<proto::DirEntry> entries;
    size_t removed = 0;
  };
  // The kept listing of dir, if it is still true.
  const HeldListing* validHeldListing(uint64_t dir);
  std::optional<std::vector<proto::DirEntry>> heldListing(uint64_t dir);
  // What the kept listing of dir says name is, if it is still true and has name.
  std::optional<proto::Attr> heldListingEntry(uint64_t dir, const std::string& name);
  // Keeps a listing of dir asked for when master_changes_ was master_changes, if nothing this
  // client changed since may be missing from it.
  void keepHeldListing(uint64_t dir, uint64_t master_changes,
                       const std::vector<proto::DirEntry>& entries);
  void dropHeldListing(uint64_t dir);
  // A change of ino: the listings of ino and of the directory listing ino are no longer true.
  void dropListingsTouching(uint64_t ino);
  // A name this client removed from dir: gone from dir's kept listing (and dir's own entry in
  // its parent's listing changed: see knowsHeldDirAttr).
  void unlistName(uint64_t dir, const std::string& name);
  // A held directory's attributes are the ones this client keeps (fresh_dirs_), also in the
  // listing of its parent.
  bool knowsHeldDirAttr(uint64_t dir) const;
  void overlayHeldDir(proto::Attr* attr) const;
  void listHeldSubdirsAhead(const std::vector<proto::DirEntry>& entries);
  boost::asio::awaitable<void> listAhead();
  void overlayLocalState(proto::Attr* attr);
  Task<proto::ChunkLocation> writeLocation(FileState& file, uint64_t chunk_index);
  // writeLocation started ahead of need, when a write first touches a chunk.
  boost::asio::awaitable<void> locateAhead(std::shared_ptr<FileState> file, uint64_t chunk_index);
  Task<proto::ChunkLocation> readLocation(FileState& file, uint64_t chunk_index, bool refresh);
  Task<void> writePiece(std::shared_ptr<FileState> file, uint64_t offset, std::string data);
  // One write of a piece to every replica of its chunk: through a chain, or side by side when
  // it is small. Errors name the replica that failed (Status::origin).
  // The piece's bytes are shared by every send and kept for a retry, never copied.
  Task<void> writeReplicas(const proto::ChunkLocation& location, proto::WriteChunkRequest request,
                           rpc::SharedPayload data);
  Task<void> writeReplica(const std::string& address, proto::WriteChunkRequest request,
                          rpc::SharedPayload data);
  Task<void> writeNamedReplica(std::string address, proto::WriteChunkRequest request,
                               rpc::SharedPayload data);
  boost::asio::awaitable<void> writerLoop(std::shared_ptr<FileState> file);
  // Moves the buffer into the write queue and waits until the queue is written.
  Task<void> drain(FileState& file);
  // Commits length and mtime; with release_leases the master also ends this client's write
  // leases on the file.
  // With release, the master also ends one open of the file (a close-behind's release).
  Task<void> commit(FileState& file, bool release_leases = false, bool release = false);
  static proto::CommitWriteRequest commitRequest(const FileState& file, bool release_leases,
                                                 bool release);
  // What a commit that saw changes (FileState::changes) answered.
  // reserved_chunk: the reserved chunk the commit named (FileState::reserved_chunk), or 0.
  void committed(FileState& file, const proto::AttrReply& reply, uint64_t changes,
                 uint64_t reserved_chunk = 0);
  // A close's data goes to its replicas before the close returns (storeForClose); its commit
  // goes behind, batched with other files' (commitBehindLoop). A small new file's data goes to
  // a chunk the master reserved and placed ahead (RESERVE_CHUNKS): the close makes no master
  // call, and the commit names the chunk.
  Task<void> storeForClose(std::shared_ptr<FileState> file);
  bool mayStoreInReservedChunk(const FileState& file) const;
  // False when a replica failed: the data is back in the file's buffer.
  boost::asio::awaitable<bool> storeInReservedChunk(FileState& file, proto::ChunkLocation chunk);
  // Inode numbers, then chunks, reserved at the session's start.
  boost::asio::awaitable<void> reserveAhead();
  std::optional<proto::ChunkLocation> takeReservedChunk();
  boost::asio::awaitable<void> reserveChunks();
  boost::asio::awaitable<void> commitBehindLoop();
  boost::asio::awaitable<void> commitTogether(std::vector<std::shared_ptr<FileState>> batch);
  // The commit of a close that has returned, the usual way (written again since).
  boost::asio::awaitable<void> finishCloseBehind(std::shared_ptr<FileState> file);
  // A write failed: what it carried is dropped, with the size it would have given the file.
  void forgetUnstoredWrites(FileState& state);
  // The end of a close-behind: logs a failure, which the next write, flush or fsync reports.
  void landCloseBehind(const std::shared_ptr<FileState>& file, Result<void> landed);
  // Whether an open for these flags tells the master this client may close the file behind
  // (server/master/closes_behind.h); starts watching for recalls on the first such open.
  bool mayCloseBehind(int flags);
  // Answers the master's recalls of files this client holds back: each once its closes so far
  // have landed.
  boost::asio::awaitable<void> watchRecallsLoop();
  boost::asio::awaitable<void> answerRecall(uint64_t ino, uint64_t number);
  // A master that says a different instance restarted: registers open files and locks again.
  boost::asio::awaitable<void> noticeMasterInstance(uint64_t instance);
  // Until this file's closes-behind have landed: what a flush or fsync commits comes after them.
  // With hurry, a commit waiting for more files goes at once.
  boost::asio::awaitable<void> awaitClosesBehind(FileState& file, bool hurry = true);
  // Until every close-behind of this client has landed (unmount).
  boost::asio::awaitable<void> awaitAllClosesBehind();
  // Applies request locally if it may travel with the file's next commit (deferred_attrs.h).
  std::optional<proto::Attr> holdForCommit(const proto::SetAttrRequest& request);
  // What the master says of a file this client tracks attributes of.
  // Attributes of ino from the master, asked for when local_changes_ was epoch. For a file this
  // client tracks and changes nothing of (since epoch either), another mount's change (its
  // size or mtime moved) is adopted: the size, and no cached data or hole locations past the
  // lower of the old and new end; the mount is told (setRemoteChangeHandler).
  // epoch: the file's local_epoch (by_file), or local_changes_, when the call was made.
  void refreshFileAttr(const proto::Attr& attr, uint64_t epoch, bool by_file);
  // A change of the file's size or data by this client (write, commit, truncate, open).
  void noteLocalChange(FileState& state);
  uint64_t epochOf(uint64_t ino) const;
  // Makes the next getAttr of every open file ask the master (after a change to links).
  void forgetFreshFileAttrs();
  Task<void> truncateTail(FileState& file, uint64_t size);
  Task<std::string> readChunkPiece(FileState& file, uint64_t chunk_index, uint64_t offset,
                                   uint32_t length);
  // The piece from a replica on this machine, read directly (local_replicas.h); an error when
  // no replica is usable that way or the read failed (the caller then reads over TCP).
  Task<std::string> readLocalReplica(const proto::ChunkLocation& location, uint64_t offset,
                                     uint32_t length);
  // Asks the chunkserver at address whether it offers its replicas to this machine, and
  // connects to it if so.
  boost::asio::awaitable<void> probeLocalReads(std::string address);
  // Reads ahead of a sequential reader; nullopt when the reader is not sequential.
  boost::asio::awaitable<std::optional<Result<ReadExtent>>> readSequential(
      std::shared_ptr<FileState> file, uint64_t offset, uint64_t end);
  boost::asio::awaitable<void> fetchReadAhead(std::shared_ptr<FileState> file,
                                              std::shared_ptr<ReadAheadPiece> piece,
                                              uint64_t offset, uint32_t length);
  // Drops what this client cached of a file's data and locations (another client may have
  // changed it).
  static void forgetCachedData(FileState& file);

  ClientOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::future<void> stopped_;  // ready when the client's thread has left io_.run()
  std::shared_ptr<rpc::Client> master_;
  uint64_t session_id_ = 0;
  uint64_t master_instance_ = 0;
  std::string cluster_id_;  // the first session's; a master of another cluster is refused
  bool wrong_cluster_ = false;  // the master at the address serves another cluster now
  // Counts this client's changes of file sizes and data (writes, commits, truncates): a master
  // answer asked for before one of them must not undo it (refreshFileAttr).
  uint64_t local_changes_ = 0;
  std::function<void(uint64_t)> on_remote_change_;
  std::chrono::milliseconds keep_alive_interval_{5000};  // a third of the session lease
  uint64_t next_request_id_ = 1;
  bool stopping_ = false;
  boost::asio::steady_timer keep_alive_timer_;
  rpc::ClientPool chunkservers_;
  std::unique_ptr<LocalReplicas> local_replicas_;  // null without options_.local_reads
  std::unordered_map<uint64_t, std::shared_ptr<FileState>> files_;
  // Directories as the master returned them after this client's own change in them, and when.
  static constexpr size_t kMaxFreshDirs = 4096;  // besides the held ones
  std::unordered_map<uint64_t, std::pair<proto::Attr, std::chrono::steady_clock::time_point>>
      fresh_dirs_;
  // Directories this client made and holds (MKDIR with hold; server/master/closes_behind.h),
  // each with every name in it. Until the master recalls one, no other session has changed its
  // names, so a lookup of any other name is answered here (no such name), and so is the
  // removal of an empty directory in it.
  static constexpr size_t kMaxHeldDirs = 65536;
  static constexpr size_t kMaxHeldName = 255;  // longer names are the master's to refuse
  struct HeldName {
    uint64_t ino = 0;   // 0: not known (a change whose answer has not come, or failed)
    uint32_t type = 0;  // S_IFMT bits
  };
  using HeldNames = std::unordered_map<std::string, HeldName>;
  std::unordered_map<uint64_t, HeldNames> held_dirs_;
  locks::LockTable held_locks_;  // what this client holds (session 0), to claim after a restart
  std::atomic<uint64_t> next_wait_id_{1};
  size_t closes_behind_ = 0;  // under way, over all files
  bool watching_recalls_ = false;
  static constexpr size_t kMaxCommitBatch = 64;
  std::deque<std::shared_ptr<FileState>> commits_behind_;  // waiting to go out together
  bool committing_behind_ = false;
  bool hurry_commits_ = false;  // someone waits for a close-behind: no lingering now
  // Ends the commits' linger (someone waits for a close-behind to land).
  void hurryCommits();
  rpc::AsyncEvent close_landed_;
  boost::asio::steady_timer commit_linger_;
  // Chunks the master placed ahead for this session (RESERVE_CHUNKS), in the order it reserved
  // them (the order they are used in), each for reserved_chunks_goal_ replicas.
  static constexpr uint32_t kReservedChunks = 256;  // asked for at a time
  std::deque<proto::ChunkLocation> reserved_chunks_;
  uint32_t reserved_chunks_goal_ = 0;
  bool reserving_chunks_ = false;
  std::chrono::steady_clock::time_point reserve_chunks_again_at_;  // after a refused reservation
  // Creates and removals in held directories answered here and not yet sent, in order.
  static constexpr size_t kMaxChangesBatch = 256;  // the master's limit
  std::deque<proto::ChangeBehind> changes_behind_;
  bool sending_changes_ = false;  // changes_behind_ is not empty, or a batch is on its way
  uint64_t changes_queued_ = 0;   // counts changes answered here
  uint64_t changes_landed_ = 0;   // ... and those the master has answered
  rpc::AsyncEvent changes_landed_event_;
  // The last queued change that touches an inode (the directory it changes, the inode it makes
  // or removes), while it may not have landed; a removal of a name whose inode this client does
  // not know touches any inode (changes_touching_any_).
  std::unordered_map<uint64_t, uint64_t> change_touching_;
  uint64_t changes_touching_any_ = 0;
  uint64_t lastChangeTouching(uint64_t ino) const;
  boost::asio::steady_timer changes_linger_;
  bool hurry_changes_ = false;  // someone waits for them: no lingering now
  // Inode numbers [next, end) the master reserved to this session, oldest first.
  struct InodeRange {
    uint64_t next = 0;
    uint64_t end = 0;
  };
  static constexpr uint32_t kReservedInodes = 1024;  // asked for at a time
  std::deque<InodeRange> reserved_inodes_;
  bool reserving_inodes_ = false;
  std::unordered_multiset<uint64_t> owners_unlocking_;  // releaseAndUnlock under way
  rpc::AsyncEvent owners_unlocked_;
  // Listings of held directories (HeldListing).
  static constexpr size_t kMaxListedEntries = 1 << 18;
  static constexpr size_t kListingsAhead = 4;  // under way at a time
  std::unordered_map<uint64_t, HeldListing> held_listings_;
  std::unordered_map<uint64_t, uint64_t> listed_in_;  // inode -> the held listing that has it
  size_t listed_entries_ = 0;
  std::unordered_set<uint64_t> listing_ahead_;  // asked for, not yet answered
  static constexpr size_t kMaxToListAhead = 4096;
  std::deque<uint64_t> to_list_ahead_;
  std::unordered_set<uint64_t> queued_ahead_;  // in to_list_ahead_
  size_t listers_ahead_ = 0;
  rpc::AsyncEvent listed_ahead_;
};

}  // namespace dfs::client
