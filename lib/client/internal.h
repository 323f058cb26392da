// Private to lib/client: per-file state and the master call wrapper shared by its .cc files.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "lib/rpc/async_event.h"
#include "lib/client/dfs_client.h"
#include "lib/client/extent_buffer.h"

namespace dfs::client {

struct WriteChunk {
  proto::ChunkLocation location;
  bool created = false;  // replicas may not exist yet: writes create them
  // The master's lease lasts 60 s; it is renewed well before, so that no repair copies a chunk
  // this client is still writing.
  std::chrono::steady_clock::time_point leased_at = std::chrono::steady_clock::now();
};

struct DfsClient::ReadAheadPiece {
  std::string data;
  bool done = false;
  Status error;
};

// What this client knows and holds of one file. Lives on the client's thread.
struct DfsClient::FileState {
  FileState(uint64_t ino, boost::asio::any_io_executor executor, size_t max_extent)
      : ino(ino), buffer(max_extent), changed(executor) {}

  uint64_t ino;
  uint32_t opens = 0;
  // As the master said (at open, and in any later answer while this client changes nothing of
  // the file: another mount's closed appends and truncates), grown by local writes.
  uint64_t size = 0;
  bool size_known = false;
  bool dirty = false;        // written since the last commit to the master
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // of this client's last change not yet committed (sent with the commit)
  // Counts this client's changes of the file's size and data (DfsClient::noteLocalChange).
  uint64_t local_epoch = 0;
  // The size as the master last said (open, commit, truncate, another mount's change adopted).
  uint64_t master_size = 0;
  uint64_t changes = 0;  // counts writes and held-back changes: a commit that saw them all
                         // may clear dirty, one that raced with more may not
  // The attributes as the master last said, with the changes held back for the next commit
  // (deferred_attrs.h) applied; unknown until an open or create.
  std::optional<proto::Attr> attr;
  std::chrono::steady_clock::time_point attr_at;  // when the master last said
  std::optional<uint32_t> held_mode;              // permission bits
  std::optional<int64_t> held_atime_ns;

  ExtentBuffer buffer;  // written, not yet queued
  std::deque<std::map<uint64_t, std::string>> queue;  // batches waiting for the writer
  bool writer_running = false;
  // Chunk writes under way, as [offset, end): a piece waits while it overlaps one of them (a
  // later write of the same bytes must land last).
  std::map<uint64_t, uint64_t> pieces_in_flight;
  Status error;  // of a background write, reported by the next write/flush/fsync
  uint32_t closes_behind = 0;     // closes whose commit is still under way
  bool held = false;              // the master knows this client may close the file behind
  uint64_t changes_behind = 0;    // changes when the last close-behind began
  bool release_with_commit = false;   // a release waits: the close-behind's commit may carry it
  bool released_with_commit = false;  // ... and did
  // Created here, and nothing of it written out or located yet: its close may store it in a
  // reserved chunk (DfsClient::storeInReservedChunk).
  bool fresh = false;
  // The reserved chunk its data went to at a close, until a commit names it (it is the file's
  // chunk 0 from then on).
  proto::ChunkLocation reserved_chunk;  // chunk_id 0: none
  // The size its stored data reaches (a close stored it; its commit may still be on its way):
  // what a later failed write falls back to, with the master's size.
  uint64_t stored_size = 0;

  std::unordered_map<uint64_t, WriteChunk> write_chunks;                   // leases held
  std::set<uint64_t> locating;  // chunk indexes whose write location is being asked for
  std::map<uint64_t, std::optional<proto::ChunkLocation>> read_chunks;     // nullopt = hole
  std::set<uint64_t> unsynced_chunks;  // written since the last fsync
  rpc::AsyncEvent changed;                  // writer progress, read-ahead pieces arriving

  // Data read ahead of a sequential reader, in pieces of kReadAheadPiece bytes.
  struct ReadAhead {
    uint64_t next_offset = 0;  // where a sequential reader continues
    int streak = 0;            // reads in a row that continued the previous one
    uint64_t window = 0;       // bytes read ahead of the reader; doubles while it stays sequential
    std::map<uint64_t, std::shared_ptr<DfsClient::ReadAheadPiece>> pieces;  // by file offset
  };
  ReadAhead readahead;

  bool hasUnsentData() const { return !buffer.empty() || !queue.empty() || writer_running; }
  // This client's own changes are under way: the master's size is not the file's yet.
  bool changingLocally() const {
    return dirty || hasUnsentData() || closes_behind > 0 || !pieces_in_flight.empty();
  }
  void learnAttr(const proto::Attr& from_master) {
    attr = from_master;
    attr_at = std::chrono::steady_clock::now();
  }
};


bool isRetriable(Code code);

template <class Reply>
Task<Reply> DfsClient::masterCall(proto::Method method, const google::protobuf::Message& request) {
  if (wrong_cluster_ && method != proto::KEEP_ALIVE && method != proto::CREATE_SESSION) {
    co_return makeError(Code::kWrongCluster, "the master serves another cluster");
  }
  if (changes_landed_ < changes_queued_ && followsChangesBehind(method)) {
    co_await settleChangesBehind();
  }
  if (!changesNothingListed(method)) master_changes_++;
  auto deadline = std::chrono::steady_clock::now() + options_.retry_window;
  uint64_t request_id = next_request_id_++;
  std::chrono::milliseconds backoff(20);
  int session_renewals = 0;
  for (;;) {
    rpc::CallOptions call_options;
    call_options.timeout = options_.call_timeout;
    call_options.session_id = session_id_;
    call_options.request_id = request_id;
    auto reply = co_await master_->call<Reply>(method, request, call_options);
    if (reply) co_return reply;
    Code code = reply.error().code();
    if (code == Code::kSessionExpired && method != proto::CREATE_SESSION &&
        session_renewals++ < 3) {
      auto renewed = co_await openSession();
      if (!renewed) co_return std::unexpected(renewed.error());
      continue;
    }
    if (!isRetriable(code) || stopping_ || std::chrono::steady_clock::now() + backoff > deadline) {
      co_return reply;
    }
    boost::asio::steady_timer timer(io_, backoff);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace dfs::client
