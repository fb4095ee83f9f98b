import Foundation

/// Reads a whole data file, failing with ``DataError/cannotRead(path:)`` or ``DataError/empty(path:)``.
func readDataFile(_ path: String) throws(DataError) -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
        let data = FileManager.default.contents(atPath: path)
    else { throw .cannotRead(path: path) }
    guard !data.isEmpty else { throw .empty(path: path) }
    return [UInt8](data)
}
