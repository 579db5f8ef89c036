// What the phone reports at each check-in, built from what the iOS layer could observe.
//
// Why plain Swift (Foundation and the core's bindings only): the mapping is the part of
// the facts that can be wrong in interesting ways (which apps to look for, what "not
// found" means, how typed emails are normalised), so it lives apart from UIKit and reads
// the same as the Android app's FactsMapping.kt. The platform layer
// (`DeviceFactsProvider.swift`) only answers `canOpenURL`, `utsname` and `LAContext`.
//
// What iOS can and cannot see: an app is found by opening one of its URL schemes, and
// only for schemes the app declares in Info.plist (`LSApplicationQueriesSchemes`); iOS
// never tells another app's version or signer. So an app is reported present with an
// empty version and no signer, and a sanctioned app without a URL scheme in the catalog
// (WhatsApp Business) cannot be looked for: it is left out rather than reported missing.
import Foundation
import PramaanCore

/// The device itself, as the platform layer read it.
public struct DeviceSnapshot: Equatable, Sendable {
    /// Hardware model identifier from `utsname.machine` ("iPhone15,2").
    public var model: String
    /// `UIDevice.current.systemVersion` ("17.5.1").
    public var osVersion: String
    /// `LAContext.canEvaluatePolicy(.deviceOwnerAuthentication)`: a passcode is set.
    public var screenLock: Bool

    public init(model: String, osVersion: String, screenLock: Bool) {
        self.model = model
        self.osVersion = osVersion
        self.screenLock = screenLock
    }
}

/// One messaging group the officer confirmed (or declined) on the confirm screen.
public struct ConfirmedGroup: Codable, Equatable, Sendable {
    public var platform: String
    public var group: String
    /// The officer says they are a member.
    public var member: Bool
    /// The officer's handle there (phone number, user name), matched against IT's roster.
    public var handle: String

    public init(platform: String, group: String, member: Bool, handle: String) {
        self.platform = platform
        self.group = group
        self.member = member
        self.handle = handle
    }
}

/// What the officer confirmed about accounts iOS does not let an app read.
public struct ConfirmedAccounts: Codable, Equatable, Sendable {
    /// Email accounts on this phone, as typed and confirmed.
    public var emails: [String]
    public var groups: [ConfirmedGroup]
    /// Whether the officer has been through the confirm screen at all.
    public var confirmed: Bool

    public init(emails: [String] = [], groups: [ConfirmedGroup] = [], confirmed: Bool = false) {
        self.emails = emails
        self.groups = groups
        self.confirmed = confirmed
    }
}

public enum FactsMapping {
    /// The most apps, groups and emails the server accepts in one attestation (design
    /// section 5: more is refused as malformed, so never send more).
    public static let maxApps = 64
    public static let maxGroups = 64
    public static let maxEmails = 16

    /// The apps to look for: the enrolled policy's sanctioned apps when there is a
    /// policy, else the built-in catalog; only those with both an iOS bundle id (what
    /// the facts report) and a URL scheme (the only way to look), each bundle once.
    public static func appsToProbe(policy: [AppProbe]?, catalog: [AppProbe]) -> [AppProbe] {
        let source = policy ?? catalog
        var seen = Set<String>()
        var out: [AppProbe] = []
        for app in source {
            guard let bundle = app.iosBundle, !bundle.isEmpty,
                let scheme = app.iosUrlScheme, !scheme.isEmpty,
                !seen.contains(bundle)
            else { continue }
            seen.insert(bundle)
            out.append(app)
        }
        return Array(out.prefix(maxApps))
    }

    /// The URL a scheme probe opens (`whatsapp://`); nil for a scheme that is not a
    /// valid URL scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
    public static func probeURL(scheme: String) -> URL? {
        guard let first = scheme.unicodeScalars.first,
            CharacterSet.letters.contains(first),
            scheme.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "+-.".unicodeScalars.contains($0)) })
        else { return nil }
        return URL(string: "\(scheme.lowercased())://")
    }

    /// Emails trimmed, lowercased and de-duplicated in the order typed; empty entries
    /// dropped; at most `maxEmails`.
    public static func normalizedEmails(_ emails: [String]) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for raw in emails {
            let e = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            guard !e.isEmpty, !seen.contains(e) else { continue }
            seen.insert(e)
            out.append(e)
        }
        return Array(out.prefix(maxEmails))
    }

    /// The record the core signs: `installedSchemes` are the schemes `canOpenURL`
    /// answered true for (lowercased).
    public static func record(
        device: DeviceSnapshot,
        apps: [AppProbe],
        installedSchemes: Set<String>,
        accounts: ConfirmedAccounts
    ) -> DeviceFactsRecord {
        let appRecords: [AppRecord] = apps.compactMap { app in
            guard let bundle = app.iosBundle, let scheme = app.iosUrlScheme else { return nil }
            return AppRecord(
                id: bundle,
                signer: nil,
                version: "",
                present: installedSchemes.contains(scheme.lowercased()))
        }
        let groups = accounts.groups.prefix(maxGroups).map { g in
            GroupRecord(
                platform: g.platform,
                group: g.group,
                member: g.member,
                handle: g.member ? g.handle.trimmingCharacters(in: .whitespacesAndNewlines) : "")
        }
        return DeviceFactsRecord(
            platform: .ios,
            model: device.model,
            osName: "ios",
            osVersion: device.osVersion,
            patchLevel: "",
            screenLock: device.screenLock,
            emails: normalizedEmails(accounts.emails),
            apps: Array(appRecords.prefix(maxApps)),
            groups: Array(groups))
    }
}
