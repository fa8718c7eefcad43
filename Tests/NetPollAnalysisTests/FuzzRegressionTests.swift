import Foundation
import NetPollAnalysis
import Testing

/// Inputs that crashed (or would have crashed) a tool, kept as fixtures: `Fixtures/fuzz/` holds the
/// crash inputs `tools/fuzz-reader` finds, plus hand-made ones for the same bugs. Each must read to
/// an end or to a one-line `TraceError`, through every tool, without trapping.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
  /// The saved inputs. A folder that cannot be listed gives no names here (the parameterised
  /// test would then pass with zero cases): `fixturesArePresent` fails instead.
  static let inputs: [String] = {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixture("fuzz"))) ?? []).sorted()
  }()

  @Test("the fuzz fixture folder is there and holds the saved inputs")
  func fixturesArePresent() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: fixture("fuzz"))
    #expect(names.contains("huge-fd-numbers.jsonl"))
    #expect(names.count >= 2, "fuzz fixtures: \(names)")
    #expect(Self.inputs.count == names.count)
  }

  @Test("every saved fuzz input ends in events or one TraceError, in every tool", arguments: inputs)
  func survives(name: String) throws {
    let path = fixture("fuzz/" + name)
    do {
      _ = try TraceReplay.run(path: path, options: ReplayOptions(fd: 7, task: 2))
      _ = try TraceStats.run(path: path)
      _ = try TraceDiff.run(pathA: path, pathB: path)
      _ = try PerfettoExport.run(input: path, output: "/dev/null")
    } catch {
      #expect(!error.description.isEmpty)
      #expect(!error.description.contains("\n"))
    }
  }

  @Test("fd numbers far beyond any real process cost one entry each, not a table that size")
  func hugeFDs() throws {
    let path = fixture("fuzz/huge-fd-numbers.jsonl")
    let report = try TraceReplay.run(path: path)
    #expect(report.summary.fds >= 3)
    let stats = try TraceStats.run(path: path)
    #expect(stats.requests == 1)
    #expect(stats.topFDsByEvents.first?.fd == 1_000_000_000_000)
  }
}
