// Reading kernel files that belong to optional features: absent means "no data", not failure.

extension KernelFile {
    /// The file's bytes, or nil when it does not exist (IPv6 off, no md driver, no sensors).
    /// Other failures (EACCES, EIO) still throw.
    ///
    /// - Important: only for a file whose absence means the kernel lacks the feature. A file every
    ///   kernel has (net/dev, diskstats, mountinfo, sockstat) is read with `read()`: its absence is an
    ///   error that names it, never "no rows".
    public func readIfPresent() throws(ReadError) -> [UInt8]? {
        do {
            return try read()
        } catch {
            if error.isMissing { return nil }
            throw error
        }
    }
}
