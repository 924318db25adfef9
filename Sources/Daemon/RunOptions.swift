// Settings of `shd run`: command-line flags over shd.conf `set` statements over defaults (the defaults and the
// names are those of the one settings table, `KnownSettings` in Alerting/Settings.swift).
import Alerting
import Reports
import Workers

/// What `shd run` was told on the command line; nil = not given (shd.conf or the default decides).
public struct RunFlags: Sendable {
    public var config: String?
    public var rules: String?
    public var stateDir: String?
    public var textfileDir: String?
    public var procRoot: String?
    public var sysRoot: String?
    public var etcRoot: String?
    public var rootFS: String?
    public var logLevel: String?
    public var daemonize = false
    public var pidfile: String?
    public var interval: Double?
    /// `--socket PATH` (`""`: none).
    public var controlSocket: String?
    public init() {}
}

/// The resolved settings the daemon runs with.
public struct DaemonSettings: Sendable, Equatable {
    public static let defaultConfig = "/etc/shd/shd.conf"
    public static let defaultRules = "/etc/shd/rules.d"

    public var configFile: String?
    public var rulesDir: String
    public var stateDir = KnownSettings.stateDir.defaultString
    public var textfileDir: String?
    public var roots = SourceRoots()
    public var logLevel: LogLevel = LogLevel(name: KnownSettings.logLevel.defaultString) ?? .info
    public var pidfile = KnownSettings.pidfile.defaultString
    public var interval: Double = KnownSettings.interval.defaultSeconds
    /// How often functions that no rule reads are collected and report.json is rewritten (it is
    /// also rewritten on every alert change); every tick when a textfile is written, which exports
    /// everything.
    public var reportInterval: Double = KnownSettings.reportInterval.defaultSeconds
    public var workerIntervals: [String: Double] = [:]
    public var workers: [String] = []
    public var hostname: String?
    /// `set history_max_size`: the alert log's rotation size in bytes.
    public var historyMaxSize = Int(KnownSettings.historyMaxSize.defaultNumber)
    /// The control socket's path; empty: no socket.
    public var controlSocket = KnownSettings.controlSocket.defaultString
    /// The group that may use the control socket besides root.
    public var controlGroup = KnownSettings.controlGroup.defaultString
    /// The HTTP endpoint (`set http_listen`), off when nil.
    public var httpListen: ListenAddress?
    public var httpAuthFile: String?
    public var httpTLSCertFile: String?
    public var httpTLSKeyFile: String?
    /// The daemon's worker options: like `shd report`'s, except that TCP states are not counted
    /// unless `set tcp_states true` (reading /proc/net/tcp costs the kernel a walk of its whole
    /// connection table every tick, more than all other collection together on an idle server).
    public var workerOptions: WorkerOptions = {
        var o = WorkerOptions()
        o.tcpStateCounts = KnownSettings.tcpStates.defaultBool
        return o
    }()

    /// Workers whose interval, unless `interval.NAME` is set, is never shorter than this: the
    /// processes worker reads every `/proc/PID/stat`, the one cost that grows with the host (a
    /// third of an idle daemon's CPU at 1 s with 75 processes, more with thousands), for data that
    /// moves slowly (zombies piling up, fd use). `set interval.processes 1s` walks every second.
    public static let defaultMinimumIntervals: [String: Double] = ["processes": 10]

    public func interval(of worker: String) -> Double {
        workerIntervals[worker] ?? max(interval, Self.defaultMinimumIntervals[worker] ?? 0)
    }

    /// Files and folders the rule loader reads: the config file (if any) and the rules folder.
    public var rulePaths: [String] { (configFile.map { [$0] } ?? []) + [rulesDir] }

    /// Config file and rules folder from the flags, before shd.conf is read.
    public static func locate(_ f: RunFlags) -> DaemonSettings {
        // Without --rules: /etc/shd/rules.d, else a rules.d in the current folder (a clone of the
        // repository), else /etc/shd/rules.d anyway so the error names the usual place.
        let rules = f.rules ?? (fileExists(defaultRules) ? defaultRules : fileExists("rules.d") ? "rules.d" : defaultRules)
        var s = DaemonSettings(rulesDir: rules)
        if let c = f.config {
            s.configFile = c
        } else if fileExists(defaultConfig) {
            s.configFile = defaultConfig
        }
        return s
    }

    /// Applies `set` statements, then the flags (which win).
    public mutating func apply(settings: [String: ConfigValue], flags f: RunFlags) throws(UsageError) {
        typealias K = KnownSettings
        for (name, value) in settings {
            switch name {
            case K.interval.name: interval = try positiveDuration(name, value)
            case K.reportInterval.name: reportInterval = try positiveDuration(name, value)
            case K.workers.name: workers = try stringList(name, value)
            case K.stateDir.name: stateDir = try string(name, value)
            case K.textfileDir.name: textfileDir = try string(name, value)
            case K.procRoot.name: roots.proc = try string(name, value)
            case K.sysRoot.name: roots.sys = try string(name, value)
            case K.rootFS.name: roots.rootFS = try string(name, value)
            case K.logLevel.name:
                let t = try string(name, value)
                guard let l = LogLevel(name: t) else { throw UsageError("set log_level: unknown level '\(t)'") }
                logLevel = l
            case K.pidfile.name: pidfile = try string(name, value)
            case K.hostname.name: hostname = try string(name, value)
            case K.excludeFstypes.name: workerOptions.excludedFilesystemTypes.formUnion(try stringList(name, value))
            case K.excludeMounts.name: workerOptions.excludedMountPrefixes += try stringList(name, value)
            case K.excludeUnits.name: workerOptions.excludedUnits = try stringList(name, value)
            case K.topProcesses.name:
                let n = value.numberValue ?? K.topProcesses.defaultNumber
                guard K.topProcesses.accepts(n) else { throw UsageError("set top_processes: expected a whole number from \(K.topProcesses.rangeText!)") }
                workerOptions.topProcesses = Int(n)
            case K.tcpStates.name:
                guard case .bool(let b) = value else { throw UsageError("set tcp_states: expected true or false") }
                workerOptions.tcpStateCounts = b
            case K.httpListen.name:
                let t = try string(name, value)
                guard let a = ListenAddress(t) else { throw UsageError("set http_listen: '\(t)' is not \(ListenAddress.expected)") }
                httpListen = a
            case K.httpAuthFile.name: httpAuthFile = try string(name, value)
            case K.httpTLSCertFile.name: httpTLSCertFile = try string(name, value)
            case K.httpTLSKeyFile.name: httpTLSKeyFile = try string(name, value)
            case K.defaultChannels.name, K.sendResolvedSilenced.name, K.flapTransitions.name, K.flapWindow.name, K.flapStable.name:
                break  // the rule engine reads them
            case K.historyMaxSize.name:
                guard let n = value.numberValue, K.historyMaxSize.accepts(n) else {
                    throw UsageError("set history_max_size: expected a size from \(K.historyMaxSize.rangeText!)")
                }
                historyMaxSize = Int(n)
            case K.controlSocket.name: controlSocket = try string(name, value)
            case K.controlGroup.name: controlGroup = try string(name, value)
            default:
                if name.hasPrefix("interval.") {
                    workerIntervals[String(name.dropFirst("interval.".count))] = try positiveDuration(name, value)
                }
            }
        }
        if (httpTLSCertFile == nil) != (httpTLSKeyFile == nil) {
            throw UsageError("set http_tls_cert_file and http_tls_key_file: one needs the other")
        }
        if let v = f.stateDir { stateDir = v }
        if let v = f.textfileDir { textfileDir = v }
        if let v = f.procRoot { roots.proc = v }
        if let v = f.sysRoot { roots.sys = v }
        if let v = f.etcRoot { roots.etc = v }
        if let v = f.rootFS { roots.rootFS = v }
        if let v = f.pidfile { pidfile = v }
        if let v = f.controlSocket { controlSocket = v }
        if let v = f.interval {
            guard v > 0 else { throw UsageError("--interval must be positive") }
            interval = v
        }
        if let v = f.logLevel {
            guard let l = LogLevel(name: v) else { throw UsageError("--log-level: unknown level '\(v)' (error, warning, notice, info, debug)") }
            logLevel = l
        }
    }

    private func string(_ n: String, _ v: ConfigValue) throws(UsageError) -> String {
        guard case .string(let s) = v else { throw UsageError("set \(n): expected a string") }
        return s
    }

    private func stringList(_ n: String, _ v: ConfigValue) throws(UsageError) -> [String] {
        switch v {
        case .string(let s): return [s]
        case .list(let l):
            var out: [String] = []
            for e in l {
                guard case .string(let s) = e else { throw UsageError("set \(n): expected a list of strings") }
                out.append(s)
            }
            return out
        default: throw UsageError("set \(n): expected a list of strings")
        }
    }

    private func positiveDuration(_ n: String, _ v: ConfigValue) throws(UsageError) -> Double {
        guard let d = v.numberValue, d > 0 else { throw UsageError("set \(n): expected a positive duration such as 10s") }
        return d
    }
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

#if canImport(Glibc)
import Glibc
#endif
