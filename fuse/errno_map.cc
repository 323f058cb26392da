#include "fuse/errno_map.h"

#include <cerrno>

namespace dfs::fuse {

int toErrno(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kExists: return EEXIST;
    case Code::kNotDir: return ENOTDIR;
    case Code::kIsDir: return EISDIR;
    case Code::kNotEmpty: return ENOTEMPTY;
    case Code::kCrossDevice: return EXDEV;
    case Code::kNameTooLong: return ENAMETOOLONG;
    case Code::kInvalid: return EINVAL;
    case Code::kAccessDenied: return EACCES;
    case Code::kNotPermitted: return EPERM;
    case Code::kNoSpace: return ENOSPC;
    case Code::kFileTooBig: return EFBIG;
    case Code::kBusy: return EAGAIN;
    case Code::kNotSupported: return EOPNOTSUPP;
    case Code::kLocked: return EAGAIN;  // == EWOULDBLOCK
    case Code::kNoData: return ENODATA;
    case Code::kOutOfRange: return ERANGE;
    case Code::kTooBig: return E2BIG;
    case Code::kNoSuchOffset: return ENXIO;
    case Code::kCancelled: return EINTR;
    case Code::kIo:
    case Code::kTimeout:
    case Code::kUnavailable:
    case Code::kCorrupt:
    case Code::kStale:
    case Code::kProtocol:
    case Code::kInternal:
    case Code::kWrongCluster:
    case Code::kSessionExpired:
      return EIO;
  }
  return EIO;
}

}  // namespace dfs::fuse
