// Where the officer's confirmed emails and group handles are kept between check-ins: a
// small JSON file in the app's Application Support directory, beside the core's state.
//
// Why a file and not UserDefaults: it is written atomically, is excluded from backups
// with the rest of the state (a restored backup on another phone must not report this
// phone's accounts), and the tests can point it at a temporary directory.
import Foundation

public struct AccountsStore: Sendable {
    public let url: URL

    /// The store in `directory` (the app passes its state directory).
    public init(directory: URL) {
        self.url = directory.appendingPathComponent("confirmed-accounts.json")
    }

    /// What the officer confirmed; empty (not confirmed) before the first save or when
    /// the file cannot be read (the confirm screen then asks again).
    public func load() -> ConfirmedAccounts {
        guard let data = try? Data(contentsOf: url),
            let accounts = try? JSONDecoder().decode(ConfirmedAccounts.self, from: data)
        else { return ConfirmedAccounts() }
        return accounts
    }

    public func save(_ accounts: ConfirmedAccounts) throws {
        let data = try JSONEncoder().encode(accounts)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: [.atomic, .completeFileProtectionUntilFirstUserAuthentication])
    }
}

/// Whether this state directory is a new installation's: a marker file written once.
///
/// Why: iOS keeps an app's Keychain items when it is deleted and installed again, but not
/// its files. A fresh installation must not reuse the old device key (the server refuses
/// a key it enrolled or revoked before), so the app forgets the keys when the marker is
/// missing.
public enum InstallationMarker {
    static let fileName = "installation"

    /// True the first time it is called for `directory` (and writes the marker).
    public static func claim(in directory: URL) -> Bool {
        let marker = directory.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: marker.path) { return false }
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? Data(UUID().uuidString.utf8).write(to: marker, options: .atomic)
        return true
    }
}
