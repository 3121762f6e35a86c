// A full disk on demand: a table of the warehouse moved to a tablespace on a
// small tmpfs (root only: mount), moved back and unmounted at the end.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "support/fixture.h"

namespace sluice::testing {

class small_disk {
 public:
  // Mounts a tmpfs of `size` (mount's syntax: "3M") under fx's work folder
  // and moves `table` onto it.
  small_disk(sluice_fixture& fx, std::string table, const std::string& size)
      : fx_(fx), table_(std::move(table)), dir_(fx.work() / "small-disk"),
        tablespace_("sluice_small_" + std::to_string(::getpid())) {
    REQUIRE(::geteuid() == 0);
    std::filesystem::create_directories(dir_);
    auto mounted = run_process({"/usr/bin/mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir_.string()},
                               fx_.work() / "mount.log", std::chrono::seconds(30));
    INFO(mounted.describe());
    REQUIRE(mounted.ok());
    mounted_ = true;
    REQUIRE(run_process({"/usr/bin/chown", "postgres:", dir_.string()}, fx_.work() / "chown.log",
                        std::chrono::seconds(30)).ok());
    fx_.db().exec("create tablespace " + tablespace_ + " location '" + dir_.string() + "'");
    fx_.db().exec("alter table " + table_ + " set tablespace " + tablespace_);
  }
  ~small_disk() {
    try {
      fx_.db().exec("alter table " + table_ + " set tablespace pg_default");
      fx_.db().exec("drop tablespace if exists " + tablespace_);
    } catch (...) {
    }
    if (mounted_) (void)run_process({"/usr/bin/umount", "-l", dir_.string()}, fx_.work() / "umount.log",
                                    std::chrono::seconds(30));
  }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;

  // Room again: the tmpfs grows to `size`.
  void grow(const std::string& size) {
    REQUIRE(run_process({"/usr/bin/mount", "-o", "remount,size=" + size, dir_.string()}, fx_.work() / "mount.log",
                        std::chrono::seconds(30)).ok());
  }

 private:
  sluice_fixture& fx_;
  std::string table_;
  std::filesystem::path dir_;
  std::string tablespace_;
  bool mounted_ = false;
};

}  // namespace sluice::testing
