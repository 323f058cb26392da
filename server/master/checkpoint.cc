#include "server/master/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "lib/base/clock.h"
#include "server/master/log_format.h"

namespace dfs::master {
namespace {

constexpr size_t kEntriesPerPiece = 65536;

void add(const proto::CheckpointEntry& entry, LogWriter& writer, std::string* out) {
  writer.add(entry.SerializeAsString(), out);
}

}  // namespace

std::string checkpointPath(const std::string& dir, uint64_t seq) {
  return fmt::format("{}/checkpoint.{:016x}", dir, seq);
}

std::vector<std::pair<uint64_t, std::string>> listCheckpoints(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("checkpoint.") || name.size() != 27) continue;
    char* end = nullptr;
    uint64_t seq = std::strtoull(name.c_str() + 11, &end, 16);
    if (*end == '\0') found.emplace_back(seq, entry.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  return found;
}

std::string encodeCheckpoint(const Namespace& ns, const SessionTable& sessions, uint64_t seq,
                             const AppliedCalls* applied_calls) {
  std::string out;
  LogWriter writer;
  proto::CheckpointEntry entry;
  auto* header = entry.mutable_header();
  header->set_seq(seq);
  header->set_next_ino(ns.nextIno());
  header->set_next_chunk_id(ns.nextChunkId());
  header->set_next_session_id(sessions.nextId());
  header->set_time_ns(wallNowNs());
  header->set_cluster_id(ns.clusterId());
  add(entry, writer, &out);

  uint64_t inodes = 0;
  ns.forEachInode([&](const Inode& inode) {
    inodes++;
    entry.Clear();
    auto* record = entry.mutable_inode();
    record->set_ino(inode.ino);
    record->set_mode(inode.mode);
    record->set_nlink(inode.nlink);
    record->set_uid(inode.uid);
    record->set_gid(inode.gid);
    record->set_size(inode.size);
    record->set_atime_ns(inode.atime_ns);
    record->set_mtime_ns(inode.mtime_ns);
    record->set_ctime_ns(inode.ctime_ns);
    record->set_rdev(inode.rdev);
    record->set_symlink_target(inode.symlink_target);
    record->set_parent(inode.parent);
    record->set_goal(inode.goal);
    for (const auto& [name, value] : inode.xattrs) {
      auto* xattr = record->add_xattrs();
      xattr->set_name(name);
      xattr->set_value(value);
    }
    for (uint64_t id : inode.chunks) {
      record->add_chunks(id);
      const ChunkMeta* meta = id ? ns.chunk(id) : nullptr;
      record->add_chunk_versions(meta ? meta->version : 0);
    }
    add(entry, writer, &out);
    // Directory entries follow in bounded pieces, so no record grows with the directory.
    auto it = inode.entries.begin();
    while (it != inode.entries.end()) {
      entry.Clear();
      auto* piece = entry.mutable_directory();
      piece->set_ino(inode.ino);
      for (size_t n = 0; n < kEntriesPerPiece && it != inode.entries.end(); ++n, ++it) {
        piece->add_names(it->first);
        piece->add_inos(it->second);
      }
      add(entry, writer, &out);
    }
  });
  uint64_t session_count = 0;
  sessions.forEach([&](const Session& session) {
    session_count++;
    entry.Clear();
    auto* record = entry.mutable_session();
    record->set_id(session.id);
    record->set_host(session.host);
    record->set_pid(session.pid);
    record->set_mount_point(session.mount_point);
    for (const auto& range : session.reserved_inodes) {
      auto* reserved = record->add_reserved_inodes();
      reserved->set_next(range.next);
      reserved->set_end(range.end);
    }
    for (const auto& range : session.reserved_chunks) {
      auto* reserved = record->add_reserved_chunks();
      reserved->set_next(range.next);
      reserved->set_end(range.end);
    }
    if (applied_calls) {
      if (auto calls = applied_calls->find(session.id); calls != applied_calls->end()) {
        for (const auto& [request_id, ino] : calls->second) {
          auto* call = record->add_applied_calls();
          call->set_request_id(request_id);
          call->set_ino(ino);
        }
      }
    }
    add(entry, writer, &out);
  });
  entry.Clear();
  entry.mutable_footer()->set_inodes(inodes);
  entry.mutable_footer()->set_sessions(session_count);
  add(entry, writer, &out);
  return out;
}

Result<CheckpointState> decodeCheckpoint(std::string_view bytes, const std::string& name) {
  CheckpointState state;
  state.ns = std::make_unique<Namespace>();
  state.ns->clearForRestore();
  LogReader reader(bytes);
  std::string record;
  proto::CheckpointEntry entry;
  bool have_header = false;
  uint64_t inodes = 0;
  auto corrupt = [&](const std::string& why) {
    return makeError(Code::kCorrupt, fmt::format("{} near offset {}: {}", name, reader.validEnd(), why));
  };
  for (;;) {
    auto outcome = reader.next(&record);
    if (outcome == LogReader::Outcome::kEnd) return corrupt("ends without its footer");
    if (outcome != LogReader::Outcome::kRecord) {
      return makeError(Code::kCorrupt, fmt::format("{} at offset {}: {}", name,
                                                   reader.errorOffset(), reader.errorReason()));
    }
    if (!entry.ParseFromString(record)) return corrupt("unparsable entry");
    if (!have_header && !entry.has_header()) return corrupt("does not start with a header");
    switch (entry.entry_case()) {
      case proto::CheckpointEntry::kHeader:
        if (have_header) return corrupt("second header");
        have_header = true;
        state.seq = entry.header().seq();
        state.next_session_id = entry.header().next_session_id();
        state.ns->restoreCounters(entry.header().next_ino(), entry.header().next_chunk_id());
        state.ns->restoreClusterId(entry.header().cluster_id());
        break;
      case proto::CheckpointEntry::kInode: {
        const auto& in = entry.inode();
        auto inode = std::make_unique<Inode>();
        inode->ino = in.ino();
        inode->mode = in.mode();
        inode->nlink = in.nlink();
        inode->uid = in.uid();
        inode->gid = in.gid();
        inode->size = in.size();
        inode->atime_ns = in.atime_ns();
        inode->mtime_ns = in.mtime_ns();
        inode->ctime_ns = in.ctime_ns();
        inode->rdev = in.rdev();
        inode->symlink_target = in.symlink_target();
        inode->parent = in.parent();
        inode->goal = in.goal();
        for (const auto& xattr : in.xattrs()) inode->xattrs[xattr.name()] = xattr.value();
        inode->chunks.assign(in.chunks().begin(), in.chunks().end());
        std::vector<uint64_t> versions(in.chunk_versions().begin(), in.chunk_versions().end());
        if (auto restored = state.ns->restoreInode(std::move(inode), versions); !restored.isOk()) {
          return corrupt(restored.message());
        }
        inodes++;
        break;
      }
      case proto::CheckpointEntry::kDirectory: {
        const auto& piece = entry.directory();
        if (piece.names_size() != piece.inos_size()) return corrupt("directory piece mismatch");
        std::vector<std::pair<std::string, uint64_t>> entries;
        for (int i = 0; i < piece.names_size(); ++i) entries.emplace_back(piece.names(i), piece.inos(i));
        if (auto restored = state.ns->restoreEntries(piece.ino(), entries); !restored.isOk()) {
          return corrupt(restored.message());
        }
        break;
      }
      case proto::CheckpointEntry::kSession:
        state.sessions.push_back(entry.session());
        break;
      case proto::CheckpointEntry::kFooter:
        if (entry.footer().inodes() != inodes ||
            entry.footer().sessions() != state.sessions.size()) {
          return corrupt("footer counts do not match the entries");
        }
        if (auto consistent = state.ns->checkConsistency(); !consistent.isOk()) {
          return corrupt(consistent.message());
        }
        return state;
      case proto::CheckpointEntry::ENTRY_NOT_SET:
        return corrupt("empty entry");
    }
  }
}

}  // namespace dfs::master
