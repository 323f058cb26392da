// flock, fcntl (POSIX and OFD) locks of mount.dfs: translated to the client's lock calls, which
// the master enforces across every mount. A blocking request holds no FUSE thread; an
// interrupted one is withdrawn and answered EINTR.
#include <fcntl.h>
#include <sys/file.h>

#include <spdlog/spdlog.h>

#include "fuse/errno_map.h"
#include "fuse/operations.h"

namespace dfs::fuse {
namespace {

using client::DfsClient;

DfsClient::LockSpec specOf(fuse_ino_t ino, const fuse_file_info* fi, const struct flock& lock) {
  DfsClient::LockSpec spec;
  spec.ino = ino;
  spec.kind = proto::LOCK_POSIX;
  spec.type = lock.l_type == F_RDLCK   ? proto::LOCK_SHARED
              : lock.l_type == F_WRLCK ? proto::LOCK_EXCLUSIVE
                                       : proto::LOCK_UNLOCK;
  // The kernel hands ranges over as start and length, 0 meaning "to the end of the file".
  spec.start = static_cast<uint64_t>(lock.l_start);
  spec.end = lock.l_len == 0 ? locks::kToEnd
                             : static_cast<uint64_t>(lock.l_start + lock.l_len - 1);
  spec.owner = fi->lock_owner;
  spec.pid = static_cast<uint32_t>(lock.l_pid);
  return spec;
}

void onLockInterrupted(fuse_req_t req, void* data) {
  auto wait_id = reinterpret_cast<uintptr_t>(data);
  DfsClient& client = *mountContext(req).client;
  client.spawn<void>(client.cancelLockWait(wait_id), [](Result<void> cancelled) {
    if (!cancelled) spdlog::warn("withdrawing a lock wait: {}", cancelled.error().toString());
  });
}

// Takes, changes or drops a lock and replies: after a grant, once the kernel's cache of the
// file is dropped, so that the holder reads what the previous holder wrote.
void setLock(fuse_req_t req, fuse_file_info* fi, DfsClient::LockSpec spec, bool wait) {
  MountContext& mount = mountContext(req);
  if (spec.type != proto::LOCK_UNLOCK) {
    std::lock_guard lock(openFile(fi).mutex);
    openFile(fi).lock_owners.emplace(spec.kind, spec.owner);
  }
  uint64_t wait_id = 0;
  if (wait && spec.type != proto::LOCK_UNLOCK) {
    wait_id = mount.client->newWaitId();
    fuse_req_interrupt_func(req, onLockInterrupted, reinterpret_cast<void*>(wait_id));
    if (fuse_req_interrupted(req)) {
      fuse_reply_err(req, EINTR);
      return;
    }
  }
  bool granted_lock = spec.type != proto::LOCK_UNLOCK;
  uint64_t ino = spec.ino;
  mount.client->spawn<void>(
      mount.client->setLock(spec, wait, wait_id),
      [req, ino, granted_lock, invalidator = mount.invalidator,
       filler = mount.filler](Result<void> done) {
        if (!done) {
          if (done.error().code() != Code::kLocked && done.error().code() != Code::kCancelled) {
            spdlog::warn("lock on inode {}: {}", ino, done.error().toString());
          }
          fuse_reply_err(req, toErrno(done.error()));
          return;
        }
        if (!granted_lock) {
          fuse_reply_err(req, 0);
          return;
        }
        filler->changed(ino);
        invalidator->invalidateThen(ino, [req] { fuse_reply_err(req, 0); });
      });
}

void onGetlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
  auto spec = specOf(ino, fi, *lock);
  struct flock query = *lock;
  mountContext(req).client->spawn<proto::GetLockReply>(
      mountContext(req).client->getLock(spec),
      [req, query](Result<proto::GetLockReply> reply) mutable {
        if (!reply) {
          fuse_reply_err(req, toErrno(reply.error()));
          return;
        }
        if (!reply->conflict()) {
          query.l_type = F_UNLCK;
        } else {
          query.l_type = reply->type() == proto::LOCK_EXCLUSIVE ? F_WRLCK : F_RDLCK;
          query.l_whence = SEEK_SET;
          query.l_start = static_cast<off_t>(reply->start());
          query.l_len = reply->end() == locks::kToEnd
                            ? 0
                            : static_cast<off_t>(reply->end() - reply->start() + 1);
          // A holder on another machine has no pid here; the kernel shows 0 for it.
          query.l_pid = static_cast<pid_t>(reply->pid());
        }
        fuse_reply_lock(req, &query);
      });
}

void onSetlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock, int sleep) {
  setLock(req, fi, specOf(ino, fi, *lock), sleep != 0);
}

void onFlock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op) {
  DfsClient::LockSpec spec;
  spec.ino = ino;
  spec.kind = proto::LOCK_FLOCK;
  spec.owner = fi->lock_owner;
  spec.pid = static_cast<uint32_t>(fuse_req_ctx(req)->pid);
  switch (op & ~LOCK_NB) {
    case LOCK_SH: spec.type = proto::LOCK_SHARED; break;
    case LOCK_EX: spec.type = proto::LOCK_EXCLUSIVE; break;
    case LOCK_UN: spec.type = proto::LOCK_UNLOCK; break;
    default: fuse_reply_err(req, EINVAL); return;
  }
  setLock(req, fi, spec, (op & LOCK_NB) == 0);
}

}  // namespace

void addLockOperations(fuse_lowlevel_ops& ops) {
  ops.getlk = onGetlk;
  ops.setlk = onSetlk;
  ops.flock = onFlock;
}

}  // namespace dfs::fuse
