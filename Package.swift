// swift-tools-version:6.0
// shd — a Linux system-health alerting daemon.
import PackageDescription

// Release builds for the .deb add --static-swift-stdlib on the command line (see Makefile).
let package = Package(
    name: "shd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "shd", targets: ["shd"]),
    ],
    targets: [
        // Linux syscalls Swift's Glibc module lacks: epoll, timerfd, signalfd, inotify.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        // libcurl, dlopened on first need (not linked): typed wrappers around one table of dlsym'd functions.
        // <curl/curl.h> for types and constants comes from libcurl4-openssl-dev; at run time, libcurl4.
        .target(name: "CCurl", path: "Sources/CCurl"),
        // libsystemd (sd-bus for the systemd worker, sd-journal for the journal source), dlopened on first need the
        // same way. <systemd/sd-*.h> come from libsystemd-dev; at run time, libsystemd0 (shd runs without it).
        .target(name: "CSystemd", path: "Sources/CSystemd"),
        // OpenSSL's libcrypto, dlopened on first need (not linked): certificates are parsed and verified through one table
        // of dlsym'd functions. <openssl/*.h> for types comes from libssl-dev; at run time, libssl3.
        .target(name: "CCrypto", path: "Sources/CCrypto"),
        // libmicrohttpd, dlopened on first need, for the optional HTTP endpoint (`set http_listen`); <microhttpd.h>
        // from libmicrohttpd-dev is read by the C file only; at run time, libmicrohttpd12.
        .target(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD"),
        // The I/O kit, one home per primitive: monotonic clock, folder listing, whole-file read, atomic write.
        .target(name: "Kit", dependencies: ["CLinux"]),
        // The three report shapes, JSON values, RFC 3339 time, the field catalog. No I/O.
        .target(name: "Reports"),
        // Workers and functions over /proc and /sys, each with a pure parser.
        .target(name: "Workers", dependencies: ["Reports", "Kit", "CLinux", "CSystemd"]),
        // What the rule engine hands the notifier and the configuration's declarations: alert events, severity,
        // config values, source locations, channel declarations, the settings and channel-option table. No I/O.
        .target(name: "Alerting", dependencies: ["Reports"]),
        // The rule language: lexer, parser, checker, evaluator, diagnostics, rule tests (the runner; the command is in CLI).
        .target(name: "Rules", dependencies: ["Alerting", "Reports", "Kit"]),
        // Channels, payloads, spool and delivery over libcurl's multi-socket API (not the rule compiler: no Rules).
        .target(name: "Notify", dependencies: ["Alerting", "Reports", "Kit", "CCurl", "CLinux"]),
        // Declared probes (tcp, http, tls, certificate files) run on the loop through libcurl and libcrypto.
        .target(name: "Probes", dependencies: ["Notify", "Rules", "Reports", "Kit", "CCrypto"]),
        // The composition root: event loop, snapshot, outputs, state, reload, daemonize.
        .target(name: "Daemon", dependencies: ["Workers", "Rules", "Notify", "Probes", "Alerting", "Reports", "Kit", "CLinux", "CMicroHTTPD", "CSystemd"]),
        // The command table (parsing, --help, usage errors, completions) and the commands that are not the daemon.
        .target(name: "CLI", dependencies: ["Daemon", "Rules", "Alerting", "Workers", "Reports", "Kit"]),
        // The program: blocks the handled signals, then hands the arguments to CLI.
        .executableTarget(name: "shd", dependencies: ["CLI", "Daemon"]),
        // In-process rule benchmarks (BENCHMARKS.md, scripts/bench-rules); not shipped.
        .executableTarget(name: "shd-bench", dependencies: ["Rules", "Workers", "Reports", "Kit"], path: "Sources/shd-bench"),

        // Test targets declare exactly the modules their files import.
        .target(name: "TestSupport", dependencies: ["Reports", "Kit"], path: "Tests/TestSupport"),
        .testTarget(name: "ReportsTests", dependencies: ["Reports"]),
        .testTarget(name: "WorkersTests", dependencies: ["Workers", "Reports", "Kit", "CSystemd", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "Alerting", "Workers", "Reports", "Kit", "TestSupport"]),
        .testTarget(name: "NotifyTests", dependencies: ["Notify", "Alerting", "Reports", "Kit", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "Notify", "Rules", "Reports", "Kit", "TestSupport"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Rules", "Alerting", "Workers", "Reports", "Kit", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "CLITests", dependencies: ["CLI", "Workers", "Reports", "Kit", "TestSupport"]),
        .testTarget(name: "SecurityTests", dependencies: ["Reports", "Kit", "TestSupport"]),
    ]
)
