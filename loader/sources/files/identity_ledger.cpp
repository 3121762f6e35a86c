#include "loader/sources/files/identity.h"

namespace sluice::loader {

namespace {

class connection_ledger final : public identity_ledger {
 public:
  explicit connection_ledger(warehouse::connection& conn) : conn_(conn) {}
  std::vector<warehouse::file_matches> lookup_files(std::span<const warehouse::file_sighting> files) override {
    return warehouse::lookup_files(conn_, files);
  }
  std::vector<warehouse::content_match> lookup_contents(std::span<const warehouse::content_key> keys) override {
    return warehouse::lookup_contents(conn_, keys);
  }
  std::vector<std::optional<warehouse::prefix_match>> lookup_prefixes(
      std::span<const warehouse::prefix_key> keys) override {
    return warehouse::lookup_prefixes(conn_, keys);
  }
  bool content_size_known(const std::string& feed, std::int64_t content_size) override {
    return warehouse::content_size_known(conn_, feed, content_size);
  }
  std::optional<warehouse::file_row> find_by_inode(const warehouse::file_stat& stat) override {
    return warehouse::find_by_inode(conn_, stat);
  }
  std::optional<warehouse::file_row> find_row(std::int64_t id) override { return warehouse::find_row(conn_, id); }
  std::vector<std::int64_t> claim_files(std::span<const std::int64_t> ids) override {
    return warehouse::claim_files(conn_, ids);
  }
  void release_files(std::span<const std::int64_t> ids) override { warehouse::release_files(conn_, ids); }
  void retire_file(std::int64_t id, const std::string& reason) override {
    warehouse::retire_file(conn_, id, "replaced", reason);
  }

 private:
  warehouse::connection& conn_;
};

}  // namespace

std::unique_ptr<identity_ledger> ledger_identity(warehouse::connection& conn) {
  return std::make_unique<connection_ledger>(conn);
}

}  // namespace sluice::loader
