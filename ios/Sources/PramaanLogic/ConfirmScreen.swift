// The confirm screen: the email accounts on this phone and the officer's handle in each
// of the department's groups, which iOS does not let an app read, typed or confirmed by
// the officer and reported at every check-in.
//
// Why in plain Swift: what counts as an official address, what a valid handle is and
// which entries the server would refuse (control or direction characters, too many) are
// the same rules as on Android (ConfirmScreen.kt) and the server (design section 5);
// checking them here tells the officer before a check-in is refused.
import Foundation
import PramaanCore

// Names here differ from the bindings' (`platform`, `group`, `handle`, `emails`...) on
// purpose: the binding-name check matches names without scopes.

/// One email row on the confirm screen.
public struct EmailRow: Equatable, Sendable {
    public let address: String
    /// On one of the department's official domains (rule R1).
    public let official: Bool
    /// Why the row cannot be saved, or nil.
    public let error: String?
    /// "Not an official address: rule R1 will fail ...", or nil.
    public let caution: String?
}

/// One group row: the group's name and the handle the officer gives for it.
public struct GroupRow: Equatable, Identifiable, Sendable {
    public let platformName: String
    public let groupId: String
    /// "GAD officers on WhatsApp".
    public let displayName: String
    public let isMember: Bool
    public let officerHandle: String
    public let error: String?
    /// "platform/group", unique within a policy.
    public var id: String { ConfirmScreen.key(platformName: platformName, groupId: groupId) }
}

/// The confirm screen's state for what the officer typed.
public struct ConfirmForm: Equatable, Sendable {
    public let emailRows: [EmailRow]
    public let groupRows: [GroupRow]
    /// Form-wide problems ("At most 16 email accounts").
    public let errors: [String]
    /// The Save button is enabled.
    public var canSave: Bool {
        errors.isEmpty && emailRows.allSatisfy { $0.error == nil } && groupRows.allSatisfy { $0.error == nil }
    }

    /// What to store, once `canSave`.
    public var accounts: ConfirmedAccounts {
        ConfirmedAccounts(
            addresses: emailRows.map(\.address),
            answers: groupRows.map {
                ConfirmedGroup(
                    platformName: $0.platformName, groupId: $0.groupId, isMember: $0.isMember,
                    officerHandle: $0.officerHandle)
            },
            confirmed: true)
    }
}

public enum ConfirmScreen {
    /// The longest handle or address accepted (a phone number or user name is far
    /// shorter; the bound keeps a pasted paragraph out of the claims).
    public static let maxLength = 254

    /// Validates what the officer typed against the enrolled policy's email domains and
    /// groups. `answers` maps `key(platformName:groupId:)` to (member?, handle); groups
    /// not in it start as "not a member".
    public static func form(
        domains: [String],
        toConfirm: [GroupToConfirm],
        typed: [String],
        answers: [String: (isMember: Bool, officerHandle: String)]
    ) -> ConfirmForm {
        var errors: [String] = []
        let entered = typed.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        if Set(entered.map { $0.lowercased() }).count > FactsMapping.maxEmails {
            errors.append("At most \(FactsMapping.maxEmails) email accounts can be reported.")
        }
        let emailRows = FactsMapping.normalizedEmails(entered).map { address -> EmailRow in
            let error = emailError(address)
            let official = error == nil && isOfficial(address, domains: domains)
            return EmailRow(
                address: address,
                official: official,
                error: error,
                caution: error == nil && !official
                    ? "Not an official address: rule R1 will fail while this account is on the phone."
                    : nil)
        }
        let groupRows = toConfirm.map { wanted -> GroupRow in
            let answer =
                answers[key(platformName: wanted.platform, groupId: wanted.group)]
                ?? (isMember: false, officerHandle: "")
            let given = answer.officerHandle.trimmingCharacters(in: .whitespacesAndNewlines)
            let shown = displayName(wanted)
            var error: String?
            if answer.isMember {
                error =
                    given.isEmpty
                    ? "Enter your \(wanted.platform) handle (phone number or user name) for \(shown)."
                    : entryError(given, what: "The handle")
            }
            return GroupRow(
                platformName: wanted.platform, groupId: wanted.group, displayName: shown,
                isMember: answer.isMember, officerHandle: answer.isMember ? given : "", error: error)
        }
        return ConfirmForm(emailRows: emailRows, groupRows: groupRows, errors: errors)
    }

    /// The key of a group in `form`'s `answers`.
    public static func key(platformName: String, groupId: String) -> String {
        "\(platformName)/\(groupId)"
    }

    /// Whether `address` is on one of `domains` or a subdomain of one
    /// (`a@gad.gujarat.gov.in` is on `gujarat.gov.in`).
    public static func isOfficial(_ address: String, domains: [String]) -> Bool {
        guard let atSign = address.lastIndex(of: "@") else { return false }
        let domainPart = address[address.index(after: atSign)...].lowercased()
        return domains.contains { d in
            let d = d.lowercased()
            return domainPart == d || domainPart.hasSuffix("." + d)
        }
    }

    /// Why `address` is not an email address the server would take, or nil.
    public static func emailError(_ address: String) -> String? {
        if let e = entryError(address, what: "The address") { return e }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !address.contains(" ")
        else {
            return "\(address) is not an email address."
        }
        return nil
    }

    /// Why `entry` cannot be reported, or nil: too long, or a control or
    /// bidirectional-formatting character (the server refuses those, design section 5).
    public static func entryError(_ entry: String, what: String) -> String? {
        if entry.count > maxLength {
            return "\(what) is longer than \(maxLength) characters."
        }
        if entry.unicodeScalars.contains(where: isUnsafe) {
            return "\(what) contains an invisible control or direction character: type it again."
        }
        return nil
    }

    /// The core's `text::is_unsafe_char`: C0, DEL, C1, and the bidirectional marks,
    /// embeddings, overrides and isolates, and the line and paragraph separators.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029: return true
        case 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    static func displayName(_ wanted: GroupToConfirm) -> String {
        wanted.name.isEmpty ? "\(wanted.group) on \(wanted.platform)" : "\(wanted.name) on \(wanted.platform)"
    }
}
