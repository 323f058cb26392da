// Closes-behind: closes that returned to the program once the file's data was stored on its
// replicas, before the commit that makes it part of the file (lib/client flushOnClose). A client that may close a file behind says so when it
// opens the file for writing: from then until it releases its last open of the file, it *holds*
// the file. Closes themselves cost no call. When another session opens or stats a held file,
// the master *recalls* it from each holder (delivered by the holder's WATCH_RECALLS call) and
// waits until the holder answers that every close it made before the recall has landed, so
// close-to-open holds across mounts and only a reader that meets a held file pays for it.
//
// Recall numbers come from one counter: an answer covers the recall it names and every earlier
// one, and an answer left over from an earlier hold can never satisfy a later recall. A reader
// that arrives while a recall is still waiting to be delivered shares it (the holder has not
// looked yet); one that arrives after delivery needs a new one, since the holder may have
// closed the file after it looked.
//
// Directories are held the same way, by the session that made them (MKDIR with hold): until
// another session adds a name to a held directory, the holder knows every name in it and answers
// lookups of other names itself. Adding a name recalls it, and the holder's answer lets go of it.
//
// Not journaled: a restarted master learns the file holds again when clients re-register their
// opens; clients forget their directory holds when they meet a restarted master.
// Not thread-safe: owned by the master's state thread.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dfs::master {

class ClosesBehind {
 public:
  struct Recall {
    uint64_t ino = 0;
    uint64_t number = 0;
  };
  // What a reader waits for: the holder's answer to recall `number`.
  struct Wait {
    uint64_t session_id = 0;
    uint64_t number = 0;
  };

  void hold(uint64_t ino, uint64_t session_id);
  // The session released its last open of ino, or ended: it holds nothing back any more.
  // Return true when it held something.
  bool dropFile(uint64_t ino, uint64_t session_id);
  bool dropSession(uint64_t session_id);
  // Every session, or every one but keep, lets go of ino (it was removed; a holder that did not
  // answer in time). Return true when one held it.
  bool dropInode(uint64_t ino);
  bool dropOthers(uint64_t ino, uint64_t keep);

  bool heldByOthers(uint64_t ino, uint64_t reader) const;
  // Recalls ino from every holder other than reader; returns what the reader must wait for.
  std::vector<Wait> recall(uint64_t ino, uint64_t reader);
  // Whether a wait is over: answered, or the holder let go of the file.
  bool satisfied(uint64_t ino, const Wait& wait) const;
  // Recalls queued for session, marked delivered.
  std::vector<Recall> takeRecalls(uint64_t session_id);
  bool hasRecalls(uint64_t session_id) const;
  // The holder's closes of ino made before recall `number` reached it have landed.
  // Returns true when it ended a wait.
  bool answer(uint64_t ino, uint64_t session_id, uint64_t number);

  bool empty() const { return by_ino_.empty(); }

 private:
  struct Hold {
    uint64_t requested = 0;  // the latest recall number asked of the holder
    uint64_t delivered = 0;  // the latest one handed to it
    uint64_t answered = 0;
  };

  uint64_t next_number_ = 1;
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, Hold>> by_ino_;  // ino -> session
  std::unordered_map<uint64_t, std::vector<Recall>> queued_;                 // session -> recalls
};

}  // namespace dfs::master
