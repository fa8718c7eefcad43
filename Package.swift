// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "netpoll",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "NetPoll", targets: ["NetPoll"]),
    .library(name: "NetPollTrace", targets: ["NetPollTrace"]),
    .library(name: "NetPollServer", targets: ["NetPollServer"]),
    .library(name: "NetPollAnalysis", targets: ["NetPollAnalysis"]),
    .executable(name: "netpoll", targets: ["netpoll"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
  ],
  targets: [
    // Thread-id cache and the few libc macros Swift cannot import.
    .target(name: "CNetPollShims"),
    // liburing, through a header that includes <sys/socket.h>, <sys/select.h> and <poll.h> first
    // (a clean build with <liburing.h> alone fails on an fd_set conflict with Glibc).
    .systemLibrary(
      name: "CURing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
    .target(name: "NetPollTrace", dependencies: ["CNetPollShims"]),
    // Async functions run on their caller's executor unless marked `@concurrent`: each hop
    // to the generic executor costs a task with an executor preference a walk of its status
    // records under their lock (about a tenth of the CPU per request on uring-completion).
    .target(
      name: "NetPoll", dependencies: ["NetPollTrace", "CNetPollShims", "CURing"],
      swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
    // Applications on the runtime: the echo/HTTP server and the load generator.
    .target(
      name: "NetPollServer", dependencies: ["NetPoll", "NetPollTrace", "CNetPollShims"],
      swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
    .target(
      name: "NetPollAnalysis",
      dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]),
    // `netpoll record`: another process's epoll and io_uring calls, through bpftrace, as a trace.
    .target(name: "NetPollRecord", dependencies: ["NetPollTrace"]),
    .target(
      name: "NetPollLiveReplay",
      dependencies: ["NetPoll", "NetPollServer", "NetPollTrace", "NetPollAnalysis"]),
    .executableTarget(
      name: "netpoll",
      dependencies: [
        "NetPoll", "NetPollServer", "NetPollTrace", "NetPollAnalysis", "NetPollLiveReplay", "NetPollRecord",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "netpoll-bench", dependencies: ["NetPoll", "NetPollTrace"], path: "Sources/NetPollBench"),
    // What more than one test target needs (keeping the traces tests record for tools/check-sql);
    // no product ships it.
    .target(name: "NetPollTestSupport", path: "Tests/NetPollTestSupport"),
    .testTarget(
      name: "NetPollTests",
      dependencies: [
        "NetPoll", "NetPollServer", "NetPollTrace", "NetPollAnalysis", "NetPollLiveReplay",
        "NetPollTestSupport",
      ]),
    .testTarget(
      name: "NetPollTraceTests", dependencies: ["NetPollTrace", "NetPollTestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "NetPollRecordTests", dependencies: ["NetPollRecord"], exclude: ["Fixtures"]),
    .testTarget(
      name: "NetPollAnalysisTests", dependencies: ["NetPollAnalysis"], exclude: ["Fixtures"]),
  ],
  swiftLanguageModes: [.v6]
)
