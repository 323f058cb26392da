// The master's durable state, changed only by apply(record): live, in recovery, and on any
// master that applies the same journal. apply is deterministic (it reads nothing outside this
// object and the record; the one clock it reads starts a new session's lease, soft state), so
// the same checkpoint and records give the same durable state everywhere.
//
// What it owns:
//   - the namespace (inodes, names, chunks and their versions, goals, xattrs, cluster identity);
//   - the sessions table: which sessions exist and the inode numbers and chunk ids reserved to
//     each. The table also carries soft state of the master that serves them (lease renewals,
//     open files), which that master changes directly (sessions());
//   - the de-duplication table: each session's recent request ids with their outcomes, so a
//     call retried after a lost reply is answered as the first time;
//   - the time of the latest record applied (records never go back in time). Not in
//     checkpoints: after a restart the inodes' times and the wall clock are the floor.
// Soft state (chunk locations, write leases, recalls, waiters) lives in the service, not here.
// Not thread-safe: the master's state thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "lib/base/status.h"
#include "proto/master.pb.h"
#include "server/master/checkpoint.h"
#include "server/master/namespace.h"
#include "server/master/sessions.h"

namespace dfs::master {

class MetaState {
 public:
  explicit MetaState(int64_t session_lease_ms) : sessions_(session_lease_ms) {}

  // How many request ids of one session the de-duplication table keeps.
  static constexpr size_t kAnswersPerSession = 1024;

  // The one function every durable change goes through. A record that does not apply changes
  // nothing.
  Result<ApplyOutcome> apply(const proto::MetaRecord& record);

  // Takes the state a checkpoint holds, before the records after it are applied. Sessions come
  // back with a lease starting at now_ms.
  void restore(CheckpointState checkpoint, int64_t now_ms);
  // The state as a checkpoint as of record seq.
  std::string encodeCheckpoint(uint64_t seq) const;

  // The outcome (an inode number, 0 for none) of the call a session made with request_id, when
  // it was applied already.
  std::optional<uint64_t> answerTo(uint64_t session_id, uint64_t request_id) const;
  int64_t lastTimeNs() const { return last_time_ns_; }

  const Namespace& ns() const { return ns_; }
  const SessionTable& sessions() const { return sessions_; }
  // For the soft state the sessions table carries (renewals, expiry, open files); sessions are
  // added, closed and given reservations only by apply.
  SessionTable& sessions() { return sessions_; }

 private:
  Namespace ns_;
  SessionTable sessions_;
  AppliedCalls answered_;
  int64_t last_time_ns_ = 0;
};

}  // namespace dfs::master
