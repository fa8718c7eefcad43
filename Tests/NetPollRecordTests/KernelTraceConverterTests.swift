import Testing

@testable import NetPollRecord

private func record(_ text: String) -> KernelRecord? {
  var bytes = Array(text.utf8)
  return bytes.withUnsafeMutableBytes { KernelRecord.parse(UnsafeRawBufferPointer($0)) }
}

private func convert(_ lines: [String]) -> [String] {
  let c = KernelTraceConverter(startNanos: 1000, reorderWindowNanos: 10)
  for l in lines { c.consume(record(l)!) }
  c.drain()
  return String(decoding: c.takeBytes(), as: UTF8.self).split(separator: "\n").map(String.init)
}

@Test func `a record line parses to its code and integers, unsigned values as their bit pattern`() throws {
  let r = try #require(record("K 12 5000 18446744073709551615 -104 2"))
  #expect(r.code == UInt8(ascii: "K"))
  #expect(r.count == 5)
  #expect(r[2] == -1)
  #expect(r[3] == -104)
  #expect(record("Attaching 49 probes...") == nil)
  #expect(record("@sock[3]: 1") == nil)
}

@Test func `records are written in time order, epoll_ctl at its entry time before the wait it caused`() {
  let out = convert([
    "R 7 1 42 0 0 0 0 0 0",
    "W 7 3000 5 128 -1 1 500",
    "T 8 2000 5 1 9 2147483653 42 0",
  ])
  #expect(out.count == 2)
  #expect(
    out[0].hasPrefix(
      #"{"seq":1,"ts":1000,"tid":8,"ev":"epoll_ctl","epfd":5,"op":"ADD","fd":9,"events":["EPOLLIN","EPOLLOUT","EPOLLET"],"tag":42,"ret":0"#
    ))
  #expect(out[1].contains(#""ready":[{"fd":9,"tag":42,"events":["EPOLLIN"]}]"#))
  #expect(out[1].contains(#""seq":2,"ts":2000"#))
}

@Test func `a failed call has ret -1 and the errno by name`() {
  let out = convert(["I 3 2000 7 4096 -11 1"])
  #expect(
    out[0]
      == #"{"seq":1,"ts":1000,"tid":3,"ev":"read","fd":7,"len":4096,"ret":-1,"errno":"EAGAIN","syscall":"recvfrom"}"#
  )
}

@Test func `a CQE names the fd of the SQE with the same user_data`() {
  let out = convert(["Q 3 2000 6 9 77 0", "K 3 2100 77 1 2", "K 3 2200 77 -125 0"])
  #expect(out[1].contains(#""fd":9"#))
  #expect(out[2].contains(#""res":-125,"flags":[],"fd":9,"errno":"ECANCELED""#))
}

@Test func `the trace_start line keeps its length when the backend is filled in`() {
  let h = RecordedTraceFile.TraceHeader(pid: 1, command: "x", wall: "2026-01-01T00:00:00.000000Z")
  let a = RecordedTraceFile.startLine(h, backend: "unknown", note: "")
  let b = RecordedTraceFile.startLine(h, backend: "epoll", note: "seen by eBPF: 10 epoll calls")
  #expect(a.count == b.count)
  #expect(String(decoding: b, as: UTF8.self).contains(#""source":"ebpf","backend":"epoll""#))
}

@Test func `shuffled records inside the window come out in time order, ties in arrival order`() {
  var times = (0..<500).map { 2000 + ($0 / 2) * 10 }  // pairs of equal times
  var generator = SystemRandomNumberGenerator()
  times.shuffle(using: &generator)
  let c = KernelTraceConverter(startNanos: 1000, reorderWindowNanos: 1_000_000)
  for (n, t) in times.enumerated() { c.consume(record("X 3 \(t) \(n) 0")!) }
  c.drain()
  let lines = String(decoding: c.takeBytes(), as: UTF8.self).split(separator: "\n")
  let stamps = lines.map { line in Int(line.split(separator: ",")[1].dropFirst(5))! }
  let fds = lines.map { line in Int(line.split(separator: "\"fd\":")[1].prefix { $0.isNumber })! }
  #expect(stamps == times.sorted().map { $0 - 1000 })
  for k in stride(from: 0, to: fds.count, by: 2) {
    #expect(times.firstIndex(of: stamps[k] + 1000)! == fds[k])
  }
  #expect(c.lateRecords == 0)
}

@Test func `interleaved ordered runs and stragglers come out in time order, ties in arrival order`() {
  // Two "CPUs" delivering sorted batches that overlap in time, plus records late by up to 50.
  var times: [Int] = []
  for batch in 0..<20 {
    let base = 2000 + batch * 100
    times += (0..<30).map { base + $0 * 5 }  // CPU 0's batch, in order
    times += (0..<30).map { base - 60 + $0 * 5 }  // CPU 1's batch, older, in order
    times += [base + 7, base - 50, base + 7]  // stragglers, one tie
  }
  let c = KernelTraceConverter(startNanos: 1000, reorderWindowNanos: 1_000)
  for (n, t) in times.enumerated() { c.consume(record("X 3 \(t) \(n) 0")!) }
  c.drain()
  let lines = String(decoding: c.takeBytes(), as: UTF8.self).split(separator: "\n")
  let order = lines.map { line in Int(line.split(separator: "\"fd\":")[1].prefix { $0.isNumber })! }
  let expected = times.indices.sorted { (times[$0], $0) < (times[$1], $1) }
  #expect(order == expected)
  #expect(c.lateRecords == 0)
}
