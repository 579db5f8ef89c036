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

// Field and parameter names here differ from the bindings' record fields (`model`,
// `platform`, `handle`...) on purpose: the binding-name check matches names without
// scopes, and a declaration of the same name would hide a change of the core's record.

/// The device itself, as the platform layer read it.
public struct DeviceSnapshot: Equatable, Sendable {
    /// Hardware model identifier from `utsname.machine` ("iPhone15,2").
    public var hardwareModel: String
    /// `UIDevice.current.systemVersion` ("17.5.1").
    public var systemVersion: String
    /// `LAContext.canEvaluatePolicy(.deviceOwnerAuthentication)`: a passcode is set.
    public var passcodeSet: Bool

    public init(hardwareModel: String, systemVersion: String, passcodeSet: Bool) {
        self.hardwareModel = hardwareModel
        self.systemVersion = systemVersion
        self.passcodeSet = passcodeSet
    }
}

/// One messaging group the officer confirmed (or declined) on the confirm screen.
public struct ConfirmedGroup: Codable, Equatable, Sendable {
    /// The messaging platform's name as in the policy ("WhatsApp").
    public var platformName: String
    /// The group's id as in the policy.
    public var groupId: String
    /// The officer says they are a member.
    public var isMember: Bool
    /// The officer's handle there (phone number, user name), matched against IT's roster.
    public var officerHandle: String

    public init(platformName: String, groupId: String, isMember: Bool, officerHandle: String) {
        self.platformName = platformName
        self.groupId = groupId
        self.isMember = isMember
        self.officerHandle = officerHandle
    }
}

/// What the officer confirmed about accounts iOS does not let an app read.
public struct ConfirmedAccounts: Codable, Equatable, Sendable {
    /// Email accounts on this phone, as typed and confirmed.
    public var addresses: [String]
    public var answers: [ConfirmedGroup]
    /// Whether the officer has been through the confirm screen at all.
    public var confirmed: Bool

    public init(addresses: [String] = [], answers: [ConfirmedGroup] = [], confirmed: Bool = false) {
        self.addresses = addresses
        self.answers = answers
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
        var seen = Set<String>()
        var out: [AppProbe] = []
        for probe in policy ?? catalog {
            guard let bundle = probe.iosBundle, !bundle.isEmpty,
                let scheme = probe.iosUrlScheme, !scheme.isEmpty,
                !seen.contains(bundle)
            else { continue }
            seen.insert(bundle)
            out.append(probe)
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

    /// Addresses trimmed, lowercased and de-duplicated in the order typed; empty entries
    /// dropped; at most `maxEmails`.
    public static func normalizedEmails(_ addresses: [String]) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for raw in addresses {
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
        probes: [AppProbe],
        installedSchemes: Set<String>,
        accounts: ConfirmedAccounts
    ) -> DeviceFactsRecord {
        let appRecords: [AppRecord] = probes.compactMap { probe in
            guard let bundle = probe.iosBundle, let scheme = probe.iosUrlScheme else { return nil }
            return AppRecord(
                id: bundle,
                signer: nil,
                version: "",
                present: installedSchemes.contains(scheme.lowercased()))
        }
        let groupRecords = accounts.answers.prefix(maxGroups).map { answer in
            GroupRecord(
                platform: answer.platformName,
                group: answer.groupId,
                member: answer.isMember,
                handle: answer.isMember ? answer.officerHandle.trimmingCharacters(in: .whitespacesAndNewlines) : "")
        }
        return DeviceFactsRecord(
            platform: .ios,
            model: device.hardwareModel,
            osName: "ios",
            osVersion: device.systemVersion,
            patchLevel: "",
            screenLock: device.passcodeSet,
            emails: normalizedEmails(accounts.addresses),
            apps: Array(appRecords.prefix(maxApps)),
            groups: Array(groupRecords))
    }
}
