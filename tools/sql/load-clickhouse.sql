-- netpoll traces as one relation for ClickHouse (or chDB): one row per event line, with the
-- columns that figures.sql and events-by-name.sql read. Replace TRACE_FILES with a path or a glob
-- ('/data/traces/*.jsonl'); on a server, file() reads under user_files_path, and s3(...) or
-- url(...) take the same format and structure (README, "Traces from many machines").
--
-- The structure is given (not inferred) so that any set of files loads, whether or not a field
-- occurs in it; unknown keys are skipped. Version-1 traces load too (trace_end.events is not read).
-- A flight-recorder dump's snapshot_* lines are the runtime's state at the window's start, not
-- events (docs/trace-format.md): they are left out, as `netpoll stats` leaves them out.
CREATE OR REPLACE VIEW netpoll_events AS
SELECT
  _path AS file, seq, ts, ev, backend, fd, ret, errno, task, mode, op, user_data, res,
  if(has(flags, 'MORE'), 1, 0) AS more,
  length(ready) AS ready_count
FROM file(
  TRACE_FILES, 'JSONEachRow',
  'seq Int64, ts Int64, ev String, backend Nullable(String), fd Nullable(Int64), ret Nullable(Int64),
   errno Nullable(String), task Nullable(Int64), mode Nullable(String), op Nullable(String),
   user_data Nullable(Int128), res Nullable(Int64), flags Array(String), ready Array(String)')
WHERE ev NOT LIKE 'snapshot%'
SETTINGS input_format_skip_unknown_fields = 1, input_format_json_read_objects_as_strings = 1;
