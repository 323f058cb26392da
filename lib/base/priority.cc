#include "lib/base/priority.h"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace dfs {

Result<void> setNiceLevel(int nice) {
  if (nice < -20 || nice > 19) {
    return makeError(Code::kInvalid, "nice level " + std::to_string(nice) + " is not in -20..19");
  }
  if (::setpriority(PRIO_PROCESS, 0, nice) != 0) {
    return makeError(Code::kNotPermitted,
                     "cannot set nice level " + std::to_string(nice) + ": " + std::strerror(errno));
  }
  return {};
}

void setNiceLevelOrWarn(int nice) {
  if (auto set = setNiceLevel(nice); !set) {
    spdlog::warn("{}; running at nice level {}", set.error().message(),
                 ::getpriority(PRIO_PROCESS, 0));
  }
}

void runOnlyWhenIdle() {
  sched_param idle{};
  ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &idle);
}

}  // namespace dfs
