-- The figures of figures.sql for a whole fleet: one row per backend, over every trace loaded as
-- `netpoll_events` (load-duckdb.sql or load-clickhouse.sql). Counts are summed over the files;
-- ratios are of the sums (a file's weight is its size); the percentiles are of all the backend's
-- park→wake latencies pooled. Connection state, operations and parks are still followed per file,
-- as figures.sql does (see there for the definitions). Runs unchanged on DuckDB and ClickHouse.
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
    starts.backend AS backend, latencies.mode AS mode, latencies.ns AS ns,
    row_number() OVER (PARTITION BY starts.backend, latencies.mode ORDER BY latencies.ns) AS position,
    count(*) OVER (PARTITION BY starts.backend, latencies.mode) AS n
  FROM latencies
  JOIN starts ON starts.file = latencies.file
),
percentiles AS (
  SELECT
    backend,
    sum(CASE WHEN mode = 'r' AND position = 1 THEN n ELSE 0 END) AS wake_r_count,
    min(CASE WHEN mode = 'r' AND position >= ceil(50 * n / 100.0) THEN ns END) AS wake_r_p50_ns,
    min(CASE WHEN mode = 'r' AND position >= ceil(99 * n / 100.0) THEN ns END) AS wake_r_p99_ns,
    sum(CASE WHEN mode = 'w' AND position = 1 THEN n ELSE 0 END) AS wake_w_count,
    min(CASE WHEN mode = 'w' AND position >= ceil(50 * n / 100.0) THEN ns END) AS wake_w_p50_ns,
    min(CASE WHEN mode = 'w' AND position >= ceil(99 * n / 100.0) THEN ns END) AS wake_w_p99_ns
  FROM ranked
  GROUP BY backend
),
totals AS (
  SELECT
    starts.backend AS backend,
    count(*) AS files,
    sum(counts.events) AS events,
    sum(counts.kernel_entries) AS kernel_entries,
    sum(COALESCE(requests.requests, 0)) AS requests,
    sum(counts.eagain) AS eagain,
    sum(counts.epoll_waits) AS epoll_waits,
    sum(counts.ready_events) AS ready_events,
    sum(counts.uring_enters) AS uring_enters,
    sum(counts.uring_completions) AS uring_completions
  FROM starts
  JOIN counts ON counts.file = starts.file
  LEFT JOIN requests ON requests.file = starts.file
  GROUP BY starts.backend
)
SELECT
  totals.backend AS backend,
  totals.files AS files,
  totals.events AS events,
  totals.kernel_entries AS kernel_entries,
  totals.requests AS requests,
  CASE WHEN totals.requests > 0 THEN 1.0 * totals.kernel_entries / totals.requests ELSE 0 END
    AS kernel_entries_per_request,
  totals.eagain AS eagain,
  CASE WHEN totals.kernel_entries > 0 THEN 1.0 * totals.eagain / totals.kernel_entries ELSE 0 END AS eagain_share,
  totals.epoll_waits AS epoll_waits,
  CASE WHEN totals.epoll_waits > 0 THEN 1.0 * totals.ready_events / totals.epoll_waits ELSE 0 END
    AS events_per_epoll_wait,
  totals.uring_enters AS uring_enters,
  CASE WHEN totals.uring_enters > 0 THEN 1.0 * totals.uring_completions / totals.uring_enters ELSE 0 END
    AS completions_per_uring_enter,
  COALESCE(percentiles.wake_r_count, 0) AS wake_r_count,
  COALESCE(percentiles.wake_r_p50_ns, 0) AS wake_r_p50_ns,
  COALESCE(percentiles.wake_r_p99_ns, 0) AS wake_r_p99_ns,
  COALESCE(percentiles.wake_w_count, 0) AS wake_w_count,
  COALESCE(percentiles.wake_w_p50_ns, 0) AS wake_w_p50_ns,
  COALESCE(percentiles.wake_w_p99_ns, 0) AS wake_w_p99_ns
FROM totals
LEFT JOIN percentiles ON percentiles.backend = totals.backend
ORDER BY backend
