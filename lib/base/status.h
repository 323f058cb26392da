// Errors as values. Every fallible function returns Result<T>; a Status names what went wrong
// (one project-wide Code) and where ("chunk 0x1f3 v4 on 127.0.0.1:7201: crc mismatch").
// Codes cross the wire as integers, so their numbers never change.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace dfs {

enum class Code : int {
  kOk = 0,
  // POSIX-shaped namespace errors
  kNotFound = 1,
  kExists = 2,
  kNotDir = 3,
  kIsDir = 4,
  kNotEmpty = 5,
  kCrossDevice = 6,
  kNameTooLong = 7,
  kInvalid = 8,
  kAccessDenied = 9,
  kNotPermitted = 10,
  kNoSpace = 11,
  kFileTooBig = 12,
  kBusy = 13,  // try again (EAGAIN)
  kNotSupported = 14,
  kLocked = 15,  // a conflicting lock is held (EAGAIN/EWOULDBLOCK), not worth retrying
  kNoData = 16,      // no such extended attribute (ENODATA)
  kOutOfRange = 17,  // the caller's buffer is too small for the value (ERANGE)
  kTooBig = 18,      // a value beyond the size the file system takes (E2BIG)
  kNoSuchOffset = 19,  // no data (or hole) at or after an offset past the end (ENXIO)
  // transport and storage
  kIo = 30,
  kTimeout = 31,
  kUnavailable = 32,  // peer unreachable or connection lost
  kCorrupt = 33,      // checksum mismatch or damaged record
  kStale = 34,        // chunk version older than required
  kProtocol = 35,     // malformed frame or message
  kCancelled = 36,
  kInternal = 37,
  kWrongCluster = 38,  // the peer belongs to another cluster (its identity differs)
  kSessionExpired = 39,  // the caller's session ended or is unknown: it opens a new one
};

const char* codeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool isOk() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not found: /a/b"
  std::string toString() const;
  // Adds outer context: "open /a: not found: ..."
  Status withContext(const std::string& context) const;

  // For an error that came over the network: the peer it belongs to ("HOST:PORT"), the server
  // that answered it or one that server names (a chain write's replica further down). Empty
  // for errors made here. Callers branch on it (which replica failed), so it is data, not
  // words in the message.
  const std::string& origin() const { return origin_; }
  Status withOrigin(std::string origin) const {
    Status named = *this;
    named.origin_ = std::move(origin);
    return named;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string origin_;
};

template <class T>
using Result = std::expected<T, Status>;

inline std::unexpected<Status> makeError(Code code, std::string message = {}) {
  return std::unexpected(Status(code, std::move(message)));
}
inline std::unexpected<Status> makeError(Status status) {
  return std::unexpected(std::move(status));
}

// Result<void> from a Status.
inline Result<void> toResult(Status status) {
  if (status.isOk()) return {};
  return std::unexpected(std::move(status));
}

Code codeFromWire(int value);

}  // namespace dfs

#define DFS_CONCAT_INNER(a, b) a##b
#define DFS_CONCAT(a, b) DFS_CONCAT_INNER(a, b)

// DFS_TRY(auto x, expr): x = value of expr, or return its error.
#define DFS_TRY(decl, expr) DFS_TRY_IMPL(DFS_CONCAT(dfs_try_, __LINE__), decl, expr, return)
#define DFS_CO_TRY(decl, expr) DFS_TRY_IMPL(DFS_CONCAT(dfs_try_, __LINE__), decl, expr, co_return)
#define DFS_TRY_IMPL(tmp, decl, expr, ret)                 \
  auto tmp = (expr);                                       \
  if (!tmp.has_value()) ret std::unexpected(std::move(tmp).error()); \
  decl = std::move(tmp).value()

// DFS_CHECK_OK(expr): return the error of a Result<void>.
#define DFS_RETURN_IF_ERROR(expr) DFS_RETURN_IF_ERROR_IMPL(DFS_CONCAT(dfs_chk_, __LINE__), expr, return)
#define DFS_CO_RETURN_IF_ERROR(expr) \
  DFS_RETURN_IF_ERROR_IMPL(DFS_CONCAT(dfs_chk_, __LINE__), expr, co_return)
#define DFS_RETURN_IF_ERROR_IMPL(tmp, expr, ret) \
  do {                                           \
    auto tmp = (expr);                           \
    if (!tmp.has_value()) ret std::unexpected(std::move(tmp).error()); \
  } while (0)
