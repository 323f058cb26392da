#include "tools/cli/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "lib/client/dfs_client.h"
#include "lib/checksum/sha256.h"
#include "lib/client/mount_table.h"

namespace dfs::cli {
namespace {

using client::DfsClient;
constexpr size_t kIoSize = 8 << 20;

struct Target {
  std::unique_ptr<DfsClient> client;
  HostPort master;
  std::string path;  // inside the cluster
};

Result<Target> connectFor(const GlobalOptions& global, const std::string& path) {
  Target target;
  if (!global.master.empty()) {
    DFS_TRY(target.master, parseHostPort(global.master));
    target.path = path.starts_with("/") ? path : "/" + path;
  } else {
    auto located = client::locateOnMount(path);
    if (!located) {
      return makeError(Code::kInvalid,
                       path + " is not on a DFS mount; name the cluster with --master HOST:PORT");
    }
    target.master = located->master;
    target.path = located->path;
  }
  client::ClientOptions options;
  options.master = target.master;
  options.mount_point = "dfs-cli";
  options.retry_window = std::chrono::milliseconds(10000);
  DFS_TRY(target.client, DfsClient::connect(options));
  return target;
}

std::pair<std::string, std::string> splitParent(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  auto slash = trimmed.rfind('/');
  if (slash == std::string::npos) return {"/", trimmed};
  return {slash == 0 ? "/" : trimmed.substr(0, slash), trimmed.substr(slash + 1)};
}

std::string baseName(const std::string& path) { return splitParent(path).second; }

std::string modeString(uint32_t mode) {
  std::string text = S_ISDIR(mode) ? "d" : S_ISLNK(mode) ? "l" : S_ISFIFO(mode) ? "p" : "-";
  const char* bits = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) text += (mode & (0400 >> i)) ? bits[i] : '-';
  return text;
}

std::string timeString(int64_t ns) {
  std::time_t seconds = ns / 1000000000;
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

void printLong(const proto::Attr& attr, const std::string& name) {
  std::printf("%s %3u %5u %5u %12llu %s %s\n", modeString(attr.mode()).c_str(), attr.nlink(),
              attr.uid(), attr.gid(), static_cast<unsigned long long>(attr.size()),
              timeString(attr.mtime_ns()).c_str(), name.c_str());
}

Result<void> removeTree(DfsClient& client, uint64_t parent, const std::string& name,
                        const proto::Attr& attr) {
  if (S_ISDIR(attr.mode())) {
    DFS_TRY(auto entries, client.run(client.readDir(attr.ino())));
    for (const auto& entry : entries) {
      DFS_RETURN_IF_ERROR(removeTree(client, attr.ino(), entry.name(), entry.attr()));
    }
    return client.run(client.rmdir(parent, name));
  }
  return client.run(client.unlink(parent, name));
}

Result<void> readOut(DfsClient& client, uint64_t ino, uint64_t offset, uint64_t length,
                     std::FILE* out) {
  uint64_t end = offset + length;
  while (offset < end) {
    uint32_t want = static_cast<uint32_t>(std::min<uint64_t>(kIoSize, end - offset));
    DFS_TRY(auto data, client.run(client.read(ino, offset, want)));
    if (data.empty()) break;
    if (std::fwrite(data.data(), 1, data.size(), out) != data.size()) {
      return makeError(Code::kIo, "write to local file failed");
    }
    offset += data.size();
  }
  return {};
}

}  // namespace

int report(const std::string& command, const Status& status) {
  std::fprintf(stderr, "dfs %s: %s\n", command.c_str(), status.toString().c_str());
  return status.code() == Code::kInvalid ? 2 : 1;
}

Result<void> ls(const GlobalOptions& global, const std::string& path, bool long_format) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  if (!S_ISDIR(attr.mode())) {
    if (long_format) {
      printLong(attr, baseName(target.path));
    } else {
      std::printf("%s\n", baseName(target.path).c_str());
    }
    return {};
  }
  DFS_TRY(auto entries, client.run(client.readDir(attr.ino())));
  for (const auto& entry : entries) {
    if (long_format) {
      printLong(entry.attr(), entry.name());
    } else {
      std::printf("%s\n", entry.name().c_str());
    }
  }
  return {};
}

Result<void> stat(const GlobalOptions& global, const std::string& path) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  std::printf("path:   %s\ninode:  %llu\nmode:   %s (%o)\nlinks:  %u\nowner:  %u:%u\n"
              "size:   %llu\nmtime:  %s\nctime:  %s\ngoal:   %u\n",
              target.path.c_str(), static_cast<unsigned long long>(attr.ino()),
              modeString(attr.mode()).c_str(), attr.mode() & 07777, attr.nlink(), attr.uid(),
              attr.gid(), static_cast<unsigned long long>(attr.size()),
              timeString(attr.mtime_ns()).c_str(), timeString(attr.ctime_ns()).c_str(),
              attr.goal());
  return {};
}

Result<void> mkdir(const GlobalOptions& global, const std::string& path, bool parents) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  uint64_t parent = client::kRootIno;
  std::string_view rest = target.path;
  std::vector<std::string> names;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string name(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (!name.empty()) names.push_back(name);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    bool last = i + 1 == names.size();
    if (!last || parents) {
      auto existing = client.run(client.lookup(parent, names[i]));
      if (existing) {
        if (!S_ISDIR(existing->mode())) return makeError(Code::kNotDir, names[i]);
        parent = existing->ino();
        continue;
      }
      if (!parents) return makeError(existing.error().withContext(names[i]));
    }
    DFS_TRY(auto created, client.run(client.mkdir(parent, names[i], 0755, ::getuid(), ::getgid())));
    parent = created.ino();
  }
  return {};
}

Result<void> put(const GlobalOptions& global, const std::string& local, const std::string& remote) {
  std::FILE* in = std::fopen(local.c_str(), "rb");
  if (!in) return makeError(Code::kNotFound, "cannot open " + local);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(in, std::fclose);
  DFS_TRY(auto target, connectFor(global, remote));
  auto& client = *target.client;
  std::string path = target.path;
  if (auto existing = client.run(client.resolve(path)); existing && S_ISDIR(existing->mode())) {
    path = (path == "/" ? "" : path) + "/" + baseName(local);
  }
  auto [parent_path, name] = splitParent(path);
  DFS_TRY(auto parent, client.run(client.resolve(parent_path)));
  uint64_t ino;
  auto created = client.run(client.create(parent.ino(), name, 0644, ::getuid(), ::getgid()));
  if (created) {
    ino = created->ino();
  } else if (created.error().code() == Code::kExists) {
    DFS_TRY(auto existing, client.run(client.lookup(parent.ino(), name)));
    if (!S_ISREG(existing.mode())) return makeError(Code::kIsDir, path);
    ino = existing.ino();
    DFS_RETURN_IF_ERROR(client.run(client.open(ino, O_WRONLY | O_TRUNC)));
    proto::SetAttrRequest truncate;
    truncate.set_ino(ino);
    truncate.set_valid(proto::SET_SIZE);
    truncate.set_size(0);
    DFS_RETURN_IF_ERROR(client.run(client.setAttr(truncate)));
  } else {
    return makeError(created.error().withContext(path));
  }
  std::string buffer(kIoSize, '\0');
  uint64_t offset = 0;
  Result<void> outcome;
  for (;;) {
    size_t got = std::fread(buffer.data(), 1, buffer.size(), in);
    if (got == 0) break;
    auto written = client.run(client.write(ino, offset, buffer.substr(0, got)));
    if (!written) {
      outcome = std::unexpected(written.error());
      break;
    }
    offset += got;
  }
  if (outcome && std::ferror(in)) outcome = makeError(Code::kIo, "read of " + local + " failed");
  auto closed = client.run(client.release(ino));
  if (!outcome) return outcome;
  return closed;
}

Result<void> get(const GlobalOptions& global, const std::string& remote, const std::string& local) {
  DFS_TRY(auto target, connectFor(global, remote));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  if (!S_ISREG(attr.mode())) return makeError(Code::kIsDir, target.path);
  DFS_TRY(auto opened, client.run(client.open(attr.ino(), O_RDONLY)));
  std::FILE* out = local == "-" ? stdout : std::fopen(local.c_str(), "wb");
  if (!out) return makeError(Code::kIo, "cannot create " + local);
  auto copied = readOut(client, attr.ino(), 0, opened.size(), out);
  if (out != stdout && std::fclose(out) != 0 && copied) {
    copied = makeError(Code::kIo, "close of " + local + " failed");
  }
  (void)client.run(client.release(attr.ino()));
  return copied;
}

Result<void> getRange(const GlobalOptions& global, const std::string& remote, uint64_t offset,
                      uint64_t length) {
  DFS_TRY(auto target, connectFor(global, remote));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  if (!S_ISREG(attr.mode())) return makeError(Code::kIsDir, target.path);
  DFS_RETURN_IF_ERROR(client.run(client.open(attr.ino(), O_RDONLY)));
  auto copied = readOut(client, attr.ino(), offset, length, stdout);
  (void)client.run(client.release(attr.ino()));
  return copied;
}

Result<void> mv(const GlobalOptions& global, const std::string& from, const std::string& to) {
  DFS_TRY(auto source, connectFor(global, from));
  std::string destination_path = to;
  if (global.master.empty()) {
    auto located = client::locateOnMount(to);
    if (!located || located->master.toString() != source.master.toString()) {
      return makeError(Code::kCrossDevice, to + " is not on the same cluster as " + from);
    }
    destination_path = located->path;
  } else if (!destination_path.starts_with("/")) {
    destination_path = "/" + destination_path;
  }
  auto& client = *source.client;
  if (auto existing = client.run(client.resolve(destination_path));
      existing && S_ISDIR(existing->mode())) {
    destination_path = (destination_path == "/" ? "" : destination_path) + "/" +
                       baseName(source.path);
  }
  auto [from_parent, from_name] = splitParent(source.path);
  auto [to_parent, to_name] = splitParent(destination_path);
  DFS_TRY(auto from_dir, client.run(client.resolve(from_parent)));
  DFS_TRY(auto to_dir, client.run(client.resolve(to_parent)));
  return client.run(client.rename(from_dir.ino(), from_name, to_dir.ino(), to_name, 0));
}

Result<void> rm(const GlobalOptions& global, const std::string& path, bool recursive) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  auto [parent_path, name] = splitParent(target.path);
  DFS_TRY(auto parent, client.run(client.resolve(parent_path)));
  DFS_TRY(auto attr, client.run(client.lookup(parent.ino(), name)));
  if (S_ISDIR(attr.mode()) && !recursive) {
    return makeError(Code::kIsDir, target.path + " (use -r)");
  }
  return removeTree(client, parent.ino(), name, attr);
}

Result<void> info(const GlobalOptions& global, const std::string& path) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  if (!S_ISREG(attr.mode())) return makeError(Code::kInvalid, target.path + " is not a file");
  DFS_TRY(auto chunks, client.run(client.chunks(attr.ino())));
  std::printf("%s: inode %llu, size %llu, %d chunks, goal %u\n", target.path.c_str(),
              static_cast<unsigned long long>(attr.ino()),
              static_cast<unsigned long long>(chunks.size()), chunks.chunks_size(), attr.goal());
  for (const auto& chunk : chunks.chunks()) {
    std::string replicas;
    for (const auto& replica : chunk.replicas()) {
      replicas += (replicas.empty() ? "" : " ") + replica;
    }
    std::printf("  chunk %llu: id %#llx version %llu replicas %d: %s\n",
                static_cast<unsigned long long>(chunk.chunk_index()),
                static_cast<unsigned long long>(chunk.chunk_id()),
                static_cast<unsigned long long>(chunk.version()), chunk.replicas_size(),
                replicas.empty() ? "(none)" : replicas.c_str());
  }
  return {};
}

Result<void> status(const GlobalOptions& global, const std::string& path) {
  if (global.master.empty() && path.empty()) {
    return makeError(Code::kInvalid, "name a path on a DFS mount or --master HOST:PORT");
  }
  DFS_TRY(auto target, connectFor(global, path.empty() ? "/" : path));
  auto& client = *target.client;
  DFS_TRY(auto status, client.run(client.clusterStatus()));
  uint64_t capacity = 0, used = 0;
  int alive = 0;
  std::printf("master %s\n", target.master.toString().c_str());
  std::printf("%-4s %-22s %-5s %12s %12s %8s %10s %12s\n", "id", "chunkserver", "state",
              "capacity_MiB", "used_MiB", "chunks", "last_seen", "scrubbed_MiB");
  for (const auto& server : status.chunkservers()) {
    if (server.alive()) {
      alive++;
      capacity += server.capacity_bytes();
      used += server.used_bytes();
    }
    std::printf("%-4u %-22s %-5s %12llu %12llu %8llu %9.1fs %12llu\n", server.id(),
                server.address().c_str(), server.alive() ? "up" : "DEAD",
                static_cast<unsigned long long>(server.capacity_bytes() >> 20),
                static_cast<unsigned long long>(server.used_bytes() >> 20),
                static_cast<unsigned long long>(server.chunks()),
                server.last_heartbeat_ms_ago() / 1000.0,
                static_cast<unsigned long long>(server.scrubbed_bytes() >> 20));
  }
  std::printf("chunkservers: %d up of %d; space: %llu MiB used of %llu MiB\n", alive,
              status.chunkservers_size(), static_cast<unsigned long long>(used >> 20),
              static_cast<unsigned long long>(capacity >> 20));
  std::printf("files: %llu, directories: %llu, chunks: %llu (under goal %u: %llu), sessions: %llu\n",
              static_cast<unsigned long long>(status.files()),
              static_cast<unsigned long long>(status.directories()),
              static_cast<unsigned long long>(status.chunks()), status.goal(),
              static_cast<unsigned long long>(status.under_replicated_chunks()),
              static_cast<unsigned long long>(status.sessions()));
  std::printf("damaged replicas being rebuilt: %llu\n",
              static_cast<unsigned long long>(status.damaged_replicas()));
  bool healthy =
      alive > 0 && status.under_replicated_chunks() == 0 && status.damaged_replicas() == 0;
  std::printf("health: %s\n", healthy ? "ok" : "DEGRADED");
  return {};
}

Result<void> locks(const GlobalOptions& global, const std::string& path) {
  if (global.master.empty() && path.empty()) {
    return makeError(Code::kInvalid, "name a path on a DFS mount or --master HOST:PORT");
  }
  DFS_TRY(auto target, connectFor(global, path.empty() ? "/" : path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  DFS_TRY(auto reply, client.run(client.listLocks(S_ISDIR(attr.mode()) ? 0 : attr.ino())));
  std::printf("%-10s %-6s %-9s %-27s %-7s %-8s %-16s %-8s %s\n", "inode", "kind", "type", "range",
              "state", "session", "host", "pid", "since");
  for (const auto& lock : reply.locks()) {
    std::string range = lock.kind() == proto::LOCK_FLOCK ? "whole file"
                        : lock.end() == UINT64_MAX
                            ? fmt::format("{}-EOF", lock.start())
                            : fmt::format("{}-{}", lock.start(), lock.end());
    std::printf("%-10llu %-6s %-9s %-27s %-7s %-8llu %-16s %-8u %.1fs\n",
                static_cast<unsigned long long>(lock.ino()),
                lock.kind() == proto::LOCK_FLOCK ? "flock" : "posix",
                lock.type() == proto::LOCK_EXCLUSIVE ? "exclusive" : "shared", range.c_str(),
                lock.waiting() ? "waiting" : "held",
                static_cast<unsigned long long>(lock.session_id()), lock.host().c_str(), lock.pid(),
                lock.age_ms() / 1000.0);
  }
  std::printf("%d locks held or waited for\n", reply.locks_size());
  return {};
}

namespace {

struct FsckTotals {
  uint64_t files = 0;
  uint64_t chunks = 0;
  uint64_t problems = 0;
};

void problem(FsckTotals& totals, const std::string& path, const std::string& what) {
  totals.problems++;
  std::printf("%s: %s\n", path.c_str(), what.c_str());
}

bool stillListed(DfsClient& client, uint64_t ino, const proto::ChunkLocation& chunk,
                 const std::string& replica) {
  auto now = client.run(client.chunks(ino));
  if (!now) return true;  // cannot tell: report it
  for (const auto& current : now->chunks()) {
    if (current.chunk_id() != chunk.chunk_id()) continue;
    if (current.version() != chunk.version()) return false;  // rewritten meanwhile
    const auto& replicas = current.replicas();
    return std::find(replicas.begin(), replicas.end(), replica) != replicas.end();
  }
  return false;  // the chunk left the file
}

Result<void> fsckFile(DfsClient& client, const std::string& path, const proto::Attr& attr,
                      bool verify, FsckTotals& totals) {
  totals.files++;
  DFS_TRY(auto chunks, client.run(client.chunks(attr.ino())));
  for (const auto& chunk : chunks.chunks()) {
    totals.chunks++;
    std::string where = fmt::format("chunk {} ({:#x} v{})", chunk.chunk_index(), chunk.chunk_id(),
                                    chunk.version());
    if (chunk.replicas_size() == 0) {
      problem(totals, path, where + ": MISSING, no live replica");
      continue;
    }
    if (static_cast<uint32_t>(chunk.replicas_size()) < attr.goal()) {
      problem(totals, path, fmt::format("{}: under goal, {} of {} replicas", where,
                                        chunk.replicas_size(), attr.goal()));
    }
    if (!verify) continue;
    uint64_t start = chunk.chunk_index() * kChunkSize;
    uint64_t length = chunks.size() > start ? std::min(chunks.size() - start, kChunkSize) : 0;
    std::string first_digest;
    for (const auto& replica : chunk.replicas()) {
      Sha256 digest;
      Status failure;
      for (uint64_t offset = 0; offset < length && failure.isOk(); offset += kIoSize) {
        auto data = client.run(client.readReplica(
            replica, chunk.chunk_id(), chunk.version(), offset,
            static_cast<uint32_t>(std::min<uint64_t>(kIoSize, length - offset))));
        if (data) {
          digest.update(*data);
        } else {
          failure = data.error();
        }
      }
      if (!failure.isOk()) {
        // A live cluster moves replicas while fsck reads them: a replica the master no longer
        // lists was dropped on purpose, not lost. Not so a checksum failure: the master may
        // already have dropped that replica because of this very read, and it was bad.
        if (failure.code() != Code::kCorrupt && !stillListed(client, attr.ino(), chunk, replica)) {
          continue;
        }
        problem(totals, path, fmt::format("{}: replica on {} is bad: {}", where, replica,
                                          failure.toString()));
        continue;
      }
      std::string hex = digest.hexDigest();
      if (first_digest.empty()) {
        first_digest = hex;
      } else if (hex != first_digest) {
        problem(totals, path, fmt::format("{}: replica on {} differs from the others", where,
                                          replica));
      }
    }
  }
  return {};
}

Result<void> fsckTree(DfsClient& client, const std::string& path, const proto::Attr& attr,
                      bool verify, FsckTotals& totals) {
  if (S_ISREG(attr.mode())) return fsckFile(client, path, attr, verify, totals);
  if (!S_ISDIR(attr.mode())) return {};
  DFS_TRY(auto entries, client.run(client.readDir(attr.ino())));
  for (const auto& entry : entries) {
    std::string child = (path == "/" ? "" : path) + "/" + entry.name();
    DFS_RETURN_IF_ERROR(fsckTree(client, child, entry.attr(), verify, totals));
  }
  return {};
}

}  // namespace

Result<void> fsck(const GlobalOptions& global, const std::string& path, bool verify) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  FsckTotals totals;
  DFS_RETURN_IF_ERROR(fsckTree(client, target.path, attr, verify, totals));
  std::printf("%llu files, %llu chunks%s: %llu problems\n",
              static_cast<unsigned long long>(totals.files),
              static_cast<unsigned long long>(totals.chunks), verify ? " verified" : "",
              static_cast<unsigned long long>(totals.problems));
  if (totals.problems > 0) {
    return makeError(Code::kCorrupt, fmt::format("{} problems found", totals.problems));
  }
  return {};
}

Result<void> setGoal(const GlobalOptions& global, const std::string& path, uint32_t goal,
                     bool recursive) {
  if (goal < 1 || goal > 16) return makeError(Code::kInvalid, "goal must be 1 to 16");
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  DFS_TRY(auto updated, client.run(client.setGoal(attr.ino(), goal, recursive)));
  std::printf("%s: %u\n", target.path.c_str(), updated.goal());
  return {};
}

Result<void> getGoal(const GlobalOptions& global, const std::string& path) {
  DFS_TRY(auto target, connectFor(global, path));
  auto& client = *target.client;
  DFS_TRY(auto attr, client.run(client.resolve(target.path)));
  std::printf("%s: %u\n", target.path.c_str(), attr.goal());
  return {};
}

}  // namespace dfs::cli
