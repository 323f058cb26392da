// The dfs command line tool's commands, each on the shared client library. Paths are either
// on a DFS mount (the cluster is found from the mount table) or cluster paths ("/a/b") with
// --master.
#pragma once

#include <string>
#include <vector>

#include "lib/base/status.h"

namespace dfs::cli {

struct GlobalOptions {
  std::string master;  // HOST:PORT; empty: find it from the mount of the path
};

Result<void> ls(const GlobalOptions& global, const std::string& path, bool long_format);
Result<void> stat(const GlobalOptions& global, const std::string& path);
Result<void> mkdir(const GlobalOptions& global, const std::string& path, bool parents);
Result<void> put(const GlobalOptions& global, const std::string& local, const std::string& remote);
Result<void> get(const GlobalOptions& global, const std::string& remote, const std::string& local);
Result<void> getRange(const GlobalOptions& global, const std::string& remote, uint64_t offset,
                      uint64_t length);
Result<void> mv(const GlobalOptions& global, const std::string& from, const std::string& to);
Result<void> rm(const GlobalOptions& global, const std::string& path, bool recursive);
Result<void> info(const GlobalOptions& global, const std::string& path);
Result<void> status(const GlobalOptions& global, const std::string& path);
// Holders and waiters of the locks on a file, or on every file (a directory or no path).
Result<void> locks(const GlobalOptions& global, const std::string& path);
// Checks every file under path: chunks without a live replica, below their goal, and with
// verify, replicas that fail their CRCs or differ from each other. Problems make it an error.
Result<void> fsck(const GlobalOptions& global, const std::string& path, bool verify);
Result<void> setGoal(const GlobalOptions& global, const std::string& path, uint32_t goal,
                     bool recursive);
Result<void> getGoal(const GlobalOptions& global, const std::string& path);

// The one place a Status becomes a message and an exit code.
int report(const std::string& command, const Status& status);

}  // namespace dfs::cli
