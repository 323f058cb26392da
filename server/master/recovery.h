// Start-up recovery of the master's metadata directory: the newest checkpoint, then every
// journal record after it, in sequence order with no gap. A torn tail of a journal segment (a
// write cut short by a crash) is truncated with a warning; damage before a tail, a gap in the
// sequence or an unreadable checkpoint stops recovery with the file and offset.
#pragma once

#include <string>
#include <vector>

#include "lib/base/status.h"
#include "proto/master.pb.h"
#include "server/master/checkpoint.h"

namespace dfs::master {

enum class RecoveryMode {
  kRepair,     // truncate torn tails (start-up)
  kCheckOnly,  // change nothing (--check-metadata)
};

struct RecoveredMetadata {
  CheckpointState checkpoint;               // an empty namespace when there is none yet
  std::string checkpoint_path;              // empty when there is none
  std::vector<proto::MetaRecord> records;   // the journal after the checkpoint, in order
  uint64_t last_seq = 0;
  size_t segments = 0;
  std::vector<std::string> warnings;
};

Result<RecoveredMetadata> recoverMetadata(const std::string& dir, RecoveryMode mode);

}  // namespace dfs::master
