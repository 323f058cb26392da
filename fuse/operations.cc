#include "fuse/operations.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "fuse/errno_map.h"

namespace dfs::fuse {
namespace {

using client::DfsClient;

MountContext& context(fuse_req_t req) { return mountContext(req); }
DfsClient& dfsClient(fuse_req_t req) { return *context(req).client; }

struct timespec toTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}
int64_t toNs(const struct timespec& ts) { return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec; }

struct stat toStat(const proto::Attr& attr) {
  struct stat st {};
  st.st_ino = attr.ino();
  st.st_mode = attr.mode();
  st.st_nlink = attr.nlink();
  st.st_uid = attr.uid();
  st.st_gid = attr.gid();
  st.st_size = static_cast<off_t>(attr.size());
  st.st_blocks = static_cast<blkcnt_t>(attr.blocks());
  st.st_blksize = 1 << 20;
  st.st_rdev = attr.rdev();
  st.st_atim = toTimespec(attr.atime_ns());
  st.st_mtim = toTimespec(attr.mtime_ns());
  st.st_ctim = toTimespec(attr.ctime_ns());
  return st;
}

// The kernel may keep the name and attributes for their timeouts: it checks permissions itself
// (default_permissions, with POSIX ACLs), at every walk through kept names too.
fuse_entry_param toEntry(fuse_req_t req, const proto::Attr& attr) {
  fuse_entry_param entry{};
  entry.ino = attr.ino();
  entry.generation = 1;
  entry.attr = toStat(attr);
  entry.attr_timeout = context(req).attr_timeout;
  entry.entry_timeout = context(req).entry_timeout;
  return entry;
}

void replyError(fuse_req_t req, const Status& status) {
  if (status.code() != Code::kNotFound && status.code() != Code::kExists) {
    spdlog::debug("request failed: {}", status.toString());
  }
  fuse_reply_err(req, toErrno(status));
}

// Replies with an entry for operations that produce an inode.
std::function<void(Result<proto::Attr>)> entryReply(fuse_req_t req, fuse_ino_t parent) {
  return [req, parent](Result<proto::Attr> attr) {
    if (!attr) return replyError(req, attr.error());
    fuse_entry_param entry = toEntry(req, *attr);
    fuse_reply_entry(req, &entry);
  };
}

// For operations on an inode the kernel already knows: if it is gone, the kernel's cached name
// is stale (another mount removed the file). ESTALE makes the kernel look the name up again and
// retry (open, stat), instead of failing with ENOENT while the name may exist anew.
void replyInodeError(fuse_req_t req, const Status& status) {
  if (status.code() == Code::kNotFound) {
    fuse_reply_err(req, ESTALE);
    return;
  }
  replyError(req, status);
}

std::function<void(Result<void>)> emptyReply(fuse_req_t req) {
  return [req](Result<void> done) {
    if (!done) return replyError(req, done.error());
    fuse_reply_err(req, 0);
  };
}

bool writable(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

struct DirHandle {
  std::vector<proto::DirEntry> entries;
};

void onInit(void* userdata, fuse_conn_info* conn) {
  conn->max_write = 1 << 20;
  conn->max_readahead = kMaxReadahead;
  // Releases are background requests, and the kernel holds back those past max_background (12
  // by default) until earlier ones are answered. A release answered only once its file's
  // close-behind lands (it rides with the commit) would keep later ones back for milliseconds,
  // long enough for their own commits to leave without them: 11k releases of an untar of 24k
  // files then cost a call to the master each.
  conn->max_background = 256;
  conn->congestion_threshold = 192;
  conn->want |= conn->capable & (FUSE_CAP_READDIRPLUS | FUSE_CAP_AUTO_INVAL_DATA |
                                 FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_READ);
  // Requests are read with plain reads on the client's thread (fuse/session_loop).
  conn->want &= ~FUSE_CAP_SPLICE_READ;
  // The kernel checks permissions, with POSIX ACLs (kept as the system.posix_acl_* attributes;
  // the master keeps mode and ACL one value and makes new inodes inherit default ACLs), and
  // leaves the umask to the mount (it does not apply where a default ACL is inherited).
  conn->want |= conn->capable & (FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK);
  conn->want &= ~(FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC);
}

void onLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  DfsClient& client = dfsClient(req);
  client.spawn(client.lookup(parent, name),
               entryReply(req, parent));
}

void onForget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
void onForgetMulti(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

void onGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  dfsClient(req).spawn<proto::Attr>(dfsClient(req).getAttr(ino), [req](Result<proto::Attr> attr) {
    if (!attr) return replyInodeError(req, attr.error());
    struct stat st = toStat(*attr);
    fuse_reply_attr(req, &st, context(req).attr_timeout);
  });
}

void onSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  proto::SetAttrRequest request;
  request.set_ino(ino);
  uint32_t valid = 0;
  if (to_set & FUSE_SET_ATTR_MODE) valid |= proto::SET_MODE, request.set_mode(attr->st_mode);
  if (to_set & FUSE_SET_ATTR_UID) valid |= proto::SET_UID, request.set_uid(attr->st_uid);
  if (to_set & FUSE_SET_ATTR_GID) valid |= proto::SET_GID, request.set_gid(attr->st_gid);
  if (to_set & FUSE_SET_ATTR_SIZE) valid |= proto::SET_SIZE, request.set_size(attr->st_size);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    valid |= proto::SET_ATIME_NOW;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    valid |= proto::SET_ATIME, request.set_atime_ns(toNs(attr->st_atim));
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    valid |= proto::SET_MTIME_NOW;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    valid |= proto::SET_MTIME, request.set_mtime_ns(toNs(attr->st_mtim));
  }
  request.set_valid(valid);
  context(req).filler->changed(ino);
  dfsClient(req).spawn<proto::Attr>(
      dfsClient(req).setAttr(std::move(request)),
      [req](Result<proto::Attr> attr) {
        if (!attr) return replyError(req, attr.error());
        struct stat st = toStat(*attr);
        fuse_reply_attr(req, &st, context(req).attr_timeout);
      });
}

void onReadlink(fuse_req_t req, fuse_ino_t ino) {
  dfsClient(req).spawn<std::string>(dfsClient(req).readlink(ino), [req](Result<std::string> target) {
    if (!target) return replyError(req, target.error());
    fuse_reply_readlink(req, target->c_str());
  });
}

void onMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  const fuse_ctx* caller = fuse_req_ctx(req);
  DfsClient& client = dfsClient(req);
  client.spawn(client.mknod(parent, name, mode, rdev, caller->uid, caller->gid, caller->umask),
               entryReply(req, parent));
}

void onMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  const fuse_ctx* caller = fuse_req_ctx(req);
  DfsClient& client = dfsClient(req);
  client.spawn(client.mkdir(parent, name, mode, caller->uid, caller->gid, caller->umask),
               entryReply(req, parent));
}

void onUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  DfsClient& client = dfsClient(req);
  client.spawn(
      client.unlink(parent, name),
      emptyReply(req));
}

void onRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  DfsClient& client = dfsClient(req);
  client.spawn(
      client.rmdir(parent, name),
      emptyReply(req));
}

void onSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  const fuse_ctx* caller = fuse_req_ctx(req);
  DfsClient& client = dfsClient(req);
  client.spawn(client.symlink(parent, name, target, caller->uid, caller->gid),
               entryReply(req, parent));
}

void onRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned int flags) {
  DfsClient& client = dfsClient(req);
  client.spawn(client.rename(parent, name, new_parent, new_name, flags),
               emptyReply(req));
}

void onLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  DfsClient& client = dfsClient(req);
  client.spawn(client.link(ino, new_parent, new_name),
               entryReply(req, new_parent));
}

// (The kernel invalidates the pages a direct write covers, so readers through other descriptors
// of this mount never keep the bytes it replaced.) Not for a set-user-ID or set-group-ID file:
// the kernel drops those bits before a cached write by asking the mount to, but of a direct
// write it only tells the mount in a write flag libfuse does not pass on.
bool bypassesPageCache(fuse_req_t req, int flags, uint32_t mode) {
  return mountContext(req).direct_writes && (flags & O_ACCMODE) == O_WRONLY &&
         (mode & (S_ISUID | S_ISGID)) == 0;
}

void onOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  fuse_file_info info = *fi;
  context(req).filler->opened(ino, writable(fi->flags));
  DfsClient& client = dfsClient(req);
  client.spawn<proto::Attr>(
      client.open(ino, fi->flags),
      [req, ino, info](Result<proto::Attr> attr) mutable {
        if (!attr) {
          context(req).filler->released(ino, writable(info.flags));
          return replyInodeError(req, attr.error());
        }
        // Close-to-open: attributes and pages the kernel cached before this
        // open may be stale. (A negative offset invalidates attributes only,
        // which takes no page locks.)
        fuse_lowlevel_notify_inval_inode(context(req).session, attr->ino(), -1, 0);
        auto* open_file = new OpenFile;
        open_file->flags = info.flags;
        info.fh = reinterpret_cast<uint64_t>(open_file);
        info.keep_cache = 0;
        info.direct_io = bypassesPageCache(req, info.flags, attr->mode()) ? 1 : 0;
        open_file->direct = info.direct_io;
        fuse_reply_open(req, &info);
      });
}

void onCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  const fuse_ctx* caller = fuse_req_ctx(req);
  fuse_file_info info = *fi;
  DfsClient& client = dfsClient(req);
  client.spawn<proto::Attr>(client.create(parent, name, mode, caller->uid, caller->gid, caller->umask),
                            [req, info, parent](Result<proto::Attr> attr) mutable {
                              if (!attr) return replyError(req, attr.error());
                              // Nothing was read from the new inode yet: no read's store can be
                              // older than this.
                              context(req).filler->opened(attr->ino(), writable(info.flags));
                              auto* open_file = new OpenFile;
                              open_file->flags = info.flags;
                              info.fh = reinterpret_cast<uint64_t>(open_file);
                              info.direct_io =
                                  bypassesPageCache(req, info.flags, attr->mode()) ? 1 : 0;
                              open_file->direct = info.direct_io;
                              fuse_entry_param entry =
                                  toEntry(req, *attr);
                              fuse_reply_create(req, &entry, &info);
                            });
}

void onRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  PageCacheFiller* filler = context(req).filler;
  uint64_t ticket = filler->ticket();
  uint64_t from = static_cast<uint64_t>(offset);
  dfsClient(req).spawn<DfsClient::ReadExtent>(
      dfsClient(req).readAround(ino, from, static_cast<uint32_t>(size)),
      [req, ino, filler, ticket, from, size](Result<DfsClient::ReadExtent> got) {
        if (!got) return replyError(req, got.error());
        uint64_t skip = from - got->offset;
        size_t length = skip < got->data.size() ? std::min(size, got->data.size() - skip) : 0;
        fuse_reply_buf(req, got->data.data() + std::min<uint64_t>(skip, got->data.size()), length);
        if (got->data.size() > length) {
          filler->store(ino, ticket, got->offset, std::string(got->data), from, from + size);
        }
      });
}

// A write on an O_SYNC or O_DSYNC descriptor, or with RWF_SYNC or RWF_DSYNC (the kernel adds
// O_DSYNC, and O_SYNC, to the write's flags for those), returns once its data is on every
// replica's disk and the file's size and times are in the master's synced journal. Through the
// page cache the kernel asks for that itself (an fsync after the write); around it, it does not.
client::Task<uint64_t> syncedWrite(DfsClient& client, uint64_t ino, bool append, uint64_t offset,
                                   std::string data, bool sync) {
  uint64_t written = data.size();
  if (append) {
    DFS_CO_RETURN_IF_ERROR(co_await client.append(ino, std::move(data)));
  } else {
    DFS_CO_TRY(written, co_await client.write(ino, offset, std::move(data)));
  }
  if (sync) DFS_CO_RETURN_IF_ERROR(co_await client.fsync(ino));
  co_return written;
}

void onWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t offset,
             fuse_file_info* fi) {
  const OpenFile& open_file = openFile(fi);
  bool sync = open_file.direct && (fi->flags & O_DSYNC) != 0;
  bool append = (open_file.flags & O_APPEND) != 0;
  // The buffer belongs to this FUSE thread and is reused once we return: copy it.
  dfsClient(req).spawn<uint64_t>(
      syncedWrite(dfsClient(req), ino, append, static_cast<uint64_t>(offset),
                  std::string(buf, size), sync),
      [req](Result<uint64_t> written) {
        if (!written) return replyError(req, written.error());
        fuse_reply_write(req, *written);
      });
}

boost::asio::awaitable<Result<void>> flushAndUnlock(DfsClient& client, uint64_t ino,
                                                    uint64_t lock_owner, bool could_write) {
  // Only a descriptor that could write has something to write out: the close of a read-only
  // one (a reader, a forked child's inherited copy) never waits for writes made through others.
  Result<void> flushed;
  if (could_write) flushed = co_await client.flushOnClose(ino);
  // A close by a process drops its POSIX locks on the file, whichever descriptor it closed.
  auto unlocked = co_await client.releaseLocks(ino, proto::LOCK_POSIX, lock_owner);
  if (!flushed) co_return flushed;
  co_return unlocked;
}

void onFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  bool could_write = writable(openFile(fi).flags);
  dfsClient(req).spawn(flushAndUnlock(dfsClient(req), ino, fi->lock_owner, could_write),
                       emptyReply(req));
}

void onRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto* open_file = &openFile(fi);
  std::set<std::pair<proto::LockKind, uint64_t>> owners;
  {
    std::lock_guard lock(open_file->mutex);
    owners = open_file->lock_owners;
  }
  if (fi->flock_release) owners.emplace(proto::LOCK_FLOCK, fi->lock_owner);
  context(req).filler->released(ino, writable(open_file->flags));
  delete open_file;
  // The last close of an open file drops its flock and OFD locks.
  dfsClient(req).spawn(
      dfsClient(req).releaseAndUnlock(
          ino, std::vector<std::pair<proto::LockKind, uint64_t>>(owners.begin(), owners.end())),
      emptyReply(req));
}

void onFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  dfsClient(req).spawn(dfsClient(req).fsync(ino), emptyReply(req));
}

void onOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  fuse_file_info info = *fi;
  DfsClient& client = dfsClient(req);
  client.spawn<std::vector<proto::DirEntry>>(
      client.readDir(ino),
      [req, info, ino](Result<std::vector<proto::DirEntry>> entries) mutable {
        if (!entries) return replyError(req, entries.error());
        // One listing per opendir: offsets stay stable however the directory changes meanwhile.
        auto* handle = new DirHandle{std::move(*entries)};
        info.fh = reinterpret_cast<uint64_t>(handle);
        if (fuse_reply_open(req, &info) != 0) delete handle;
      });
}

void readDirectory(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi,
                   bool plus) {
  auto* handle = reinterpret_cast<DirHandle*>(fi->fh);
  // Not zeroed: only what is filled is sent.
  std::unique_ptr<char[]> buffer(new char[size]);
  size_t used = 0;
  // Offsets: 1 is ".", 2 is "..", 3 + i is entries[i].
  for (off_t next = offset; ; ++next) {
    std::string name;
    struct stat st {};
    fuse_entry_param entry{};
    if (next == 0 || next == 1) {
      name = next == 0 ? "." : "..";
      st.st_ino = next == 0 ? ino : client::kRootIno;  // 0 would hide the entry
      st.st_mode = S_IFDIR;
      entry.attr = st;
    } else if (static_cast<size_t>(next - 2) < handle->entries.size()) {
      const auto& dir_entry = handle->entries[next - 2];
      name = dir_entry.name();
      entry = toEntry(req, dir_entry.attr());
      st = entry.attr;
    } else {
      break;
    }
    size_t room = size - used;
    size_t needed;
    if (plus && next >= 2) {
      needed =
          fuse_add_direntry_plus(req, buffer.get() + used, room, name.c_str(), &entry, next + 1);
    } else if (plus) {
      // "." and "..": no entry (and no lookup count) for the kernel to keep.
      fuse_entry_param none{};
      none.attr = st;
      needed =
          fuse_add_direntry_plus(req, buffer.get() + used, room, name.c_str(), &none, next + 1);
    } else {
      needed = fuse_add_direntry(req, buffer.get() + used, room, name.c_str(), &st, next + 1);
    }
    if (needed > room) break;
    used += needed;
  }
  fuse_reply_buf(req, buffer.get(), used);
}

void onReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  readDirectory(req, ino, size, offset, fi, false);
}

void onReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  readDirectory(req, ino, size, offset, fi, true);
}

void onReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void onFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  dfsClient(req).spawn(dfsClient(req).syncMetadata(), emptyReply(req));
}

void onStatfs(fuse_req_t req, fuse_ino_t) {
  dfsClient(req).spawn<proto::StatFsReply>(dfsClient(req).statFs(),
                                           [req](Result<proto::StatFsReply> stats) {
    if (!stats) return replyError(req, stats.error());
    struct statvfs st {};
    st.f_bsize = st.f_frsize = 65536;
    st.f_blocks = stats->total_bytes() / st.f_frsize;
    st.f_bfree = st.f_bavail = stats->free_bytes() / st.f_frsize;
    st.f_files = stats->files() + (1ull << 32);
    st.f_ffree = st.f_favail = 1ull << 32;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  });
}

void onFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info*) {
  context(req).filler->changed(ino);
  dfsClient(req).spawn(dfsClient(req).allocate(ino, mode, static_cast<uint64_t>(offset),
                                               static_cast<uint64_t>(length)),
                       emptyReply(req));
}

// Only SEEK_DATA and SEEK_HOLE come here; the kernel answers the others.
void onLseek(fuse_req_t req, fuse_ino_t ino, off_t offset, int whence, fuse_file_info*) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  dfsClient(req).spawn<uint64_t>(
      dfsClient(req).seekData(ino, static_cast<uint64_t>(offset), whence == SEEK_HOLE),
      [req](Result<uint64_t> at) {
        if (!at) return replyError(req, at.error());
        fuse_reply_lseek(req, static_cast<off_t>(*at));
      });
}

// Names and values are bytes. A size of 0 asks only how large the answer is; a buffer too small
// for it is ERANGE.
void replyXattrBytes(fuse_req_t req, size_t size, const std::string& bytes) {
  if (size == 0) {
    fuse_reply_xattr(req, bytes.size());
  } else if (bytes.size() > size) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, bytes.data(), bytes.size());
  }
}

void onGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  dfsClient(req).spawn<std::string>(dfsClient(req).getXattr(ino, name),
                                    [req, size](Result<std::string> value) {
                                      if (!value) return replyError(req, value.error());
                                      replyXattrBytes(req, size, *value);
                                    });
}

void onListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  dfsClient(req).spawn<std::vector<std::string>>(
      dfsClient(req).listXattrs(ino), [req, size](Result<std::vector<std::string>> names) {
        if (!names) return replyError(req, names.error());
        // As ext4: trusted attributes are listed only to root (CAP_SYS_ADMIN, which the
        // kernel checks when one is read or written).
        bool root = fuse_req_ctx(req)->uid == 0;
        std::string list;
        for (const auto& name : *names) {
          if (!root && name.starts_with("trusted.")) continue;
          list.append(name).push_back('\0');
        }
        replyXattrBytes(req, size, list);
      });
}

void onSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) {
  uint32_t wire_flags = 0;
  if (flags & XATTR_CREATE) wire_flags |= proto::XATTR_CREATE_ONLY;
  if (flags & XATTR_REPLACE) wire_flags |= proto::XATTR_REPLACE_ONLY;
  context(req).filler->changed(ino);  // an ACL may change the mode
  dfsClient(req).spawn(
      dfsClient(req).setXattr(ino, name, std::string(value, size), wire_flags), emptyReply(req));
}

void onRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  dfsClient(req).spawn(dfsClient(req).removeXattr(ino, name), emptyReply(req));
}

fuse_lowlevel_ops makeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = onInit;
  ops.lookup = onLookup;
  ops.forget = onForget;
  ops.forget_multi = onForgetMulti;
  ops.getattr = onGetattr;
  ops.setattr = onSetattr;
  ops.readlink = onReadlink;
  ops.mknod = onMknod;
  ops.mkdir = onMkdir;
  ops.unlink = onUnlink;
  ops.rmdir = onRmdir;
  ops.symlink = onSymlink;
  ops.rename = onRename;
  ops.link = onLink;
  ops.open = onOpen;
  ops.create = onCreate;
  ops.read = onRead;
  ops.write = onWrite;
  ops.flush = onFlush;
  ops.release = onRelease;
  ops.fsync = onFsync;
  ops.opendir = onOpendir;
  ops.readdir = onReaddir;
  ops.readdirplus = onReaddirplus;
  ops.releasedir = onReleasedir;
  ops.fsyncdir = onFsyncdir;
  ops.statfs = onStatfs;
  ops.fallocate = onFallocate;
  ops.lseek = onLseek;
  ops.getxattr = onGetxattr;
  ops.listxattr = onListxattr;
  ops.setxattr = onSetxattr;
  ops.removexattr = onRemovexattr;
  addLockOperations(ops);
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& operations() {
  static const fuse_lowlevel_ops ops = makeOperations();
  return ops;
}

}  // namespace dfs::fuse
