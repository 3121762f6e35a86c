#include "warehouse/status.h"

#include <cmath>

namespace sluice::warehouse {

namespace {

std::string number_or_null(std::optional<double> v) {
  return v && std::isfinite(*v) ? std::to_string(*v) : "NULL";
}

std::string epoch_seconds(std::chrono::system_clock::time_point at) {
  return std::to_string(std::chrono::duration<double>(at.time_since_epoch()).count());
}

}  // namespace

void report_daemon(connection& conn, const daemon_state& state) {
  std::vector<std::string> ids, feeds, paths, done, sizes, percents, rates, etas, skipped_names, skipped_why;
  for (const auto& f : state.loading) {
    ids.push_back(std::to_string(f.file_id));
    feeds.push_back(f.feed);
    paths.push_back(f.path);
    done.push_back(std::to_string(f.bytes_done));
    sizes.push_back(f.bytes == 0 ? "NULL" : std::to_string(f.bytes));
    percents.push_back(number_or_null(f.percent));
    rates.push_back(std::to_string(f.rows_per_second));
    etas.push_back(number_or_null(f.eta_seconds));
  }
  for (const auto& [feed, why] : state.skipped_feeds) {
    skipped_names.push_back(feed);
    skipped_why.push_back(why);
  }
  const auto& self = this_process();
  std::string oldest = state.oldest_queued_at ? epoch_seconds(*state.oldest_queued_at) : "";
  // (NULL elements of the number arrays: text_array quotes them, so the
  // nullif turns "NULL" back into NULL.)
  conn.exec_params(
      "insert into sluice.daemons as d (host, pid, queued, oldest_queued_at, loading, skipped_feeds)"
      " values ($1, $2::int, $3::int, to_timestamp($4::float8),"
      "  coalesce((select jsonb_agg(jsonb_build_object('file_id', f.id, 'feed', f.feed, 'path', f.path,"
      "     'bytes_done', f.done, 'bytes', nullif(f.size, 'NULL')::bigint,"
      "     'percent', round(nullif(f.pct, 'NULL')::numeric, 1), 'rows_per_second', round(f.rate::numeric),"
      "     'eta_seconds', round(nullif(f.eta, 'NULL')::numeric)) order by f.id)"
      "   from unnest($5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::float8[],"
      "               $12::text[]) as f(id, feed, path, done, size, pct, rate, eta)), '[]'),"
      "  coalesce((select jsonb_agg(jsonb_build_object('feed', s.feed, 'reason', s.why) order by s.feed)"
      "   from unnest($13::text[], $14::text[]) as s(feed, why)), '[]'))"
      // (A row not seen for 10 s was another process with the same pid: a
      // restarted container.)
      " on conflict (host, pid) do update set seen_at = now(), queued = excluded.queued,"
      " started_at = case when d.seen_at < now() - interval '10 seconds' then now() else d.started_at end,"
      " oldest_queued_at = excluded.oldest_queued_at, loading = excluded.loading,"
      " skipped_feeds = excluded.skipped_feeds",
      {self.host, std::to_string(self.pid), std::to_string(state.queued),
       state.oldest_queued_at ? param(oldest) : std::nullopt, text_array(ids), text_array(feeds),
       text_array(paths), text_array(done), text_array(sizes), text_array(percents), text_array(rates),
       text_array(etas), text_array(skipped_names), text_array(skipped_why)});
}

void forget_daemon(connection& conn) {
  const auto& self = this_process();
  conn.exec_params("delete from sluice.daemons where host = $1 and pid = $2::int", {self.host, std::to_string(self.pid)});
}

void prune_load_log(connection& conn) {
  conn.exec("delete from sluice.load_log where at < now() - interval '2 days'");
}

void prune_changes(connection& conn) { conn.exec("call sluice.prune_changes(10000)"); }

std::string status_json(connection& conn) { return std::string(conn.exec("select sluice.status()::text").text(0, 0)); }

}  // namespace sluice::warehouse
