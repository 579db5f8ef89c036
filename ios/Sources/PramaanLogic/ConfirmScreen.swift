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

/// One email row on the confirm screen.
public struct EmailRow: Equatable, Sendable {
    public let address: String
    /// On one of the department's official domains (rule R1).
    public let official: Bool
    /// Why the row cannot be saved, or nil.
    public let error: String?
    /// "Not an official address: rule R1 will fail while it is on this phone", or nil.
    public let warning: String?
}

/// One group row: the group's name and the handle the officer gives for it.
public struct GroupRow: Equatable, Identifiable, Sendable {
    public let platform: String
    public let group: String
    /// The group's display name from the policy ("GAD officers").
    public let name: String
    public let member: Bool
    public let handle: String
    public let error: String?
    /// "platform/group", unique within a policy.
    public var id: String { ConfirmScreen.key(platform: platform, group: group) }
}

/// The confirm screen's state for what the officer typed.
public struct ConfirmForm: Equatable, Sendable {
    public let emails: [EmailRow]
    public let groups: [GroupRow]
    /// Form-wide problems ("At most 16 email accounts").
    public let errors: [String]
    /// The Save button is enabled.
    public var canSave: Bool {
        errors.isEmpty && emails.allSatisfy { $0.error == nil } && groups.allSatisfy { $0.error == nil }
    }

    /// What to store, once `canSave`.
    public var accounts: ConfirmedAccounts {
        ConfirmedAccounts(
            emails: emails.map(\.address),
            groups: groups.map {
                ConfirmedGroup(platform: $0.platform, group: $0.group, member: $0.member, handle: $0.handle)
            },
            confirmed: true)
    }
}

public enum ConfirmScreen {
    /// The longest handle or address accepted (a phone number or user name is far
    /// shorter; the bound keeps a pasted paragraph out of the claims).
    public static let maxLength = 254

    /// Validates what the officer typed against the enrolled policy's email domains and
    /// groups. `handles` maps "platform/group" to (member, handle); groups not in it
    /// start as "not a member".
    public static func form(
        emailDomains: [String],
        groups: [GroupToConfirm],
        emails: [String],
        handles: [String: (member: Bool, handle: String)]
    ) -> ConfirmForm {
        var errors: [String] = []
        let typed = emails.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        let normalized = FactsMapping.normalizedEmails(typed)
        if Set(typed.map { $0.lowercased() }).count > FactsMapping.maxEmails {
            errors.append("At most \(FactsMapping.maxEmails) email accounts can be reported.")
        }
        let emailRows = normalized.map { address -> EmailRow in
            let error = emailError(address)
            let official = error == nil && isOfficial(address, domains: emailDomains)
            return EmailRow(
                address: address,
                official: official,
                error: error,
                warning: error == nil && !official
                    ? "Not an official address: rule R1 will fail while this account is on the phone."
                    : nil)
        }
        let groupRows = groups.map { g -> GroupRow in
            let entry = handles[key(platform: g.platform, group: g.group)] ?? (member: false, handle: "")
            let handle = entry.handle.trimmingCharacters(in: .whitespacesAndNewlines)
            var error: String?
            if entry.member {
                if handle.isEmpty {
                    error = "Enter your \(g.platform) handle (phone number or user name) for \(displayName(g))."
                } else {
                    error = textError(handle, what: "The handle")
                }
            }
            return GroupRow(
                platform: g.platform, group: g.group, name: displayName(g),
                member: entry.member, handle: entry.member ? handle : "", error: error)
        }
        return ConfirmForm(emails: emailRows, groups: groupRows, errors: errors)
    }

    /// The key of a group in `form`'s `handles`.
    public static func key(platform: String, group: String) -> String {
        "\(platform)/\(group)"
    }

    /// Whether `address` is on one of `domains` or a subdomain of one
    /// (`a@gad.gujarat.gov.in` is on `gujarat.gov.in`).
    public static func isOfficial(_ address: String, domains: [String]) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return false }
        let domain = address[address.index(after: at)...].lowercased()
        return domains.contains { d in
            let d = d.lowercased()
            return domain == d || domain.hasSuffix("." + d)
        }
    }

    /// Why `address` is not an email address the server would take, or nil.
    public static func emailError(_ address: String) -> String? {
        if let e = textError(address, what: "The address") { return e }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !address.contains(" ")
        else {
            return "\(address) is not an email address."
        }
        return nil
    }

    /// Why `text` cannot be reported, or nil: too long, or a control or
    /// bidirectional-formatting character (the server refuses those, design section 5).
    public static func textError(_ text: String, what: String) -> String? {
        if text.count > maxLength {
            return "\(what) is longer than \(maxLength) characters."
        }
        if text.unicodeScalars.contains(where: isUnsafe) {
            return "\(what) contains an invisible control or direction character: type it again."
        }
        return nil
    }

    /// The core's `text::is_unsafe_char`: C0, DEL, C1, and the bidirectional marks,
    /// embeddings, overrides and isolates, and the line and paragraph separators.
    public static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029: return true
        case 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    static func displayName(_ g: GroupToConfirm) -> String {
        g.name.isEmpty ? "\(g.group) on \(g.platform)" : "\(g.name) on \(g.platform)"
    }
}
