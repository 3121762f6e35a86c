#include "loader/formats/csv/csv.h"

#include <cstring>

namespace sluice::loader {

std::size_t csv_row_scanner::scan(const char* data, std::size_t size) noexcept {
  const char quote = dialect_.quote;
  const char delimiter = dialect_.delimiter;
  const int escape = dialect_.escape == quote ? -1 : dialect_.escape;  // an escape equal to the quote is doubling
  std::size_t at = 0;
  while (at < size) {
    if (state_ == state::quoted) {
      // Jump to the next quote (or escape) character.
      const char* q = static_cast<const char*>(std::memchr(data + at, quote, size - at));
      std::size_t stop = q != nullptr ? static_cast<std::size_t>(q - data) : size;
      if (escape >= 0) {
        const char* e = static_cast<const char*>(std::memchr(data + at, escape, stop - at));
        if (e != nullptr) {
          at = static_cast<std::size_t>(e - data) + 1;
          state_ = state::escaped;
          continue;
        }
      }
      if (q == nullptr) return size;
      at = stop + 1;
      state_ = state::after_quote;
      continue;
    }
    if (state_ == state::escaped) {
      ++at;
      state_ = state::quoted;
      continue;
    }
    // Outside quotes: the row ends at the next LF unless a field before it opens a quote.
    const char* nl = static_cast<const char*>(std::memchr(data + at, '\n', size - at));
    std::size_t stop = nl != nullptr ? static_cast<std::size_t>(nl - data) : size;
    const char* q = static_cast<const char*>(std::memchr(data + at, quote, stop - at));
    if (q == nullptr) {
      if (nl != nullptr) {
        state_ = state::field_start;
        return stop;
      }
      if (stop > at) state_ = data[stop - 1] == delimiter ? state::field_start : state::unquoted;
      return size;
    }
    // A quote before the LF: walk to it to know whether it opens a field.
    std::size_t qi = static_cast<std::size_t>(q - data);
    if (qi > at) state_ = data[qi - 1] == delimiter ? state::field_start : state::unquoted;
    if (state_ == state::field_start) state_ = state::quoted;        // opens a quoted field
    else if (state_ == state::after_quote) state_ = state::quoted;   // "" inside a quoted field
    // else: a literal quote in an unquoted field (or text after a closing quote)
    at = qi + 1;
  }
  return size;
}

result<std::span<const csv_field>, csv_split_error> csv_splitter::split(std::string_view row) {
  fields_.clear();
  const char quote = dialect_.quote;
  const char delimiter = dialect_.delimiter;
  const int escape = dialect_.escape == quote ? -1 : dialect_.escape;
  if (std::memchr(row.data(), quote, row.size()) == nullptr) {
    // No quotes at all: fields are what lies between delimiters.
    std::size_t at = 0;
    while (true) {
      const char* d = static_cast<const char*>(std::memchr(row.data() + at, delimiter, row.size() - at));
      std::size_t stop = d != nullptr ? static_cast<std::size_t>(d - row.data()) : row.size();
      fields_.push_back({row.substr(at, stop - at), false});
      if (d == nullptr) break;
      at = stop + 1;
    }
    return std::span<const csv_field>(fields_);
  }
  unquoted_.clear();
  unquoted_.reserve(row.size());  // views into it must not move
  std::size_t at = 0;
  while (true) {
    if (at < row.size() && row[at] == quote) {
      std::size_t start = unquoted_.size();
      ++at;
      bool closed = false;
      while (at < row.size()) {
        char c = row[at];
        if (escape >= 0 && c == escape && at + 1 < row.size()) {
          unquoted_ += row[at + 1];
          at += 2;
        } else if (c == quote) {
          if (at + 1 < row.size() && row[at + 1] == quote) {
            unquoted_ += quote;
            at += 2;
          } else {
            ++at;
            closed = true;
            break;
          }
        } else {
          unquoted_ += c;
          ++at;
        }
      }
      if (!closed) return failure{csv_split_error{fields_.size(), "a quoted field is not closed (the file ends inside it)"}};
      fields_.push_back({std::string_view(unquoted_).substr(start, unquoted_.size() - start), true});
      if (at == row.size()) break;
      if (row[at] != delimiter) {
        return failure{csv_split_error{fields_.size() - 1, "text after the closing quote of a quoted field"}};
      }
      ++at;
      if (at == row.size()) {
        fields_.push_back({std::string_view(), false});
        break;
      }
      continue;
    }
    const char* d = static_cast<const char*>(std::memchr(row.data() + at, delimiter, row.size() - at));
    std::size_t stop = d != nullptr ? static_cast<std::size_t>(d - row.data()) : row.size();
    fields_.push_back({row.substr(at, stop - at), false});
    if (d == nullptr) break;
    at = stop + 1;
  }
  return std::span<const csv_field>(fields_);
}

}  // namespace sluice::loader
