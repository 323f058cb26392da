// Closes-behind: closes that returned to the program before the file's data was written and
// committed (lib/client flushOnClose). A client announces one before its close returns and says
// when it landed (with the commit, or alone when there was nothing left to commit). Until then
// another session's open or stat of the file waits, so close-to-open holds across mounts.
//
// Each client numbers its closes-behind of a file; a landing covers every close up to its
// number, so a retried announcement or a landing overtaken by a newer close is harmless.
// Not journaled: a restarted master knows of none (the clients' commits follow within moments).
// Not thread-safe: owned by the master's state thread.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace dfs::master {

class ClosesBehind {
 public:
  void announce(uint64_t ino, uint64_t session_id, uint64_t seq);
  // Returns true when this ended the session's last pending close of ino.
  bool land(uint64_t ino, uint64_t session_id, uint64_t seq);
  // The session released its last open of ino, or ended: nothing of it is pending any more.
  // Return true when something was pending.
  bool dropFile(uint64_t ino, uint64_t session_id);
  bool dropSession(uint64_t session_id);

  // Whether a session other than reader has announced a close of ino that has not landed.
  bool pendingForOthers(uint64_t ino, uint64_t reader) const;
  bool empty() const { return by_ino_.empty(); }

 private:
  // ino -> session -> highest seq announced
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, uint64_t>> by_ino_;
};

}  // namespace dfs::master
