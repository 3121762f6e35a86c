#include "warehouse/packs.h"

#include <xxhash.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>

namespace sluice::warehouse {

namespace detail {
std::span<const std::pair<std::string_view, std::string_view>> embedded_sql();
}

namespace {

namespace fs = std::filesystem;

std::string hex64(std::uint64_t value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[value & 0xf];
    value >>= 4;
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_pack_name(std::string_view name) {
  if (name.empty() || name == "all") return false;
  if (!(is_digit(name.front()) || (name.front() >= 'a' && name.front() <= 'z'))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
  });
}

std::string four_digits(int version) {
  std::string out = std::to_string(version);
  if (out.size() < 4) out.insert(0, 4 - out.size(), '0');
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// Where a pack's files are, for messages.
std::string where(const pack& p) {
  return p.source == pack_source::builtin ? "the built-in pack " + p.name + " (sql/" + p.name + "/)"
                                          : p.dir.string();
}

std::vector<pack> load_builtin_packs() {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> files_by_pack;
  for (const auto& [path, sql] : detail::embedded_sql()) {
    auto slash = path.find('/');
    if (slash == std::string_view::npos || path.find('/', slash + 1) != std::string_view::npos) {
      throw std::logic_error("sql/" + std::string(path) +
                             ": a built-in migration must be sql/<pack>/NNNN_description.sql");
    }
    files_by_pack[std::string(path.substr(0, slash))].emplace_back(std::string(path.substr(slash + 1)),
                                                                   std::string(sql));
  }
  std::vector<pack> packs;
  for (auto& [name, files] : files_by_pack) {
    try {
      packs.push_back(make_pack(name, pack_source::builtin, {}, std::move(files)));
    } catch (const pack_error& e) {
      throw std::logic_error(std::string(e.what()) + " (a mistake in sql/, caught at build time by the unit tests)");
    }
  }
  auto core = std::find_if(packs.begin(), packs.end(), [](const pack& p) { return p.name == core_pack; });
  if (core == packs.end()) throw std::logic_error("sql/sluice/ is missing: sluice's own pack must be built in");
  std::rotate(packs.begin(), core, core + 1);  // sluice first, the others stay by name
  return packs;
}

}  // namespace

const char* to_string(pack_source source) noexcept {
  return source == pack_source::builtin ? "builtin" : "dir";
}

std::optional<int> migration_version(std::string_view file_name) {
  constexpr std::string_view suffix = ".sql";
  std::size_t digits = 0;
  while (digits < file_name.size() && is_digit(file_name[digits])) ++digits;
  if (digits == 0 || digits > 9 || digits >= file_name.size() || file_name[digits] != '_') return std::nullopt;
  if (file_name.size() < digits + 1 + 1 + suffix.size()) return std::nullopt;  // a description
  if (file_name.substr(file_name.size() - suffix.size()) != suffix) return std::nullopt;
  int version = std::stoi(std::string(file_name.substr(0, digits)));
  if (version <= 0) return std::nullopt;
  return version;
}

pack make_pack(std::string name, pack_source source, fs::path dir,
               std::vector<std::pair<std::string, std::string>> files) {
  pack p{std::move(name), source, std::move(dir), {}};
  auto origin_of = [&](const std::string& file) {
    return source == pack_source::builtin ? "sql/" + p.name + "/" + file : (p.dir / file).string();
  };
  if (!valid_pack_name(p.name)) {
    throw pack_error("pack name '" + p.name + "'" +
                     (source == pack_source::dir ? " (the base name of " + p.dir.string() + ")" : "") +
                     " is not allowed: a pack's name is lower-case letters, digits, _ and -, and not \"all\";"
                     " rename the folder");
  }
  for (auto& [file, sql] : files) {
    auto version = migration_version(file);
    if (!version) {
      throw pack_error(origin_of(file) +
                       ": a migration's file name must be NNNN_description.sql (NNNN a version above 0,"
                       " e.g. 0001_staging.sql); rename the file");
    }
    auto checksum = hex64(XXH3_64bits(sql.data(), sql.size()));
    p.migrations.push_back({p.name, *version, file, origin_of(file), std::move(sql), std::move(checksum)});
  }
  if (p.migrations.empty()) {
    throw pack_error(where(p) + " holds no migration: a pack is a folder of NNNN_description.sql files");
  }
  std::sort(p.migrations.begin(), p.migrations.end(),
            [](const migration& a, const migration& b) { return a.version < b.version; });
  for (std::size_t idx = 1; idx < p.migrations.size(); ++idx) {
    if (p.migrations[idx].version == p.migrations[idx - 1].version) {
      throw pack_error(p.migrations[idx - 1].origin + " and " + p.migrations[idx].origin +
                       " share version " + std::to_string(p.migrations[idx].version) +
                       "; give one of them a version of its own");
    }
  }
  return p;
}

const std::vector<pack>& builtin_packs() {
  static const std::vector<pack> packs = load_builtin_packs();
  return packs;
}

pack read_pack_dir(const fs::path& dir) {
  std::error_code ec;
  auto absolute = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec || !fs::is_directory(absolute, ec)) {
    throw pack_error("--pack-dir " + dir.string() + ": no such folder (give the folder holding the pack's"
                     " NNNN_description.sql files)");
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (auto it = fs::directory_iterator(absolute, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto file = it->path().filename().string();
    if (file.starts_with('.') || it->path().extension() != ".sql" || !it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream sql;
    sql << in.rdbuf();
    if (!in) throw pack_error("cannot read " + it->path().string() + "; check its permissions");
    files.emplace_back(std::move(file), sql.str());
  }
  if (ec) throw pack_error("cannot list " + absolute.string() + ": " + ec.message());
  return make_pack(absolute.filename().string(), pack_source::dir, absolute, std::move(files));
}

namespace {

// The --pack-dir packs by name; throws pack_error when one has a built-in
// pack's name or two have one name.
std::map<std::string, const pack*> user_packs_by_name(const std::vector<pack>& user_packs,
                                                      const std::map<std::string, const pack*>& builtin_by_name) {
  std::map<std::string, const pack*> user_by_name;
  for (const auto& p : user_packs) {
    if (builtin_by_name.contains(p.name)) {
      throw pack_error("--pack-dir " + p.dir.string() + ": " + p.name +
                       " is the name of a built-in pack; a pack's name is its folder's name, so rename the"
                       " folder");
    }
    auto [it, fresh] = user_by_name.emplace(p.name, &p);
    if (!fresh) {
      throw pack_error("--pack-dir " + it->second->dir.string() + " and " + p.dir.string() +
                       " are both the pack " + p.name + "; a pack's name is its folder's name, so rename one");
    }
  }
  return user_by_name;
}

// The packs `names` (--packs) gives, in its order, "all" as every built-in
// pack; throws pack_error for a name no pack has, or a built-in pack's name
// that the warehouse has installed from a folder.
std::vector<const pack*> named_packs(const std::vector<std::string>& names, const std::vector<pack>& builtins,
                                     const std::vector<pack>& user_packs,
                                     const std::map<std::string, const pack*>& builtin_by_name,
                                     const std::map<std::string, const pack*>& user_by_name,
                                     const std::map<std::string, const installed_pack*>& installed_by_name) {
  std::vector<const pack*> named;
  for (const auto& name : names) {
    if (name.empty()) continue;  // `--packs ''` chooses no pack beyond sluice
    if (name == "all") {
      for (const auto& p : builtins) named.push_back(&p);
      continue;
    }
    if (auto b = builtin_by_name.find(name); b != builtin_by_name.end()) {
      auto i = installed_by_name.find(name);
      if (i != installed_by_name.end() && i->second->source == pack_source::dir) {
        throw pack_error("pack " + name + " is installed in this warehouse from the folder " + i->second->dir +
                         ", not built in; give that folder with --pack-dir instead of naming it in --packs");
      }
      named.push_back(b->second);
    } else if (auto u = user_by_name.find(name); u != user_by_name.end()) {
      named.push_back(u->second);
    } else {
      std::vector<std::string> known;
      for (const auto& p : builtins) known.push_back(p.name);
      for (const auto& p : user_packs) known.push_back(p.name + " (--pack-dir)");
      throw pack_error("--packs " + name + ": no such pack; the packs known are " + join(known, ", ") +
                       " (and \"all\"); a pack of your own needs --pack-dir DIR");
    }
  }
  return named;
}

}  // namespace

pack_selection select_packs(const std::vector<pack>& builtins, const std::vector<pack>& user_packs,
                            const std::optional<std::vector<std::string>>& names,
                            const std::vector<installed_pack>& installed) {
  std::map<std::string, const pack*> builtin_by_name;
  for (const auto& p : builtins) builtin_by_name.emplace(p.name, &p);
  auto user_by_name = user_packs_by_name(user_packs, builtin_by_name);
  std::map<std::string, const installed_pack*> installed_by_name;
  for (const auto& i : installed) installed_by_name.emplace(i.name, &i);

  pack_selection out;
  std::set<std::string> chosen;
  auto add = [&](const pack* p) {
    if (chosen.insert(p->name).second) out.packs.push_back(p);
  };
  add(builtin_by_name.at(std::string(core_pack)));

  auto installed_builtins = [&] {
    std::vector<const pack*> found;
    for (const auto& [name, p] : builtin_by_name) {
      auto it = installed_by_name.find(name);
      if (it != installed_by_name.end() && it->second->source == pack_source::builtin) found.push_back(p);
    }
    return found;
  };

  if (names) {
    auto named = named_packs(*names, builtins, user_packs, builtin_by_name, user_by_name, installed_by_name);
    std::set<std::string> named_names;
    for (const auto* p : named) named_names.insert(p->name);
    for (const auto* p : installed_builtins()) {
      if (!named_names.contains(p->name)) add(p);
    }
    for (const auto* p : named) add(p);
  } else if (installed.empty()) {
    for (const auto& p : builtins) add(&p);
  } else {
    for (const auto* p : installed_builtins()) add(p);
  }
  for (const auto& p : user_packs) add(&p);

  for (const auto& i : installed) {
    if (i.source == pack_source::dir && !user_by_name.contains(i.name)) {
      out.notes.push_back("pack " + i.name + " (from " + i.dir + ") was not given with --pack-dir: left as it is;"
                          " to upgrade it, give --pack-dir " + i.dir);
    } else if (i.source == pack_source::builtin && !builtin_by_name.contains(i.name)) {
      out.notes.push_back("pack " + i.name + " is installed but not built into this sluice: left as it is");
    }
  }
  std::vector<std::string> not_installed;
  for (const auto& p : builtins) {
    if (!chosen.contains(p.name) && !installed_by_name.contains(p.name)) not_installed.push_back(p.name);
  }
  if (!not_installed.empty()) {
    out.notes.push_back("built-in packs not installed: " + join(not_installed, ", ") +
                        " (add one with --packs NAME)");
  }
  return out;
}

std::vector<const migration*> pending_migrations(const std::vector<const pack*>& packs,
                                                 const std::vector<applied_migration>& applied) {
  std::map<std::string, std::map<int, const applied_migration*>> applied_by_pack;
  for (const auto& a : applied) applied_by_pack[a.pack].emplace(a.version, &a);

  std::vector<std::string> problems;
  std::vector<const migration*> pending;
  for (const auto* p : packs) {
    const auto& done = applied_by_pack[p->name];
    std::map<int, const migration*> files;
    for (const auto& m : p->migrations) files.emplace(m.version, &m);
    for (const auto& [version, a] : done) {
      auto file = files.find(version);
      if (file == files.end()) {
        problems.push_back(
            "pack " + p->name + ": migration " + a->file + " was applied but " + where(*p) +
            " no longer has a version " + four_digits(version) +
            (p->source == pack_source::builtin
                 ? "; use the sluice build that applied it, or a newer one"
                 : "; put the file back (an applied migration stays: undo it with a new migration)"));
      } else if (file->second->checksum != a->checksum) {
        problems.push_back(file->second->origin +
                           " was changed after it was applied (checksum then " + a->checksum + ", now " +
                           file->second->checksum +
                           "); put it back as it was and add a new migration with a higher version for the"
                           " change");
      }
    }
    int highest = done.empty() ? 0 : done.rbegin()->first;
    for (const auto& m : p->migrations) {
      if (done.contains(m.version)) continue;
      if (m.version < highest) {
        problems.push_back(m.origin + " is new but " + done.rbegin()->second->file + " of pack " + p->name +
                           " is already applied; migrations apply in version order, so give it a version"
                           " above " + four_digits(highest));
        continue;
      }
      pending.push_back(&m);
    }
  }
  if (!problems.empty()) {
    throw pack_error("nothing was applied: " + join(problems, "\n  "));
  }
  return pending;
}

}  // namespace sluice::warehouse
