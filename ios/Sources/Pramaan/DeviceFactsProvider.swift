// The core's `DeviceFacts` on iOS: what the phone can observe, read fresh at each
// enrollment and check-in, turned into the core's record by `FactsMapping` (plain Swift).
//
// - Sanctioned apps: `UIApplication.canOpenURL` on each app's URL scheme. iOS answers
//   only for schemes listed in Info.plist `LSApplicationQueriesSchemes` (every scheme of
//   the catalog is), and never says which version or who signed it.
// - Model: the hardware identifier from `uname` ("iPhone15,2"), not the marketing name.
// - Screen lock: `LAContext.canEvaluatePolicy(.deviceOwnerAuthentication)`, true when a
//   passcode is set (Face ID / Touch ID need one).
// - Emails and group handles: iOS lets no app read the phone's accounts, so they are what
//   the officer confirmed on the confirm screen (`AccountsStore`).
//
// UIApplication is main-thread only; the core calls `facts()` on the thread running the
// check-in (a background one), so the probes hop to the main queue.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import Foundation
import LocalAuthentication
import PramaanCore
import PramaanLogic
import UIKit

public final class DeviceFactsProvider: DeviceFacts, @unchecked Sendable {
    // @unchecked: immutable after init.
    private let accounts: AccountsStore
    private let sanctioned: [AppProbe]?

    /// `sanctioned`: the enrolled policy's apps (nil before enrollment: the whole catalog
    /// is probed). Use `forNextCall(agent:accounts:)` rather than reading them in
    /// `facts()`: the core holds the agent's lock while it asks for facts, so calling
    /// back into the agent from there would deadlock.
    public init(accounts: AccountsStore, sanctioned: [AppProbe]?) {
        self.accounts = accounts
        self.sanctioned = sanctioned
    }

    /// A provider for the next enrollment or check-in, with the policy's apps read now,
    /// before the core's call.
    public static func forNextCall(agent: Agent, accounts: AccountsStore) -> DeviceFactsProvider {
        DeviceFactsProvider(accounts: accounts, sanctioned: (try? agent.policySummary())?.apps)
    }

    public func facts() throws -> DeviceFactsRecord {
        let wanted = FactsMapping.appsToProbe(policy: sanctioned, catalog: appCatalog())
        let schemes = wanted.compactMap(\.iosUrlScheme)
        let (installed, systemVersion) = onMain { () -> (Set<String>, String) in
            let found = schemes.filter { scheme in
                guard let url = FactsMapping.probeURL(scheme: scheme) else { return false }
                return UIApplication.shared.canOpenURL(url)
            }
            return (Set(found.map { $0.lowercased() }), UIDevice.current.systemVersion)
        }
        let device = DeviceSnapshot(
            hardwareModel: Self.hardwareModel(), systemVersion: systemVersion, passcodeSet: Self.passcodeSet())
        return FactsMapping.record(
            device: device, probes: wanted, installedSchemes: installed, accounts: accounts.load())
    }

    /// `utsname.machine`, e.g. "iPhone15,2".
    static func hardwareModel() -> String {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return machine.isEmpty ? "iPhone" : machine
    }

    /// A passcode (and so any biometry) protects the phone.
    static func passcodeSet() -> Bool {
        var error: NSError?
        return LAContext().canEvaluatePolicy(.deviceOwnerAuthentication, error: &error)
    }

    private func onMain<T>(_ body: () -> T) -> T {
        Thread.isMainThread ? body() : DispatchQueue.main.sync(execute: body)
    }
}
