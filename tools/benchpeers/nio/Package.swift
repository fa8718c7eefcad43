// swift-tools-version: 6.0
// The SwiftNIO peer for tools/bench: its own package, so the runtime never depends on NIO.
// tools/bench builds it with `swift build -c release --scratch-path .build-nio`.
import PackageDescription

let package = Package(
  name: "nio-peer",
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio", "2.101.2"..<"2.102.0")
  ],
  targets: [
    .executableTarget(
      name: "NIOPeer",
      dependencies: [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ])
  ],
  swiftLanguageModes: [.v6]
)
