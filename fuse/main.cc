// mount.dfs [HOST:PORT] MOUNTPOINT [-o OPTIONS] [-f]
// Mounts a DFS cluster. Follows the mount helper convention, so `mount -t dfs HOST:PORT DIR`
// works once mount.dfs is installed in /sbin. Without HOST:PORT the master address comes from
// /etc/dfs/client.toml (master = "HOST:PORT"), else 127.0.0.1:9600.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuse/kernel_readahead.h"
#include "fuse/operations.h"
#include "fuse/session_loop.h"
#include "lib/base/address.h"
#include "lib/base/buffer.h"
#include "lib/base/logging.h"
#include "lib/base/priority.h"
#include "lib/client/dfs_client.h"

namespace {

constexpr const char* kUsage =
    "usage: mount.dfs [HOST:PORT] MOUNTPOINT [-f] [-o opt,...]\n"
    "  -f                 stay in the foreground\n"
    "  -o log_file=PATH   log here (default: stderr in the foreground, else syslog-less quiet)\n"
    "  -o log_level=L     trace, debug, info, warn, error\n"
    "  -o fuse_threads=N  serve requests on N threads of their own (default 0: on the client's\n"
    "                     thread, no hand-over per request)\n"
    "  -o idle_spin_us=N  the client's thread polls N us after work before it sleeps (default\n"
    "                     50: cheaper than a wake-up on virtual machines; 0 turns it off)\n"
    "  -o nice=N          CPU priority of the mount's threads (default: as started; its poll\n"
    "                     after work yields the CPU only to programs of at least its priority)\n"
    "  -o close_behind=0|1  a small file's close returns once its data is stored, before its\n"
    "                     commit; other mounts' opens wait for the commit (default 1)\n"
    "  -o commit_linger_ms=N  how long such a commit waits for others to go with it, unless\n"
    "                     someone waits for the file (default 5)\n"
    "  -o direct_writes=0|1  write-only opens bypass the kernel's page cache (default 1)\n"
    "  other -o options are passed to FUSE (e.g. ro; allow_other and default_permissions\n"
    "                     are always set)\n";

std::string defaultMaster() {
  try {
    auto config = toml::parse_file("/etc/dfs/client.toml");
    if (auto master = config["master"].value<std::string>()) return *master;
  } catch (const toml::parse_error&) {
  }
  return "127.0.0.1:9600";
}

struct MountArgs {
  std::string master;
  std::string mount_point;
  bool foreground = false;
  std::string log_file;
  std::string log_level = "info";
  int fuse_threads = 0;
  int idle_spin_us = -1;  // the client library's default
  bool close_behind = true;
  int commit_linger_ms = -1;  // the client library's default
  bool direct_writes = true;
  std::optional<int> nice;
  std::vector<std::string> fuse_options;
};

bool parseArgs(int argc, char** argv, MountArgs* args) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-f") {
      args->foreground = true;
    } else if (arg == "-o" && i + 1 < argc) {
      std::string list = argv[++i];
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string option = list.substr(start, comma == std::string::npos ? comma : comma - start);
        if (option.starts_with("log_file=")) {
          args->log_file = option.substr(9);
        } else if (option.starts_with("log_level=")) {
          args->log_level = option.substr(10);
        } else if (option.starts_with("fuse_threads=")) {
          args->fuse_threads = std::atoi(option.c_str() + 13);
        } else if (option.starts_with("idle_spin_us=")) {
          args->idle_spin_us = std::clamp(std::atoi(option.c_str() + 13), 0, 10000);
        } else if (option.starts_with("nice=")) {
          args->nice = std::atoi(option.c_str() + 5);
        } else if (option.starts_with("close_behind=")) {
          args->close_behind = std::atoi(option.c_str() + 13) != 0;
        } else if (option.starts_with("commit_linger_ms=")) {
          args->commit_linger_ms = std::clamp(std::atoi(option.c_str() + 17), 0, 3'600'000);
        } else if (option.starts_with("direct_writes=")) {
          args->direct_writes = std::atoi(option.c_str() + 14) != 0;
        } else if (!option.empty() && option != "rw" && option != "defaults" &&
                   option != "allow_other" && option != "default_permissions") {
          args->fuse_options.push_back(option);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (arg == "-h" || arg == "--help") {
      return false;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "mount.dfs: unknown flag %s\n", arg.c_str());
      return false;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() == 1) {
    args->master = defaultMaster();
    args->mount_point = positional[0];
  } else if (positional.size() == 2) {
    args->master = positional[0];
    args->mount_point = positional[1];
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  dfs::keepLargeBuffersInHeap();
  MountArgs args;
  if (!parseArgs(argc, argv, &args)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto master = dfs::parseHostPort(args.master);
  if (!master) {
    std::fprintf(stderr, "mount.dfs: %s\n", master.error().toString().c_str());
    return 2;
  }
  std::error_code ec;
  std::string mount_point = std::filesystem::canonical(args.mount_point, ec).string();
  if (ec) {
    std::fprintf(stderr, "mount.dfs: mount point %s: %s\n", args.mount_point.c_str(),
                 ec.message().c_str());
    return 2;
  }
  if (!args.log_file.empty()) {
    auto logger = spdlog::basic_logger_mt("mount", args.log_file);
    logger->set_level(spdlog::level::from_str(args.log_level));
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$ %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  } else {
    dfs::setupLogging("mount", args.log_level);
  }
  // Before the first thread starts (the probe below): threads take their creator's level.
  if (args.nice) dfs::setNiceLevelOrWarn(*args.nice);

  dfs::client::ClientOptions client_options;
  client_options.master = *master;
  client_options.mount_point = mount_point;
  if (args.idle_spin_us >= 0) client_options.idle_spin = std::chrono::microseconds(args.idle_spin_us);
  client_options.close_behind = args.close_behind;
  if (args.commit_linger_ms >= 0) {
    client_options.commit_behind_linger = std::chrono::milliseconds(args.commit_linger_ms);
  }
  client_options.changes_behind = args.close_behind;
  {
    // Fail the mount command itself when the cluster is unreachable, before going background.
    dfs::client::ClientOptions probe_options = client_options;
    probe_options.retry_window = std::chrono::milliseconds(3000);
    probe_options.close_behind = probe_options.changes_behind = false;  // reserves nothing
    auto probe = dfs::client::DfsClient::connect(probe_options);
    if (!probe) {
      std::fprintf(stderr, "mount.dfs: cannot reach master %s: %s\n", args.master.c_str(),
                   probe.error().toString().c_str());
      return 1;
    }
  }
  client_options.retry_window = std::chrono::milliseconds(60000);

  // The kernel checks every permission (with POSIX ACLs, fuse/operations.cc onInit), on every
  // path, against the attributes it keeps for attr_timeout: as close to a local file system as
  // a network one gets (another mount's chmod shows within that time, as on NFS).
  std::string options = "allow_other,default_permissions,fsname=" + args.master + ",subtype=dfs";
  for (const auto& option : args.fuse_options) options += "," + option;
  std::vector<const char*> fuse_argv = {"mount.dfs", "-o", options.c_str()};
  fuse_args fuse_arguments = FUSE_ARGS_INIT(static_cast<int>(fuse_argv.size()),
                                            const_cast<char**>(fuse_argv.data()));
  dfs::fuse::MountContext context;
  fuse_session* session = fuse_session_new(&fuse_arguments, &dfs::fuse::operations(),
                                           sizeof(fuse_lowlevel_ops), &context);
  if (!session) return 1;
  if (fuse_session_mount(session, mount_point.c_str()) != 0) {
    fuse_session_destroy(session);
    return 1;
  }
  if (auto raised = dfs::fuse::setKernelReadahead(mount_point, dfs::fuse::kMaxReadahead >> 10);
      !raised) {
    spdlog::warn("kernel read-ahead left at its default: {}", raised.error().toString());
  }
  fuse_daemonize(args.foreground ? 1 : 0);
  // The client's thread is started after daemonizing: threads do not survive fork().
  auto client = dfs::client::DfsClient::connect(client_options);
  if (!client) {
    spdlog::error("cannot reach master {}: {}", args.master, client.error().toString());
    fuse_session_unmount(session);
    fuse_session_destroy(session);
    return 1;
  }
  context.client = client->get();
  context.session = session;
  context.direct_writes = args.direct_writes;
  auto invalidator = std::make_unique<dfs::fuse::CacheInvalidator>(session);
  context.invalidator = invalidator.get();
  auto filler = std::make_unique<dfs::fuse::PageCacheFiller>(session);
  context.filler = filler.get();
  // Another mount's closed change of a file open here: pages read before it are not stored,
  // and the kernel's cached pages and size of the file are dropped.
  (*client)->setRemoteChangeHandler([filler = filler.get(), invalidator = invalidator.get()](
                                        uint64_t ino) {
    filler->changed(ino);
    invalidator->invalidateThen(ino, [] {});
  });
  spdlog::info("mounted {} at {} (session {})", args.master, mount_point, (*client)->sessionId());
  int rc = 0;
  if (args.fuse_threads <= 0) {
    rc = dfs::fuse::runSessionOnClientThread(session, **client);
  } else {
    fuse_set_signal_handlers(session);
    fuse_loop_config* loop_config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(loop_config, static_cast<unsigned>(args.fuse_threads));
    fuse_loop_cfg_set_idle_threads(loop_config, static_cast<unsigned>(args.fuse_threads));
    rc = fuse_session_loop_mt(session, loop_config) == 0 ? 0 : 1;
    fuse_loop_cfg_destroy(loop_config);
    fuse_remove_signal_handlers(session);
  }

  fuse_session_unmount(session);
  client->reset();
  invalidator.reset();
  filler.reset();
  fuse_session_destroy(session);
  spdlog::info("unmounted {}", mount_point);
  return rc == 0 ? 0 : 1;
}
