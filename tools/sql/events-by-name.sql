-- Events by name (`netpoll stats --json` "events_by_name"), per trace file and backend, over the
-- traces loaded as `netpoll_events` (load-duckdb.sql or load-clickhouse.sql). Runs unchanged on
-- DuckDB and ClickHouse.
WITH starts AS (
  SELECT file, max(backend) AS backend FROM netpoll_events WHERE ev = 'trace_start' GROUP BY file
)
SELECT starts.file AS file, starts.backend AS backend, netpoll_events.ev AS ev, count(*) AS events
FROM netpoll_events
JOIN starts ON starts.file = netpoll_events.file
GROUP BY starts.file, starts.backend, netpoll_events.ev
ORDER BY file, events DESC, ev
