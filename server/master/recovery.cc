#include "server/master/recovery.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "server/master/journal.h"
#include "server/master/log_format.h"

namespace dfs::master {
namespace {

Result<std::string> readWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Code::kIo, "cannot read " + path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

Result<RecoveredMetadata> recoverMetadata(const std::string& dir, RecoveryMode mode) {
  RecoveredMetadata recovered;
  auto checkpoints = listCheckpoints(dir);
  if (checkpoints.empty()) {
    recovered.checkpoint.ns = std::make_unique<Namespace>();
  } else {
    const auto& [seq, path] = checkpoints.front();
    DFS_TRY(std::string bytes, readWhole(path));
    DFS_TRY(recovered.checkpoint, decodeCheckpoint(bytes, path));
    if (recovered.checkpoint.seq != seq) {
      return makeError(Code::kCorrupt, fmt::format("{} holds seq {}, its name says {}", path,
                                                   recovered.checkpoint.seq, seq));
    }
    recovered.checkpoint_path = path;
  }
  uint64_t expected = recovered.checkpoint.seq + 1;
  recovered.last_seq = recovered.checkpoint.seq;

  auto segments = Journal::listSegments(dir);
  recovered.segments = segments.size();
  std::string record;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& segment = segments[i];
    DFS_TRY(std::string bytes, readWhole(segment.path));
    LogReader reader(bytes);
    for (;;) {
      auto outcome = reader.next(&record);
      if (outcome == LogReader::Outcome::kEnd) break;
      if (outcome == LogReader::Outcome::kCorrupt) {
        return makeError(Code::kCorrupt,
                         fmt::format("{} is damaged at offset {} ({}), and records follow",
                                     segment.path, reader.errorOffset(), reader.errorReason()));
      }
      if (outcome == LogReader::Outcome::kTornTail) {
        recovered.warnings.push_back(fmt::format(
            "{}: torn tail at offset {} ({}), {} bytes {}", segment.path, reader.errorOffset(),
            reader.errorReason(), bytes.size() - reader.validEnd(),
            mode == RecoveryMode::kRepair ? "truncated" : "would be truncated"));
        if (mode == RecoveryMode::kRepair &&
            ::truncate(segment.path.c_str(), static_cast<off_t>(reader.validEnd())) != 0) {
          return makeError(Code::kIo, fmt::format("truncate {}: {}", segment.path,
                                                  std::strerror(errno)));
        }
        break;
      }
      proto::MetaRecord meta;
      if (!meta.ParseFromString(record)) {
        return makeError(Code::kCorrupt, fmt::format("{} near offset {}: unparsable record",
                                                     segment.path, reader.validEnd()));
      }
      if (meta.seq() < expected) continue;  // already in the checkpoint
      if (meta.seq() != expected) {
        return makeError(Code::kCorrupt,
                         fmt::format("{} near offset {}: record {} where {} was expected: "
                                     "journal records are missing",
                                     segment.path, reader.validEnd(), meta.seq(), expected));
      }
      expected++;
      recovered.last_seq = meta.seq();
      recovered.records.push_back(std::move(meta));
    }
  }
  return recovered;
}

}  // namespace dfs::master
