import ArgumentParser

// Placeholder: filled by the trace-tools work (issue 4).
struct Stats: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Not yet implemented.")
  func run() async throws { throw ValidationError("not implemented yet") }
}
