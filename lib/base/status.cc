#include "lib/base/status.h"

namespace dfs {

const char* codeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kExists: return "already exists";
    case Code::kNotDir: return "not a directory";
    case Code::kIsDir: return "is a directory";
    case Code::kNotEmpty: return "directory not empty";
    case Code::kCrossDevice: return "cross-device link";
    case Code::kNameTooLong: return "name too long";
    case Code::kInvalid: return "invalid argument";
    case Code::kAccessDenied: return "permission denied";
    case Code::kNotPermitted: return "operation not permitted";
    case Code::kNoSpace: return "no space left";
    case Code::kFileTooBig: return "file too big";
    case Code::kBusy: return "busy, try again";
    case Code::kNotSupported: return "not supported";
    case Code::kLocked: return "locked";
    case Code::kNoData: return "no such attribute";
    case Code::kOutOfRange: return "result out of range";
    case Code::kTooBig: return "too big";
    case Code::kNoSuchOffset: return "no such offset";
    case Code::kIo: return "i/o error";
    case Code::kTimeout: return "timed out";
    case Code::kUnavailable: return "unavailable";
    case Code::kCorrupt: return "corrupt data";
    case Code::kStale: return "stale version";
    case Code::kProtocol: return "protocol error";
    case Code::kCancelled: return "cancelled";
    case Code::kInternal: return "internal error";
    case Code::kWrongCluster: return "another cluster";
    case Code::kSessionExpired: return "session expired";
  }
  return "unknown error";
}

std::string Status::toString() const {
  if (isOk()) return "ok";
  if (message_.empty()) return codeName(code_);
  return std::string(codeName(code_)) + ": " + message_;
}

Status Status::withContext(const std::string& context) const {
  if (isOk()) return *this;
  return Status(code_, message_.empty() ? context : context + ": " + message_).withOrigin(origin_);
}

Code codeFromWire(int value) {
  switch (static_cast<Code>(value)) {
    case Code::kOk: case Code::kNotFound: case Code::kExists: case Code::kNotDir:
    case Code::kIsDir: case Code::kNotEmpty: case Code::kCrossDevice: case Code::kNameTooLong:
    case Code::kInvalid: case Code::kAccessDenied: case Code::kNotPermitted: case Code::kNoSpace:
    case Code::kFileTooBig: case Code::kBusy: case Code::kNotSupported: case Code::kLocked:
    case Code::kNoData: case Code::kOutOfRange: case Code::kTooBig: case Code::kNoSuchOffset:
    case Code::kIo:
    case Code::kTimeout: case Code::kUnavailable: case Code::kCorrupt: case Code::kStale:
    case Code::kProtocol: case Code::kCancelled: case Code::kInternal: case Code::kWrongCluster:
    case Code::kSessionExpired:
      return static_cast<Code>(value);
  }
  return Code::kInternal;
}

}  // namespace dfs
