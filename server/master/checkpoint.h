// Checkpoints: the whole persistent state of the master (namespace, chunk versions, sessions
// with their reservations and applied calls)
// as of one journal sequence number, in the journal's record format, written to a temporary
// file, fsynced and renamed to checkpoint.<seq, 16 hex digits>. A checkpoint that does not end
// with its footer is incomplete and refused.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "proto/master.pb.h"
#include "server/master/namespace.h"
#include "server/master/sessions.h"

namespace dfs::master {

struct CheckpointState {
  uint64_t seq = 0;
  std::unique_ptr<Namespace> ns;
  std::vector<proto::SessionEntry> sessions;
  uint64_t next_session_id = 0;
};

// Each session's calls applied already: request id -> the outcome's inode number.
using AppliedCalls = std::unordered_map<uint64_t, std::map<uint64_t, uint64_t>>;

std::string encodeCheckpoint(const Namespace& ns, const SessionTable& sessions, uint64_t seq,
                             const AppliedCalls* applied_calls = nullptr);
// name is used in error messages ("checkpoint.000..12 at offset 4096: checksum mismatch").
Result<CheckpointState> decodeCheckpoint(std::string_view bytes, const std::string& name);

std::string checkpointPath(const std::string& dir, uint64_t seq);
// (seq, path) of every checkpoint in dir, newest first.
std::vector<std::pair<uint64_t, std::string>> listCheckpoints(const std::string& dir);

}  // namespace dfs::master
