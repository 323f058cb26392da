// The CPU priority of a server process. Storage daemons share their machines with the programs
// they serve; a file system whose processes wait behind those programs for a CPU makes every one
// of their calls wait too (MooseFS runs its master, chunkservers and mounts at nice -19 for the
// same reason).
#pragma once

#include "lib/base/status.h"

namespace dfs {

// The nice level the master and chunkservers ask for unless told otherwise. (Not mounts: a
// mount's poll after work yields the CPU only to threads of at least its priority, and the
// programs it serves run at 0.)
inline constexpr int kServerNiceLevel = -19;

// Sets this process's nice level (-20..19). Call it before any thread starts: Linux keeps the
// level per thread, and a new thread takes its creator's.
Result<void> setNiceLevel(int nice);

// setNiceLevel for a server's main(): a level the process may not take (not root, no
// CAP_SYS_NICE) is logged as a warning and the server runs on at the level it has.
void setNiceLevelOrWarn(int nice);

// Makes the calling thread run only on CPU time nobody else wants (SCHED_IDLE): for background
// work that is never urgent (write-behind, spare files, garbage collection).
void runOnlyWhenIdle();

}  // namespace dfs
