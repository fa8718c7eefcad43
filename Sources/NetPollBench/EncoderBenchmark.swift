import NetPollTrace

/// The writer thread's cost: `JSONLineEncoder` turning drained ``TraceRecord``s into JSON lines,
/// measured alone (no ring, no file) over two realistic mixes, in batches of 8192 records as
/// `TraceWriter` drains them.
///
/// - **echo**: an epoll echo server: `epoll_wait` with 1–4 ready items, then per ready connection
///   `wake`, `read` of a request, `write` of the reply, `read` → EAGAIN, `park`.
/// - **uring_completion**: the same server in io_uring completion mode: per request a RECV and a
///   SEND, each `park`, `uring_sqe`, `uring_enter`, `uring_cqe`, `wake`.
///
/// Each round re-encodes the whole batch into the reused output buffer; the figures are the median
/// round's MB/s (10^6 bytes of JSON per second) and ns per line.
struct EncoderBenchmark {
  var seconds: Double
  static let batchSize = 8192

  struct Result {
    var mbPerSecond: Double
    var nsPerLine: Double
    var bytesPerLine: Double

    var json: String {
      "{\"mb_per_s\":\(fixed(mbPerSecond)),\"ns_per_line\":\(fixed(nsPerLine)),\"bytes_per_line\":\(fixed(bytesPerLine))}"
    }
  }

  func run() -> String {
    let echo = measure(Self.echoMix())
    let uring = measure(Self.uringCompletionMix())
    return "{\"echo\":\(echo.json),\"uring_completion\":\(uring.json)}"
  }

  func measure(_ records: [TraceRecord]) -> Result {
    var encoder = JSONLineEncoder()
    var rates: [Double] = []
    var perLine: [Double] = []
    var bytesPerLine = 0.0
    let deadline = monotonicNanos() + UInt64(seconds * 1e9)
    records.withUnsafeBufferPointer { batch in
      repeat {
        let t0 = monotonicNanos()
        encoder.out.removeAll(keepingCapacity: true)
        let lines = encoder.encode(batch: batch)
        let ns = Double(monotonicNanos() - t0)
        let bytes = Double(encoder.out.count)
        rates.append(bytes / ns * 1e3)
        perLine.append(ns / Double(lines))
        bytesPerLine = bytes / Double(lines)
      } while monotonicNanos() < deadline
    }
    return Result(
      mbPerSecond: Summary(rates).median, nsPerLine: Summary(perLine).median, bytesPerLine: bytesPerLine)
  }

  /// Encodes at least `lines` lines of the echo mix with one encoder, nothing else: run under
  /// `valgrind --tool=memcheck` at two sizes, the difference in "total heap usage: N allocs" over
  /// the difference in lines is the allocations per encoded line (0 when measured: 1 batch and
  /// 15 batches of the echo mix made the same number of allocations).
  static func encodeOnly(lines: Int) {
    let records = echoMix()
    var encoder = JSONLineEncoder()
    var done = 0
    records.withUnsafeBufferPointer { batch in
      repeat {
        encoder.out.removeAll(keepingCapacity: true)
        done += encoder.encode(batch: batch)
      } while done < lines
    }
  }

  /// Stamps `seq`, `ts` and `tid` as the recorder would: ts about 1.3 µs apart, four workers.
  struct Clock {
    var seq: UInt64 = 1
    var ts: UInt64 = 3_600_000_000_000  // an hour into the trace: 13-digit timestamps
    var rng: UInt64 = 0x9e37_79b9_7f4a_7c15

    mutating func random(_ n: Int) -> Int {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(rng >> 33) % n
    }

    mutating func stamp(_ r: TraceRecord, tid: Int32) -> TraceRecord {
      var r = r
      r.seq = seq
      r.ts = ts
      r.tid = tid
      seq += 1
      ts += UInt64(300 + random(2000))
      return r
    }
  }

  static func echoMix() -> [TraceRecord] {
    var clock = Clock()
    var out: [TraceRecord] = []
    while out.count < batchSize {
      let ready = 1 + clock.random(4)
      let fds = (0..<ready).map { _ in Int64(12 + clock.random(500)) }
      out.append(
        clock.stamp(
          TraceRecord(
            .epollWait, ret: Int64(ready), a: 3, b: 128, c: -1, d: Int64(2000 + clock.random(90_000)),
            e: Int64(ready)),
          tid: 4712))
      for fd in fds {
        out.append(TraceRecord(.readyItem, a: fd, b: fd * 3 + 1, c: 0x1 | 0x4))
      }
      for fd in fds {
        let tid = Int32(4713 + clock.random(3))
        let task = fd * 2 + 1
        out.append(clock.stamp(TraceRecord(.wake, a: task, b: fd, c: 1, d: 0), tid: 4712))
        out.append(clock.stamp(TraceRecord(.read, ret: 1024, a: fd, b: 65536), tid: tid))
        out.append(clock.stamp(TraceRecord(.write, ret: 1024, a: fd, b: 1024), tid: tid))
        out.append(clock.stamp(TraceRecord(.read, ret: -1, errno: 11, a: fd, b: 65536), tid: tid))
        out.append(clock.stamp(TraceRecord(.park, a: task, b: fd, c: 1), tid: tid))
      }
    }
    return out
  }

  static func uringCompletionMix() -> [TraceRecord] {
    var clock = Clock()
    var out: [TraceRecord] = []
    var generation: Int64 = 1
    while out.count < batchSize {
      let fd = Int64(12 + clock.random(500))
      let task = fd * 2 + 1
      let tid = Int32(4713 + clock.random(3))
      for (op, mode) in [(Int64(27), Int64(1)), (26, 2)] {  // RECV, then SEND the reply
        let userData: Int64 = 1 << 62 | generation << 32 | (fd - 12)
        generation += 1
        out.append(clock.stamp(TraceRecord(.park, a: task, b: fd, c: mode), tid: tid))
        out.append(clock.stamp(TraceRecord(.uringSQE, a: op, b: fd, c: userData, d: 0), tid: tid))
        out.append(
          clock.stamp(
            TraceRecord(
              .uringEnter, ret: 1, a: 5, b: 1, c: 1, d: 1 | 8, e: Int64(1500 + clock.random(60_000))),
            tid: 4712))
        out.append(clock.stamp(TraceRecord(.uringCQE, ret: 1024, a: userData, b: fd, c: 0), tid: 4712))
        out.append(clock.stamp(TraceRecord(.wake, a: task, b: fd, c: mode, d: 0), tid: 4712))
      }
    }
    return out
  }
}
