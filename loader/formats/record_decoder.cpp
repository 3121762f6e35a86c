#include "loader/formats/record_decoder.h"

#include <simdjson.h>

#include "loader/formats/registry.h"

namespace sluice::loader {

std::size_t first_invalid_utf8(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > bytes.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(bytes[i + k]) & 0xc0) != 0x80) return i;
    }
    std::uint32_t code = length == 1 ? c : c & (0xff >> (length + 1));
    for (std::size_t k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(bytes[i + k]) & 0x3f);
    }
    bool overlong = (length == 2 && code < 0x80) || (length == 3 && code < 0x800) ||
                    (length == 4 && code < 0x10000);
    if (overlong || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += length;
  }
  return bytes.size();
}

raw_text printable_raw(std::string_view bytes) {
  raw_text out;
  bool clean = bytes.find('\0') == std::string_view::npos &&
               simdjson::validate_utf8(bytes.data(), bytes.size());
  if (clean) {
    out.text.assign(bytes);
    return out;
  }
  out.lossy = true;
  out.text.reserve(bytes.size());
  while (!bytes.empty()) {
    auto bad = first_invalid_utf8(bytes);
    auto good = bytes.substr(0, bad);
    for (char c : good) {
      if (c == '\0') out.text += "\xef\xbf\xbd";
      else out.text += c;
    }
    if (bad == bytes.size()) break;
    out.text += "\xef\xbf\xbd";
    bytes.remove_prefix(bad + 1);
  }
  return out;
}

record_decoder::record_decoder(const feed_plan& feed) : impl_(declared_format(feed.format).make_decoder(feed)) {}
record_decoder::~record_decoder() = default;

std::string record_decoder::bind_header(const std::optional<header_row>& header) { return impl_->bind_header(header); }

bool record_decoder::expects_header() const { return impl_->expects_header(); }

bool record_decoder::decode(const record& rec, std::int64_t file_id, std::vector<copy_encoder>& rows,
                            reject_reason& why, std::size_t* target_used) {
  std::size_t target = 0;
  if (!impl_->decode(rec, file_id, rows, why, target)) return false;
  if (target_used != nullptr) *target_used = target;
  return true;
}

}  // namespace sluice::loader
