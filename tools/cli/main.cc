// dfs: the DFS command line tool.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "tools/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"dfs: use and inspect a DFS cluster"};
  app.require_subcommand(1);
  dfs::cli::GlobalOptions global;
  app.add_option("--master", global.master,
                 "HOST:PORT of the master; default: the cluster mounted at the path");
  spdlog::set_level(spdlog::level::err);

  std::string path, local, remote, to;
  bool flag = false;
  uint64_t offset = 0, length = 0;
  std::function<dfs::Result<void>()> action;
  std::string name;

  auto* ls = app.add_subcommand("ls", "list a directory");
  ls->add_option("path", path)->required();
  ls->add_flag("-l", flag, "long format");
  ls->callback([&] { action = [&] { return dfs::cli::ls(global, path, flag); }; });

  auto* stat = app.add_subcommand("stat", "show a file's attributes");
  stat->add_option("path", path)->required();
  stat->callback([&] { action = [&] { return dfs::cli::stat(global, path); }; });

  auto* mkdir = app.add_subcommand("mkdir", "create a directory");
  mkdir->add_option("path", path)->required();
  mkdir->add_flag("-p", flag, "create parents, no error if it exists");
  mkdir->callback([&] { action = [&] { return dfs::cli::mkdir(global, path, flag); }; });

  auto* put = app.add_subcommand("put", "copy a local file into the cluster");
  put->add_option("local", local)->required();
  put->add_option("remote", remote)->required();
  put->callback([&] { action = [&] { return dfs::cli::put(global, local, remote); }; });

  auto* get = app.add_subcommand("get", "copy a file out of the cluster ('-' for stdout)");
  get->add_option("remote", remote)->required();
  get->add_option("local", local)->required();
  get->callback([&] { action = [&] { return dfs::cli::get(global, remote, local); }; });

  auto* getrange = app.add_subcommand("getrange", "write LENGTH bytes at OFFSET of a file to stdout");
  getrange->add_option("remote", remote)->required();
  getrange->add_option("offset", offset)->required();
  getrange->add_option("length", length)->required();
  getrange->callback([&] { action = [&] { return dfs::cli::getRange(global, remote, offset, length); }; });

  auto* mv = app.add_subcommand("mv", "rename or move");
  mv->add_option("from", path)->required();
  mv->add_option("to", to)->required();
  mv->callback([&] { action = [&] { return dfs::cli::mv(global, path, to); }; });

  auto* rm = app.add_subcommand("rm", "remove a file (-r: a tree)");
  rm->add_option("path", path)->required();
  rm->add_flag("-r", flag, "remove directories and their contents");
  rm->callback([&] { action = [&] { return dfs::cli::rm(global, path, flag); }; });

  auto* info = app.add_subcommand("info", "show a file's chunks, versions and replicas");
  info->add_option("path", path)->required();
  info->callback([&] { action = [&] { return dfs::cli::info(global, path); }; });

  auto* status = app.add_subcommand("status", "chunkservers, space, files and chunks");
  status->add_option("path", path, "a path on the cluster's mount (or use --master)");
  status->callback([&] { action = [&] { return dfs::cli::status(global, path); }; });

  auto* locks = app.add_subcommand("locks", "holders and waiters of locks (a file, or all)");
  locks->add_option("path", path, "a file, or a directory for every file (or use --master)");
  locks->callback([&] { action = [&] { return dfs::cli::locks(global, path); }; });

  auto* fsck = app.add_subcommand("fsck", "check files' chunks (--verify: read every replica)");
  fsck->add_option("path", path, "a path on a DFS mount (or a cluster path with --master)");
  fsck->add_flag("--verify", flag, "read every replica, check CRCs and compare SHA-256");
  fsck->callback([&] { action = [&] { return dfs::cli::fsck(global, path.empty() ? "/" : path, flag); }; });

  uint32_t goal = 0;
  auto* setgoal = app.add_subcommand("setgoal", "set replicas per chunk of a file or directory");
  setgoal->add_option("goal", goal)->required();
  setgoal->add_option("path", path)->required();
  setgoal->add_flag("-r", flag, "a directory and everything below it");
  setgoal->callback([&] { action = [&] { return dfs::cli::setGoal(global, path, goal, flag); }; });

  auto* getgoal = app.add_subcommand("getgoal", "show replicas per chunk of a file or directory");
  getgoal->add_option("path", path)->required();
  getgoal->callback([&] { action = [&] { return dfs::cli::getGoal(global, path); }; });

  CLI11_PARSE(app, argc, argv);
  name = app.get_subcommands().front()->get_name();
  auto result = action();
  if (!result) return dfs::cli::report(name, result.error());
  return 0;
}
