import Foundation
import Testing

@testable import NetPollAnalysis

/// A copy of a sample trace in a fresh directory, and its bytes.
private func traceCopy(_ name: String = "deadline-epoll") throws -> (path: String, bytes: Data) {
  let bytes = try Data(contentsOf: URL(fileURLWithPath: sampleTrace(name)))
  return (try temporaryTrace(bytes, name: "\(name).jsonl"), bytes)
}

private func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

private func directory(of path: String) -> String {
  URL(fileURLWithPath: path).deletingLastPathComponent().path
}

@Suite("Output paths: no command writes over a trace")
struct OutputPathTests {
  @Test("export -o the input is refused, even with --force, and the trace is untouched")
  func exportOntoInput() throws {
    let (trace, bytes) = try traceCopy()
    for force in [false, true] {
      let error = try #require(throws: TraceError.self) {
        try PerfettoExport.run(input: trace, output: trace, force: force)
      }
      #expect(error.description.hasPrefix("\(trace): is the input"))
      #expect(!error.description.contains("\n"))
      #expect(try contents(trace) == bytes)
    }
  }

  @Test("diff --html onto trace A is refused, even with --force, and A is untouched")
  func htmlOntoInput() throws {
    let (a, bytes) = try traceCopy()
    let b = sampleTrace("deadline-uring")
    #expect(throws: TraceError.self) { try checkOutputPath(a, inputs: [a, b], force: true) }
    let report = try HTMLReport.run(pathA: a, pathB: b)
    for force in [false, true] {
      let error = try #require(throws: TraceError.self) { try report.write(to: a, force: force) }
      #expect(error.message.hasPrefix("is the input"))
    }
    #expect(try contents(a) == bytes)
  }

  @Test("another spelling of the input's path, or a hard link to it, is the input")
  func sameFileOtherName() throws {
    let (trace, bytes) = try traceCopy()
    let dir = directory(of: trace)
    let dotted = dir + "/./../" + URL(fileURLWithPath: dir).lastPathComponent + "/deadline-epoll.jsonl"
    let hardLink = dir + "/link.jsonl"
    try FileManager.default.linkItem(atPath: trace, toPath: hardLink)
    for output in [dotted, hardLink] {
      let error = try #require(throws: TraceError.self) {
        try PerfettoExport.run(input: trace, output: output, force: true)
      }
      #expect(error.message.hasPrefix("is the input"))
    }
    #expect(try contents(trace) == bytes)
  }

  @Test("-o - is refused when standard output is the input's file (1<>TRACE, >>TRACE), even with --force")
  func standardOutputOntoInput() throws {
    let (trace, bytes) = try traceCopy()
    // The descriptor stands for standard output: this process's own is the test runner's.
    for flags in [O_RDWR, O_WRONLY | O_APPEND] {
      let fd = open(trace, flags)
      try #require(fd >= 0)
      defer { close(fd) }
      let error = try #require(throws: TraceError.self) {
        try OutputFile.check("-", inputs: [trace], force: true, standardOutput: fd)
      }
      #expect(
        error.description
          == "-: standard output is the input \(trace); netpoll never writes over a file it reads, even with --force"
      )
    }
    let other = open(directory(of: trace) + "/other.json", O_WRONLY | O_CREAT | O_EXCL, 0o600)
    try #require(other >= 0)
    defer { close(other) }
    #expect(try OutputFile.check("-", inputs: [trace], force: false, standardOutput: other) == nil)
    #expect(try contents(trace) == bytes)
  }

  @Test("a path holding a newline or an escape is named escaped: the error stays one line")
  func controlCharactersInPath() throws {
    let (trace, _) = try traceCopy()
    let dir = directory(of: trace)
    let error = try #require(throws: TraceError.self) {
      try PerfettoExport.run(input: trace, output: dir + "/new\nline\u{1B}[2J/x.json")
    }
    #expect(
      error.description == dir
        + "/new\\nline\\u{1B}[2J/x.json: cannot create: No such file or directory (ENOENT)")
    let unreadable = try #require(throws: TraceError.self) {
      try PerfettoExport.run(input: dir + "/no\nsuch.jsonl", output: dir + "/out.json")
    }
    #expect(!unreadable.description.contains("\n"), "\(unreadable.description)")
  }

  @Test("an existing file is refused without --force and replaced with it")
  func existingFile() throws {
    let (trace, _) = try traceCopy()
    let out = directory(of: trace) + "/out.json"
    try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
    let error = try #require(throws: TraceError.self) { try PerfettoExport.run(input: trace, output: out) }
    #expect(error.description == "\(out): exists; netpoll does not replace a file unless given --force")
    #expect(try contents(out) == Data("keep me".utf8))
    try PerfettoExport.run(input: trace, output: out, force: true)
    #expect(try JSONSerialization.jsonObject(with: contents(out)) is [String: Any])
  }

  @Test("a symbolic link is never written through, even with --force")
  func symbolicLink() throws {
    let (trace, _) = try traceCopy()
    let dir = directory(of: trace)
    let target = dir + "/target.txt"
    try Data("target".utf8).write(to: URL(fileURLWithPath: target))
    let link = dir + "/link.json"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    let dangling = dir + "/dangling.json"
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir + "/nowhere.json")
    for output in [link, dangling] {
      let error = try #require(throws: TraceError.self) {
        try PerfettoExport.run(input: trace, output: output, force: true)
      }
      #expect(error.message.hasPrefix("is a symbolic link"))
    }
    #expect(try contents(target) == Data("target".utf8))
    #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere.json"))
    // A link to the input is the input.
    let toInput = dir + "/to-input.json"
    try FileManager.default.createSymbolicLink(atPath: toInput, withDestinationPath: trace)
    #expect(throws: TraceError.self) { try PerfettoExport.run(input: trace, output: toInput, force: true) }
  }

  @Test("a new file is created 0644 (less the umask); /dev/null and - are written as they are")
  func newFileMode() throws {
    let (trace, _) = try traceCopy()
    let out = directory(of: trace) + "/new.json"
    try PerfettoExport.run(input: trace, output: out)
    let mode = try #require(try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int)
    #expect(mode & 0o7133 == 0)  // never executable, never writable by others
    #expect(mode & 0o600 == 0o600)
    try PerfettoExport.run(input: trace, output: "/dev/null")
    let report = try HTMLReport.run(pathA: trace, pathB: trace)
    try report.write(to: "/dev/null")
  }
}
