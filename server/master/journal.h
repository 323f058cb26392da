// The master's journal: every metadata record, framed (log_format.h) and written to the OS
// before its reply, so a killed master loses nothing acknowledged. A sync thread fdatasyncs the
// journal by group commit: one sync covers every record written before it, and durable(seq)
// completes when a sync has covered seq. Nobody waiting, the thread lets records gather for up
// to sync_delay before it syncs; a durable() call (an fsync) has it sync at once. Each sync is a
// disk flush, costly on virtual disks, so one per mutation would cost more than the mutation.
// Segments are files journal.<first seq, 16 hex digits>; a checkpoint starts a new one so older
// ones can go.
//
// Threading: append(), rotate() and durable() run on the master's state thread (the executor
// given to open()); only the sync thread touches the disk besides append's write().
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/status.h"
#include "lib/rpc/async_event.h"
#include "proto/master.pb.h"
#include "server/master/log_format.h"

namespace dfs::master {

struct JournalSegment {
  uint64_t first_seq = 0;
  std::string path;
};

class Journal {
 public:
  // Starts a new segment whose first record will be next_seq.
  static Result<std::unique_ptr<Journal>> open(
      const std::string& dir, uint64_t next_seq, boost::asio::any_io_executor executor,
      std::chrono::milliseconds sync_delay = std::chrono::milliseconds(0));
  ~Journal();

  // Sets record.seq, frames the record and writes it to the current segment.
  Result<uint64_t> append(proto::MetaRecord& record);
  // Completes when every record up to seq is on disk.
  boost::asio::awaitable<Result<void>> durable(uint64_t seq);
  uint64_t lastSeq() const { return last_seq_; }
  uint64_t syncedSeq() const { return synced_seq_.load(); }
  uint64_t syncCount() const { return sync_count_.load(); }

  // Syncs the current segment and starts a new one at lastSeq() + 1.
  Result<void> rotate();
  // Deletes segments all of whose records are below seq.
  void removeSegmentsBefore(uint64_t seq);

  static std::vector<JournalSegment> listSegments(const std::string& dir);
  static std::string segmentPath(const std::string& dir, uint64_t first_seq);

 private:
  struct File {
    explicit File(int fd) : fd(fd) {}
    ~File();
    int fd;
  };

  Journal(std::string dir, uint64_t next_seq, boost::asio::any_io_executor executor,
          std::chrono::milliseconds sync_delay);
  Result<void> openSegment(uint64_t first_seq);
  void syncLoop();

  std::string dir_;
  boost::asio::any_io_executor executor_;
  std::chrono::milliseconds sync_delay_;
  rpc::AsyncEvent synced_event_;  // notified on the state thread after each sync
  uint64_t last_seq_;
  uint64_t segment_first_seq_ = 0;
  std::unique_ptr<LogWriter> writer_;
  Status failure_;  // once the journal failed, nothing more may be acknowledged

  std::mutex mutex_;  // guards the fields up to stopping_ (with cv_)
  std::condition_variable cv_;
  std::shared_ptr<File> file_;
  uint64_t written_seq_ = 0;
  uint64_t wanted_seq_ = 0;  // the highest seq a durable() call waits for
  bool sync_idle_ = false;   // the sync thread waits for records (append must wake it)
  bool stopping_ = false;
  std::atomic<uint64_t> synced_seq_{0};
  std::atomic<uint64_t> sync_count_{0};
  std::atomic<bool> sync_failed_{false};
  std::thread sync_thread_;
};

}  // namespace dfs::master
