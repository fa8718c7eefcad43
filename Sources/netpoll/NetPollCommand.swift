import ArgumentParser

/// The `netpoll` command: a thin layer that parses, validates and calls the libraries.
@main
struct NetPollCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "netpoll",
    abstract: "Run a traced Go-style netpoll server and look inside its traces.",
    subcommands: [
      Serve.self, Load.self, Replay.self, Stats.self, Diff.self, Export.self, Record.self,
    ])
}
