// Listing a folder: the one readdir loop (names read through shd_dirent_name, never d_name).
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Names in a folder, without `.` and `..`, in the order readdir gives them.
public func readDirectory(_ path: String) throws(FileError) -> [String] {
    guard let d = opendir(path) else { throw FileError(operation: "opendir", path: path, errno: errno) }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = String(cString: shd_dirent_name(e))
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Names in a folder, without `.` and `..`; empty when the folder does not exist or cannot be read.
public func listDirectory(_ path: String) -> [String] {
    (try? readDirectory(path)) ?? []
}
