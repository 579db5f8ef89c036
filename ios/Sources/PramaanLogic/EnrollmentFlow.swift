// The enrollment screens' state and texts: a scanned QR code or an opened link, the
// server's preview of whom the token is for, the officer's confirmation, the result.
//
// Why here and not in the views: which step comes next and what the officer reads when
// something fails are decisions, the same on Android (EnrollmentFlow.kt); the SwiftUI
// view only renders an `EnrollmentStep` and sends taps back. Parsing the link is the
// core's (`parseEnrollLink`), so a link the core accepts is exactly one the app accepts.
import Foundation
import PramaanCore

/// What the officer is asked before the phone is enrolled.
public struct EnrollConfirmation: Equatable {
    public let link: EnrollLink
    public let preview: EnrollmentPreview
    /// "Enroll this phone for Asha Patel (GAD-0042), General Administration Department?"
    public let question: String
    /// "Server: gad.pramaan.gujarat.gov.in. This QR code expires in 3 days."
    public let details: String
    /// False when the token has expired since it was scanned (the button is disabled).
    public let canConfirm: Bool
}

/// A failure in the officer's words: what happened and what to do.
public struct OfficerMessage: Equatable, Sendable {
    /// A short heading ("QR code already used"). Named apart from the bindings' `title`
    /// so the binding-name check (scope-free) still sees the core's.
    public let heading: String
    public let body: String
    /// Trying the same thing again may work (network, rate limit); otherwise the
    /// officer needs something from department IT.
    public let canRetry: Bool

    public init(heading: String, body: String, canRetry: Bool) {
        self.heading = heading
        self.body = body
        self.canRetry = canRetry
    }
}

/// Where enrollment stands; the view shows one screen per case.
public enum EnrollmentStep: Equatable {
    /// Waiting for a QR code or a link.
    case scanning
    /// The link parsed; asking the server whom the token is for.
    case previewing(EnrollLink)
    /// The officer must confirm the officer and department shown.
    case confirming(EnrollConfirmation)
    /// Enrolling (key evidence, the server's receipt).
    case enrolling(EnrollConfirmation)
    /// Enrolled: next, the officer confirms emails and group handles.
    case accepted(EnrollmentInfo)
    case failed(OfficerMessage)
}

public enum EnrollmentFlow {
    /// Longest QR or link text looked at; IT's links are a few hundred characters.
    public static let maxLink = 4096

    /// The step after scanning or opening `text`.
    public static func scanned(_ payload: String) -> EnrollmentStep {
        guard payload.count <= maxLink else {
            return .failed(
                officerMessage(for: ApiError.InvalidInput(detail: "link longer than \(maxLink) characters"), during: .link))
        }
        do {
            return .previewing(try parseEnrollLink(text: payload.trimmingCharacters(in: .whitespacesAndNewlines)))
        } catch {
            return .failed(officerMessage(for: error, during: .link))
        }
    }

    /// The confirmation screen for `preview`, as of `time` (Unix seconds). The same
    /// question as on Android: "Enroll this phone for <name> (<id>), <department>?".
    public static func confirmation(link: EnrollLink, preview: EnrollmentPreview, time: UInt64) -> EnrollConfirmation {
        let officer = oneLine(preview.officerName, max: 80)
        let officerCode = oneLine(preview.officerId, max: 40)
        let fullName = oneLine(preview.departmentName, max: 80)
        let dept = fullName.isEmpty ? oneLine(preview.department, max: 40) : fullName
        return EnrollConfirmation(
            link: link,
            preview: preview,
            question: "Enroll this phone for \(officer.isEmpty ? "an unnamed officer" : officer) (\(officerCode)), \(dept)?",
            details: "Server: \(oneLine(link.host, max: 100)). \(expiryText(expiry: preview.expiresAt, time: time))",
            canConfirm: preview.expiresAt > time)
    }

    /// "This QR code expires in 3 days" (or hours, minutes), or that it has expired.
    public static func expiryText(expiry: UInt64, time: UInt64) -> String {
        if expiry <= time { return "This QR code has expired. Ask department IT for a new one." }
        let left = expiry - time
        let (n, unit): (UInt64, String) =
            left >= 172_800 ? (left / 86_400, "days")
            : left >= 7_200 ? (left / 3_600, "hours")
            : left >= 120 ? (left / 60, "minutes")
            : (0, "")
        return unit.isEmpty ? "This QR code expires in a minute." : "This QR code expires in \(n) \(unit)."
    }

    /// Server-sent text made safe for one line on screen: control and direction
    /// characters dropped, whitespace collapsed, at most `max` characters.
    public static func oneLine(_ raw: String, max: Int = 200) -> String {
        var out = ""
        var lastSpace = true
        for scalar in raw.unicodeScalars {
            if CharacterSet.whitespacesAndNewlines.contains(scalar) {
                if !lastSpace { out.append(" ") }
                lastSpace = true
            } else if ConfirmScreen.isUnsafe(scalar) || scalar.properties.generalCategory == .format {
                continue
            } else {
                out.unicodeScalars.append(scalar)
                lastSpace = false
            }
        }
        let cleaned = out.trimmingCharacters(in: .whitespaces)
        guard cleaned.count > max else { return cleaned }
        return String(cleaned.prefix(max - 1)).trimmingCharacters(in: .whitespaces) + "…"
    }

    /// What the officer was doing when an error came.
    public enum Stage: Sendable {
        case link, preview, enrolling, checkingIn
    }

    /// An error from the core (or the platform) in the officer's words: the same
    /// sentences as the Android app's Messages.kt, never the raw detail (that is for the
    /// log, for IT).
    public static func officerMessage(for error: Error, during stage: Stage) -> OfficerMessage {
        let enrolling = stage != .checkingIn
        guard let api = error as? ApiError else {
            return OfficerMessage(
                heading: "Something went wrong", body: "Something went wrong. Show IT this message.", canRetry: false)
        }
        switch api {
        case .InvalidInput where enrolling:
            return OfficerMessage(
                heading: "Not a Pramaan enrollment code",
                body: "This is not a Pramaan enrollment code. Scan the QR code department IT gave you.",
                canRetry: false)
        case .InvalidInput:
            return OfficerMessage(
                heading: "Could not read this phone's details",
                body: "This phone's details could not be read. Try again; if it keeps failing, show IT this message.",
                canRetry: true)
        case .AlreadyEnrolled:
            return OfficerMessage(
                heading: "Already enrolled",
                body: enrolling
                    ? "This phone is already enrolled. To enroll it again, ask department IT first."
                    : "This phone is already enrolled.",
                canRetry: false)
        case .NotEnrolled:
            return OfficerMessage(
                heading: "Not enrolled",
                body: "This phone is not enrolled. Ask department IT for a QR code and scan it.",
                canRetry: false)
        case .Network:
            return OfficerMessage(
                heading: "No connection",
                body: "Could not reach the department's server. Check the internet connection and try again.",
                canRetry: true)
        case let .Revoked(itReason):
            let r = oneLine(itReason ?? "")
            return OfficerMessage(
                heading: "Revoked by department IT",
                body: "Department IT revoked this phone\(r.isEmpty ? "." : ": \(r).") Ask department IT for a new QR code.",
                canRetry: false)
        case let .Rejected(httpStatus, errorCode, _):
            return rejected(httpStatus: httpStatus, errorCode: errorCode)
        case .Platform:
            return OfficerMessage(
                heading: "Secure key storage did not answer",
                body: "The phone's secure key storage did not answer. Restart the phone and try again; if it keeps failing, show IT this message.",
                canRetry: true)
        case .Storage:
            return OfficerMessage(
                heading: "Could not save",
                body: "Pramaan could not save its data. Free some storage space and try again.",
                canRetry: true)
        case .ServerKeyChanged:
            return OfficerMessage(
                heading: "The server's key changed",
                body: "The Pramaan server's key changed and this phone did not check in during the changeover: ask department IT for a new QR code and enroll again.",
                canRetry: false)
        case .Internal:
            return OfficerMessage(
                heading: "Answer not checked",
                body: "The server's answer could not be checked. Try again later; if it keeps failing, show IT this message.",
                canRetry: true)
        }
    }

    /// A server refusal, by its machine-readable code (core/src/api.rs `RejectCode`).
    static func rejected(httpStatus: UInt16, errorCode: String) -> OfficerMessage {
        func refused(_ heading: String, _ body: String, retry: Bool = false) -> OfficerMessage {
            OfficerMessage(heading: heading, body: body, canRetry: retry)
        }
        switch errorCode {
        case "token_expired":
            return refused("QR code expired", "This QR code has expired. Ask department IT for a new one.")
        case "token_used":
            return refused("QR code already used", "This QR code has already been used. Ask department IT for a new one.")
        case "token_cancelled":
            return refused("QR code cancelled", "Department IT cancelled this QR code. Ask them for a new one.")
        case "unknown_token", "unauthorized":
            return refused("Unknown QR code", "The server does not know this QR code. Ask department IT for a new one.")
        case "unknown_officer":
            return refused(
                "Unknown officer", "The server does not know the officer this QR code was made for. Ask department IT.")
        case "device_limit":
            return refused(
                "Too many phones",
                "You have enrolled as many phones as the department allows. Ask department IT to remove an old one.")
        case "rate_limited", "quota_exceeded":
            return refused("Server busy", "The server is busy. Pramaan will try again later.", retry: true)
        case "protocol_outdated":
            return refused(
                "Update Pramaan",
                "This version of Pramaan is too old for the server. Update Pramaan from the App Store, then check in again.")
        case "revoked", "key_revoked":
            return refused("Revoked by department IT", "Department IT revoked this phone. Ask department IT for a new QR code.")
        default:
            return refused(
                "The server refused", "The server refused (\(httpStatus)). Show IT this message: \(oneLine(errorCode, max: 40)).",
                retry: httpStatus >= 500)
        }
    }
}
