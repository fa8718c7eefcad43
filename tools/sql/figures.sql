-- The headline figures of `netpoll stats --json`, one row per trace file (and its backend), over
-- any number of traces loaded as `netpoll_events` (load-duckdb.sql or load-clickhouse.sql).
-- The same text runs on DuckDB and ClickHouse: no engine-specific function, windows only with
-- ROWS frames, aggregates that skip NULLs.
--
-- Definitions are those of docs/trace-format.md ("Definitions the figures use") as
-- Sources/NetPollAnalysis/TraceStats.swift computes them:
--   kernel entry   an event that is one of the 19 system calls (unknown events are not);
--   eagain_share   kernel entries failing with EAGAIN or EWOULDBLOCK, over kernel entries;
--   request        a `read` with ret > 0 on a connection fd, or in completion mode a RECV
--                  completion with res > 0 on one; a connection fd is the `ret` (> 0) of an
--                  `accept`, the `res` (>= 0) of an ACCEPT completion or the fd of a `connect`,
--                  until its `close`;
--   a completion's operation is that of the latest `uring_sqe` with its `user_data`, unless a
--                  completion without MORE came between (the operation was over);
--   wake latency   a `wake`'s ts minus the ts of its task's park, when the task's previous
--                  park/wake event is that park; by the park's mode; clamped to 1 ns..1 h;
--   p50, p99       the nearest-rank sample (rank ceil(p * n)); `stats` reports the upper edge of
--                  the HDR bucket (3 significant digits) that holds it: equal below 2048 ns,
--                  at most 2^(floor(log2 v) - 10) - 1 ns (< 0.1%) above it.
WITH
starts AS (
  SELECT file, max(backend) AS backend FROM netpoll_events WHERE ev = 'trace_start' GROUP BY file
),
counts AS (
  SELECT
    file,
    count(*) AS events,
    sum(CASE WHEN is_syscall = 1 THEN 1 ELSE 0 END) AS kernel_entries,
    sum(CASE WHEN is_syscall = 1 AND errno IN ('EAGAIN', 'EWOULDBLOCK') THEN 1 ELSE 0 END) AS eagain,
    sum(CASE WHEN ev = 'epoll_wait' THEN 1 ELSE 0 END) AS epoll_waits,
    sum(CASE WHEN ev = 'epoll_wait' THEN ready_count ELSE 0 END) AS ready_events,
    sum(CASE WHEN ev = 'uring_enter' THEN 1 ELSE 0 END) AS uring_enters,
    sum(CASE WHEN ev = 'uring_cqe' THEN 1 ELSE 0 END) AS uring_completions
  FROM (
    SELECT
      file, ev, errno, ready_count,
      CASE WHEN ev IN (
        'socket', 'setsockopt', 'bind', 'listen', 'accept', 'connect', 'getsockopt', 'getsockname',
        'read', 'write', 'poll', 'shutdown', 'close', 'eventfd', 'epoll_create', 'epoll_ctl',
        'epoll_wait', 'uring_setup', 'uring_enter') THEN 1 ELSE 0 END AS is_syscall
    FROM netpoll_events
  ) AS classified
  GROUP BY file
),
-- Submissions and completions by user_data, in order: seq * 4 + operation code (1 ACCEPT,
-- 2 RECV, 3 SEND, 0 other) of the latest submission before each row, and seq * 4 + 3 of the
-- latest completion without MORE before it.
ring AS (
  SELECT
    file, seq, ev, fd, res,
    max(CASE WHEN ev = 'uring_sqe' THEN seq * 4 + (CASE op WHEN 'ACCEPT' THEN 1 WHEN 'RECV' THEN 2 WHEN 'SEND' THEN 3 ELSE 0 END) END)
      OVER (PARTITION BY file, user_data ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_submission,
    max(CASE WHEN ev = 'uring_cqe' AND more = 0 THEN seq * 4 + 3 END)
      OVER (PARTITION BY file, user_data ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_final
  FROM netpoll_events
  WHERE ev IN ('uring_sqe', 'uring_cqe')
),
-- Completion-mode call results: completions of an ACCEPT (1), RECV (2) or SEND (3) in flight.
results AS (
  SELECT file, seq, fd, res, last_submission % 4 AS operation
  FROM ring
  WHERE ev = 'uring_cqe' AND last_submission IS NOT NULL
    AND (last_final IS NULL OR last_submission > last_final) AND last_submission % 4 > 0
),
-- What makes an fd a connection (state 1) or ends it (state 0), and the reads that ask (ask 1).
fd_events AS (
  SELECT file, ret AS fd, seq, 1 AS state, 0 AS ask FROM netpoll_events
    WHERE ev = 'accept' AND fd >= 0 AND ret > 0
  UNION ALL
  SELECT file, fd, seq, 1 AS state, 0 AS ask FROM netpoll_events WHERE ev = 'connect' AND fd >= 0
  UNION ALL
  SELECT file, fd, seq, 0 AS state, 0 AS ask FROM netpoll_events WHERE ev = 'close' AND fd >= 0
  UNION ALL
  SELECT file, res AS fd, seq, 1 AS state, 0 AS ask FROM results WHERE operation = 1 AND res >= 0
  UNION ALL
  SELECT file, fd, seq, 0 AS state, 1 AS ask FROM netpoll_events WHERE ev = 'read' AND fd >= 0 AND ret > 0
  UNION ALL
  SELECT file, fd, seq, 0 AS state, 1 AS ask FROM results WHERE operation = 2 AND res > 0 AND fd >= 0
),
requests AS (
  SELECT file, sum(CASE WHEN ask = 1 AND known % 2 = 1 THEN 1 ELSE 0 END) AS requests
  FROM (
    SELECT
      file, ask,
      -- seq * 2 + state of the fd's latest state change before this row
      max(CASE WHEN ask = 0 THEN seq * 2 + state END)
        OVER (PARTITION BY file, fd ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS known
    FROM fd_events
  ) AS asked
  GROUP BY file
),
-- Each wake with the task's previous park or wake.
task_events AS (
  SELECT
    file, ev, ts,
    max(ev) OVER (PARTITION BY file, task ORDER BY seq ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING) AS previous_ev,
    max(ts) OVER (PARTITION BY file, task ORDER BY seq ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING) AS previous_ts,
    max(mode) OVER (PARTITION BY file, task ORDER BY seq ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING) AS previous_mode
  FROM netpoll_events
  WHERE ev IN ('park', 'wake')
),
latencies AS (
  SELECT
    file, previous_mode AS mode,
    CASE WHEN ts - previous_ts < 1 THEN 1 WHEN ts - previous_ts > 3600000000000 THEN 3600000000000
      ELSE ts - previous_ts END AS ns
  FROM task_events
  WHERE ev = 'wake' AND previous_ev = 'park'
),
ranked AS (
  SELECT
    file, mode, ns,
    row_number() OVER (PARTITION BY file, mode ORDER BY ns) AS position,
    count(*) OVER (PARTITION BY file, mode) AS n
  FROM latencies
),
percentiles AS (
  SELECT
    file,
    sum(CASE WHEN mode = 'r' AND position = 1 THEN n ELSE 0 END) AS wake_r_count,
    min(CASE WHEN mode = 'r' AND position >= ceil(50 * n / 100.0) THEN ns END) AS wake_r_p50_ns,
    min(CASE WHEN mode = 'r' AND position >= ceil(99 * n / 100.0) THEN ns END) AS wake_r_p99_ns,
    sum(CASE WHEN mode = 'w' AND position = 1 THEN n ELSE 0 END) AS wake_w_count,
    min(CASE WHEN mode = 'w' AND position >= ceil(50 * n / 100.0) THEN ns END) AS wake_w_p50_ns,
    min(CASE WHEN mode = 'w' AND position >= ceil(99 * n / 100.0) THEN ns END) AS wake_w_p99_ns
  FROM ranked
  GROUP BY file
)
SELECT
  starts.file AS file,
  starts.backend AS backend,
  counts.events AS events,
  counts.kernel_entries AS kernel_entries,
  COALESCE(requests.requests, 0) AS requests,
  CASE WHEN COALESCE(requests.requests, 0) > 0 THEN 1.0 * counts.kernel_entries / requests.requests ELSE 0 END
    AS kernel_entries_per_request,
  counts.eagain AS eagain,
  CASE WHEN counts.kernel_entries > 0 THEN 1.0 * counts.eagain / counts.kernel_entries ELSE 0 END AS eagain_share,
  counts.epoll_waits AS epoll_waits,
  counts.ready_events AS ready_events,
  CASE WHEN counts.epoll_waits > 0 THEN 1.0 * counts.ready_events / counts.epoll_waits ELSE 0 END
    AS events_per_epoll_wait,
  counts.uring_enters AS uring_enters,
  counts.uring_completions AS uring_completions,
  CASE WHEN counts.uring_enters > 0 THEN 1.0 * counts.uring_completions / counts.uring_enters ELSE 0 END
    AS completions_per_uring_enter,
  COALESCE(percentiles.wake_r_count, 0) AS wake_r_count,
  COALESCE(percentiles.wake_r_p50_ns, 0) AS wake_r_p50_ns,
  COALESCE(percentiles.wake_r_p99_ns, 0) AS wake_r_p99_ns,
  COALESCE(percentiles.wake_w_count, 0) AS wake_w_count,
  COALESCE(percentiles.wake_w_p50_ns, 0) AS wake_w_p50_ns,
  COALESCE(percentiles.wake_w_p99_ns, 0) AS wake_w_p99_ns
FROM starts
JOIN counts ON counts.file = starts.file
LEFT JOIN requests ON requests.file = starts.file
LEFT JOIN percentiles ON percentiles.file = starts.file
ORDER BY file
