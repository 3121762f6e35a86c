// Packs without a server: file names and versions, the built-in packs, reading
// a user's pack folder, which packs migrate chooses and in what order, and what
// is left to apply.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>

#include "support/temp_dir.h"
#include "warehouse/packs.h"

using namespace sluice::warehouse;

namespace {

pack user_pack(const std::string& name, std::vector<std::pair<std::string, std::string>> files = {
                                            {"0001_staging.sql", "select 1;"}}) {
  return make_pack(name, pack_source::dir, "/packs/" + name, std::move(files));
}

std::vector<std::string> names_of(const pack_selection& selection) {
  std::vector<std::string> out;
  for (const auto* p : selection.packs) out.push_back(p->name);
  return out;
}

// Built-in packs of a made-up release, so the tests do not follow sql/.
std::vector<pack> fake_builtins() {
  std::vector<pack> out;
  out.push_back(make_pack("sluice", pack_source::builtin, {}, {{"0001_bookkeeping.sql", "a"}}));
  out.push_back(make_pack("hubdoc", pack_source::builtin, {}, {{"0101_staging.sql", "b"}}));
  out.push_back(make_pack("pleo", pack_source::builtin, {}, {{"0201_staging.sql", "c"}}));
  out.push_back(make_pack("sales", pack_source::builtin, {}, {{"0301_staging.sql", "d"}}));
  return out;
}

installed_pack builtin_installed(const std::string& name) { return {name, pack_source::builtin, ""}; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pack_error& e) {
    return e.what();
  }
  return "(no pack_error)";
}

}  // namespace

TEST_CASE("a migration's version is the number before the first underscore", "[warehouse][packs]") {
  CHECK(migration_version("0101_staging.sql") == 101);
  CHECK(migration_version("0001_bookkeeping.sql") == 1);
  CHECK(migration_version("7_a.sql") == 7);
  CHECK(migration_version("0002_two_words.sql") == 2);
  CHECK(migration_version("123456789_max.sql") == 123456789);
}

TEST_CASE("file names that are not NNNN_description.sql have no version", "[warehouse][packs]") {
  for (const char* name : {"staging.sql", "_staging.sql", "0101staging.sql", "0101_.sql", "0101_staging.txt",
                           "0101_staging.sql.bak", "0000_zero.sql", "1234567890_too_long.sql", "a0101_x.sql",
                           "", "0101_staging"}) {
    INFO(name);
    CHECK_FALSE(migration_version(name).has_value());
  }
}

TEST_CASE("a pack's migrations are sorted by version, not by file name", "[warehouse][packs]") {
  auto p = user_pack("mine", {{"10_ten.sql", "x"}, {"0002_two.sql", "y"}, {"0001_one.sql", "z"}});
  REQUIRE(p.migrations.size() == 3);
  CHECK(p.migrations[0].version == 1);
  CHECK(p.migrations[1].version == 2);
  CHECK(p.migrations[2].version == 10);
  CHECK(p.migrations[2].origin == "/packs/mine/10_ten.sql");
  CHECK(p.migrations[0].pack == "mine");
  CHECK(p.migrations[0].checksum.size() == 16);
  CHECK(p.migrations[0].checksum != p.migrations[1].checksum);
}

TEST_CASE("two files of one pack with the same version are refused, both named", "[warehouse][packs]") {
  auto message = error_of([] { (void)user_pack("mine", {{"0001_a.sql", "x"}, {"001_b.sql", "y"}}); });
  CHECK_THAT(message, Catch::Contains("/packs/mine/0001_a.sql") && Catch::Contains("/packs/mine/001_b.sql") &&
                          Catch::Contains("share version 1"));
}

TEST_CASE("a badly named migration file is refused with its path and the expected form", "[warehouse][packs]") {
  auto message = error_of([] { (void)user_pack("mine", {{"staging.sql", "x"}}); });
  CHECK_THAT(message, Catch::Contains("/packs/mine/staging.sql") && Catch::Contains("NNNN_description.sql"));
}

TEST_CASE("a pack needs a name of letters, digits, _ and -, other than all", "[warehouse][packs]") {
  CHECK_NOTHROW(user_pack("my_pack-2"));
  for (const char* name : {"", "all", "My", "a,b", "a b", "-x", "_x"}) {
    INFO(name);
    CHECK_THROWS_AS(user_pack(name), pack_error);
  }
}

TEST_CASE("the built-in packs start with the sluice pack, then go by name", "[warehouse][packs]") {
  const auto& packs = builtin_packs();
  REQUIRE(packs.size() >= 2);
  CHECK(packs.front().name == "sluice");
  CHECK(packs.front().migrations.front().file == "0001_bookkeeping.sql");
  CHECK(packs.front().migrations.front().origin == "sql/sluice/0001_bookkeeping.sql");
  CHECK(std::is_sorted(packs.begin() + 1, packs.end(),
                       [](const pack& a, const pack& b) { return a.name < b.name; }));
  std::set<std::string> names;
  for (const auto& p : packs) {
    CHECK(names.insert(p.name).second);
    CHECK(p.source == pack_source::builtin);
    CHECK_FALSE(p.migrations.empty());
    for (const auto& m : p.migrations) {
      CHECK(m.pack == p.name);
      CHECK_FALSE(m.sql.empty());
    }
  }
}

TEST_CASE("the Hubdoc pack is built in with its feed declaration at version 1", "[warehouse][packs]") {
  const auto& packs = builtin_packs();
  auto hubdoc = std::find_if(packs.begin(), packs.end(), [](const pack& p) { return p.name == "hubdoc"; });
  REQUIRE(hubdoc != packs.end());
  CHECK(hubdoc->migrations.front().version == 1);
  CHECK(hubdoc->migrations.front().file == "0001_staging.sql");
  CHECK(hubdoc->migrations.front().sql.find("insert into sluice.feeds") != std::string::npos);
}

TEST_CASE("every built-in pack is numbered from 0001, one version after another", "[warehouse][packs]") {
  for (const auto& p : builtin_packs()) {
    int expected = 1;
    for (const auto& m : p.migrations) {
      INFO(m.origin);
      CHECK(m.version == expected);
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "%04d_", expected);
      CHECK(m.file.starts_with(prefix));
      ++expected;
    }
  }
}

TEST_CASE("the ancestors of built-in migrations name files of this binary, and no applied name clashes with one now",
          "[warehouse][packs]") {
  const auto& ancestors = builtin_migration_ancestors();
  REQUIRE_FALSE(ancestors.empty());
  for (const auto& a : ancestors) {
    INFO(a.pack + "/" + a.applied_as);
    REQUIRE(a.now != nullptr);
    CHECK(a.now->pack == a.pack);
    CHECK(migration_version(a.applied_as) == a.applied_version);
    CHECK((a.applied_as != a.now->file || a.applied_checksum != a.now->checksum));
    // Converting a row to `now` must not meet a row of another file: an
    // applied version of an ancestor is no other file's version now.
    for (const auto& p : builtin_packs()) {
      if (p.name != a.pack) continue;
      for (const auto& m : p.migrations) {
        if (&m != a.now) CHECK(m.version != a.applied_version);
      }
    }
  }
}

TEST_CASE("a pack folder is read by its .sql files and named after the folder", "[warehouse][packs]") {
  sluice::testing::temp_dir tmp;
  auto dir = tmp.path() / "billing";
  sluice::testing::write_in_place(dir / "0002_core.sql", "create table core.x ();");
  sluice::testing::write_in_place(dir / "0001_staging.sql", "create table staging.x ();");
  sluice::testing::write_in_place(dir / "README.md", "not a migration");
  sluice::testing::write_in_place(dir / ".0003_hidden.sql", "ignored");
  sluice::testing::write_in_place(dir / "old" / "0004_nested.sql", "ignored");
  auto p = read_pack_dir(dir.string() + "/");  // a trailing slash does not change the name
  CHECK(p.name == "billing");
  CHECK(p.source == pack_source::dir);
  CHECK(p.dir == std::filesystem::canonical(dir));
  REQUIRE(p.migrations.size() == 2);
  CHECK(p.migrations[0].file == "0001_staging.sql");
  CHECK(p.migrations[0].sql == "create table staging.x ();");
  CHECK(p.migrations[1].origin == (std::filesystem::canonical(dir) / "0002_core.sql").string());
}

TEST_CASE("a missing or empty pack folder is refused with its path", "[warehouse][packs]") {
  sluice::testing::temp_dir tmp;
  CHECK_THAT(error_of([&] { (void)read_pack_dir(tmp.path() / "nope"); }),
             Catch::Contains("nope") && Catch::Contains("no such folder"));
  std::filesystem::create_directories(tmp.path() / "empty");
  CHECK_THAT(error_of([&] { (void)read_pack_dir(tmp.path() / "empty"); }),
             Catch::Contains("empty") && Catch::Contains("holds no migration"));
}

TEST_CASE("pack selection: a new warehouse without --packs gets every built-in pack", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto mine = std::vector{user_pack("mine")};
  auto selection = select_packs(builtins, mine, std::nullopt, {});
  CHECK(names_of(selection) == std::vector<std::string>{"sluice", "hubdoc", "pleo", "sales", "mine"});
}

TEST_CASE("pack selection: without --packs a warehouse keeps to the packs it has", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto selection = select_packs(builtins, {}, std::nullopt,
                                {builtin_installed("sluice"), builtin_installed("pleo")});
  CHECK(names_of(selection) == std::vector<std::string>{"sluice", "pleo"});
  REQUIRE_FALSE(selection.notes.empty());
  CHECK_THAT(selection.notes.back(), Catch::Contains("not installed: hubdoc, sales"));
}

TEST_CASE("pack selection: sluice first, installed packs, then named ones in the order given",
          "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto mine = std::vector{user_pack("mine"), user_pack("other")};
  auto selection = select_packs(builtins, mine, std::vector<std::string>{"mine", "sales", "sluice"},
                                {builtin_installed("sluice"), builtin_installed("pleo")});
  CHECK(names_of(selection) == std::vector<std::string>{"sluice", "pleo", "mine", "sales", "other"});
}

TEST_CASE("pack selection: all names every built-in pack by name and an empty name chooses none",
          "[warehouse][packs]") {
  auto builtins = fake_builtins();
  CHECK(names_of(select_packs(builtins, {}, std::vector<std::string>{"sales", "all"}, {})) ==
        std::vector<std::string>{"sluice", "sales", "hubdoc", "pleo"});
  CHECK(names_of(select_packs(builtins, {}, std::vector<std::string>{""}, {})) ==
        std::vector<std::string>{"sluice"});
  CHECK(names_of(select_packs(builtins, {}, std::vector<std::string>{"sluice"}, {})) ==
        std::vector<std::string>{"sluice"});
}

TEST_CASE("pack selection: an unknown name is refused, naming the known packs", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto mine = std::vector{user_pack("mine")};
  auto message = error_of([&] { (void)select_packs(builtins, mine, std::vector<std::string>{"nosuch"}, {}); });
  CHECK_THAT(message, Catch::Contains("nosuch") && Catch::Contains("sluice, hubdoc, pleo, sales") &&
                          Catch::Contains("mine (--pack-dir)") && Catch::Contains("--pack-dir DIR"));
}

TEST_CASE("pack selection: a user pack may not take a built-in pack's name", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto clash = std::vector{user_pack("hubdoc")};
  CHECK_THAT(error_of([&] { (void)select_packs(builtins, clash, std::nullopt, {}); }),
             Catch::Contains("/packs/hubdoc") && Catch::Contains("built-in pack") &&
                 Catch::Contains("rename the folder"));
  auto sluice = std::vector{user_pack("sluice")};
  CHECK_THROWS_AS(select_packs(builtins, sluice, std::nullopt, {}), pack_error);
}

TEST_CASE("pack selection: two pack folders with one name are refused", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto twice = std::vector{user_pack("mine"), make_pack("mine", pack_source::dir, "/elsewhere/mine",
                                                        {{"0001_a.sql", "x"}})};
  CHECK_THAT(error_of([&] { (void)select_packs(builtins, twice, std::nullopt, {}); }),
             Catch::Contains("/packs/mine") && Catch::Contains("/elsewhere/mine"));
}

TEST_CASE("pack selection: an installed user pack not given is left as it is, with a note", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto selection = select_packs(builtins, {}, std::nullopt,
                                {builtin_installed("sluice"), {"mine", pack_source::dir, "/packs/mine"}});
  CHECK(names_of(selection) == std::vector<std::string>{"sluice"});
  REQUIRE_FALSE(selection.notes.empty());
  CHECK_THAT(selection.notes.front(), Catch::Contains("mine") && Catch::Contains("left as it is") &&
                                          Catch::Contains("--pack-dir /packs/mine"));
}

TEST_CASE("pending migrations: what is missing, pack by pack, in version order", "[warehouse][packs]") {
  auto builtins = fake_builtins();
  auto mine = user_pack("mine", {{"0001_a.sql", "a"}, {"0002_b.sql", "b"}, {"0003_c.sql", "c"}});
  std::vector<const pack*> packs{&builtins[0], &mine};
  std::vector<applied_migration> applied{{"sluice", 1, "0001_bookkeeping.sql", builtins[0].migrations[0].checksum},
                                         {"mine", 1, "0001_a.sql", mine.migrations[0].checksum},
                                         {"hubdoc", 101, "0101_staging.sql", "not looked at"}};
  auto pending = pending_migrations(packs, applied);
  REQUIRE(pending.size() == 2);
  CHECK(pending[0]->file == "0002_b.sql");
  CHECK(pending[1]->file == "0003_c.sql");
}

TEST_CASE("pending migrations: an applied file that changed is refused, naming it", "[warehouse][packs]") {
  auto mine = user_pack("mine", {{"0001_a.sql", "edited"}, {"0002_b.sql", "b"}});
  std::vector<const pack*> packs{&mine};
  std::vector<applied_migration> applied{{"mine", 1, "0001_a.sql", "0123456789abcdef"}};
  auto message = error_of([&] { (void)pending_migrations(packs, applied); });
  CHECK_THAT(message, Catch::Contains("/packs/mine/0001_a.sql was changed after it was applied") &&
                          Catch::Contains("add a new migration") && Catch::Contains("nothing was applied"));
}

TEST_CASE("pending migrations: an applied file missing from its folder is refused", "[warehouse][packs]") {
  auto mine = user_pack("mine", {{"0002_b.sql", "b"}});
  std::vector<const pack*> packs{&mine};
  std::vector<applied_migration> applied{{"mine", 1, "0001_a.sql", "0123456789abcdef"}};
  CHECK_THAT(error_of([&] { (void)pending_migrations(packs, applied); }),
             Catch::Contains("0001_a.sql was applied") && Catch::Contains("/packs/mine") &&
                 Catch::Contains("put the file back"));
}

TEST_CASE("pending migrations: a new file below an applied version is refused", "[warehouse][packs]") {
  auto mine = user_pack("mine", {{"0001_a.sql", "a"}, {"0002_late.sql", "b"}, {"0003_c.sql", "c"}});
  std::vector<const pack*> packs{&mine};
  std::vector<applied_migration> applied{{"mine", 1, "0001_a.sql", mine.migrations[0].checksum},
                                         {"mine", 3, "0003_c.sql", mine.migrations[2].checksum}};
  CHECK_THAT(error_of([&] { (void)pending_migrations(packs, applied); }),
             Catch::Contains("/packs/mine/0002_late.sql is new") && Catch::Contains("above 0003"));
}

TEST_CASE("a migration with its own COMMIT, ROLLBACK or BEGIN is found before it runs, and PL/pgSQL or strings are not",
          "[warehouse][packs]") {
  using sluice::warehouse::find_transaction_statement;
  auto found = find_transaction_statement("create table a (x int);\n-- commit;\ncommit;\ncreate table b (x int);\n");
  REQUIRE(found.has_value());
  CHECK(found->statement == "commit");
  CHECK(found->line == 3);
  for (const char* sql : {"BEGIN;\ncreate table a (x int);\nCOMMIT;", "create table a (x int); rollback;",
                          "create table a (x int); end;", "abort", "start transaction; select 1;",
                          "select 1; prepare transaction 'x';", "rollback work;"}) {
    INFO(sql);
    CHECK(find_transaction_statement(sql).has_value());
  }
  for (const char* sql :
       {"do $$ begin perform 1; end $$;", "create function f() returns int language plpgsql as $body$ begin return 1; commit; end $body$;",
        "select 'commit; rollback;' as words, \"commit\" from t;", "select E'it\\'s; commit';",
        "/* commit; /* nested */ rollback; */ select 1;",
        "create or replace function g() returns int language sql begin atomic select case when true then 1 end; select 2; end;\nselect 3;",
        "savepoint s; rollback to savepoint s; release s; rollback transaction to s;",
        "create table begin_end (x int); insert into begin_end values (1);"}) {
    INFO(sql);
    auto none = find_transaction_statement(sql);
    CHECK_FALSE(none.has_value());
    if (none) INFO("found " << none->statement);
  }
}
