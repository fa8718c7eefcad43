-- netpoll traces as one relation for DuckDB: one row per event line, with the columns that
-- figures.sql and events-by-name.sql read. Replace TRACE_FILES with a path, a glob
-- ('/data/traces/*.jsonl') or a list (['a.jsonl', 'b.jsonl']).
--
-- The columns are given (not inferred) so that any set of files loads, whether or not a field
-- occurs in it (an io_uring trace has no `ready`); keys not listed are ignored. Version-1 traces
-- load too (their trace_end.events is not read).
--
-- A flight-recorder dump's snapshot_* lines are the runtime's state at the window's start, not
-- events (docs/trace-format.md): they are left out, as `netpoll stats` leaves them out.
CREATE OR REPLACE VIEW netpoll_events AS
SELECT
  filename AS file, seq, ts, ev, backend, fd, ret, errno, task, mode, op, user_data, res,
  CASE WHEN list_contains(flags, 'MORE') THEN 1 ELSE 0 END AS more,
  COALESCE(json_array_length(ready), 0) AS ready_count
FROM read_json(
  TRACE_FILES,
  format = 'newline_delimited', filename = true,
  columns = {
    seq: 'BIGINT', ts: 'BIGINT', ev: 'VARCHAR', backend: 'VARCHAR', fd: 'BIGINT', ret: 'BIGINT',
    errno: 'VARCHAR', task: 'BIGINT', mode: 'VARCHAR', op: 'VARCHAR', user_data: 'HUGEINT',
    res: 'BIGINT', flags: 'VARCHAR[]', ready: 'JSON'
  })
WHERE ev NOT LIKE 'snapshot%';
