import Foundation

/// Where a command writes: standard output and error, or buffers in tests.
public final class Console {
    /// Everything written to standard output, when capturing.
    public private(set) var capturedOutput = ""
    /// Everything written to standard error, when capturing.
    public private(set) var capturedError = ""
    private let capturing: Bool

    /// A console writing to the process's standard streams.
    public static func standard() -> Console { Console(capturing: false) }
    /// A console that keeps everything in memory (for tests).
    public static func capture() -> Console { Console(capturing: true) }

    private init(capturing: Bool) { self.capturing = capturing }

    /// True when diagnostics on standard error may use colour: a terminal, and `NO_COLOR`
    /// unset (https://no-color.org).
    public var colorsErrors: Bool {
        guard !capturing else { return false }
        if let value = ProcessInfo.processInfo.environment["NO_COLOR"], !value.isEmpty { return false }
        return isatty(2) != 0
    }

    /// True when standard output is a terminal (for live progress lines).
    public var outputIsTerminal: Bool { !capturing && isatty(1) != 0 }

    /// Writes `text` to standard output without adding a newline (progress lines).
    public func printRaw(_ text: String) {
        if capturing { capturedOutput += text } else { FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    /// Writes `text` to standard error without adding a newline.
    public func errorRaw(_ text: String) {
        if capturing { capturedError += text } else { FileHandle.standardError.write(Data(text.utf8)) }
    }

    /// Writes `text` and a newline to standard output.
    public func print(_ text: String) {
        if capturing {
            capturedOutput += text + "\n"
        } else {
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }

    /// Writes `text` and a newline to standard error.
    public func error(_ text: String) {
        if capturing { capturedError += text + "\n" } else { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    }
}
