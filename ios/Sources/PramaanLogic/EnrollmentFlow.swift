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
    /// "Server gad.pramaan.gujarat.gov.in. This QR code is valid until 30 Nov 2026, 18:00."
    public let details: String
    /// False when the token has expired since it was scanned (the button is disabled).
    public let canConfirm: Bool
}

/// A failure in the officer's words: what happened and what to do.
public struct OfficerMessage: Equatable, Sendable {
    public let title: String
    public let body: String
    /// Trying the same thing again may work (network, rate limit); otherwise the
    /// officer needs something from department IT.
    public let canRetry: Bool

    public init(title: String, body: String, canRetry: Bool) {
        self.title = title
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
    case enrolled(EnrollmentInfo)
    case failed(OfficerMessage)
}

public enum EnrollmentFlow {
    /// The step after scanning or opening `text`.
    public static func scanned(_ text: String) -> EnrollmentStep {
        do {
            return .previewing(try parseEnrollLink(text: text))
        } catch {
            return .failed(message(for: error, during: .link))
        }
    }

    /// The confirmation screen for `preview`, as of `now` (Unix seconds).
    public static func confirmation(
        link: EnrollLink, preview: EnrollmentPreview, now: UInt64,
        locale: Locale = .current, timeZone: TimeZone = .current
    ) -> EnrollConfirmation {
        let department =
            preview.departmentName.isEmpty ? preview.department : preview.departmentName
        let officer =
            preview.officerName.isEmpty
            ? preview.officerId : "\(preview.officerName) (\(preview.officerId))"
        let expired = preview.expiresAt <= now
        let validity =
            expired
            ? "This QR code has expired: ask department IT for a new one."
            : "This QR code is valid until \(formatDate(preview.expiresAt, locale: locale, timeZone: timeZone))."
        return EnrollConfirmation(
            link: link,
            preview: preview,
            question: "Enroll this phone for \(officer), \(department)?",
            details: "Server \(link.host). \(validity)",
            canConfirm: !expired)
    }

    /// "30 Nov 2026 at 18:00" in the officer's locale.
    public static func formatDate(_ unix: UInt64, locale: Locale, timeZone: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = locale
        f.timeZone = timeZone
        f.dateStyle = .medium
        f.timeStyle = .short
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
    }

    /// What the officer was doing when an error came.
    public enum Stage: Sendable {
        case link, preview, enroll, checkIn
    }

    /// An error from the core (or the platform) in the officer's words.
    public static func message(for error: Error, during stage: Stage) -> OfficerMessage {
        guard let api = error as? ApiError else {
            return OfficerMessage(
                title: "Something went wrong",
                body: "\(error.localizedDescription) Try again; if it keeps happening, tell department IT.",
                canRetry: true)
        }
        switch api {
        case .NotEnrolled:
            return OfficerMessage(
                title: "This phone is not enrolled",
                body: "Scan the enrollment QR code department IT gave you.",
                canRetry: false)
        case let .AlreadyEnrolled(deviceId):
            return OfficerMessage(
                title: "This phone is already enrolled",
                body: "It is enrolled as device \(deviceId). To enroll it again, delete Pramaan, install it again and scan a new QR code.",
                canRetry: false)
        case let .InvalidInput(detail):
            if stage == .link {
                return OfficerMessage(
                    title: "This is not a Pramaan enrollment code",
                    body: "\(sentence(detail)) Scan the QR code department IT gave you for this phone.",
                    canRetry: true)
            }
            return OfficerMessage(
                title: "Pramaan could not use this information",
                body: sentence(detail),
                canRetry: false)
        case .Network:
            return OfficerMessage(
                title: "Could not reach the Pramaan server",
                body: stage == .checkIn
                    ? "The check-in is saved and will be sent when the phone is online."
                    : "Check that the phone is online and try again.",
                canRetry: true)
        case let .Revoked(reason):
            let why = reason.map { " Reason: \($0)." } ?? ""
            return OfficerMessage(
                title: "Revoked by department IT",
                body: "Department IT revoked this phone.\(why) Ask department IT for a new QR code.",
                canRetry: false)
        case let .Rejected(status, code, detail):
            return rejected(status: status, code: code, detail: detail)
        case let .Platform(detail):
            return OfficerMessage(
                title: "The phone's security hardware refused",
                body: "\(sentence(detail)) Restart the phone and try again; if it keeps happening, tell department IT.",
                canRetry: true)
        case .Storage:
            return OfficerMessage(
                title: "Pramaan could not save its data",
                body: "Free some storage on the phone and try again.",
                canRetry: true)
        case let .Internal(detail):
            return OfficerMessage(
                title: "Something went wrong",
                body: "\(sentence(detail)) Try again; if it keeps happening, tell department IT.",
                canRetry: true)
        }
    }

    /// `text` as a sentence: capitalised, ending in a full stop.
    static func sentence(_ text: String) -> String {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = t.first else { return "" }
        let capital = first.uppercased() + t.dropFirst()
        return capital.hasSuffix(".") || capital.hasSuffix("?") || capital.hasSuffix("!")
            ? capital : capital + "."
    }

    /// The server's refusals an officer can act on, by the server's error code.
    static func rejected(status: UInt16, code: String, detail: String) -> OfficerMessage {
        switch code {
        case "token_used", "token_expired", "token_cancelled", "unknown_token":
            return OfficerMessage(
                title: "This QR code can no longer be used",
                body: "It was already used, has expired or was cancelled. Ask department IT for a new QR code.",
                canRetry: false)
        case "device_limit":
            return OfficerMessage(
                title: "You already have an enrolled phone",
                body: "Ask department IT to retire your old phone, or for a QR code that allows a second one.",
                canRetry: false)
        case "key_enrolled", "key_revoked":
            return OfficerMessage(
                title: "This phone's key cannot enroll again",
                body: "Delete Pramaan, install it again, and scan a new QR code from department IT.",
                canRetry: false)
        case "rate_limited", "quota_exceeded":
            return OfficerMessage(
                title: "Too many attempts",
                body: "The server asked Pramaan to wait. It will try again by itself later.",
                canRetry: true)
        default:
            return OfficerMessage(
                title: "The server refused (\(status))",
                body: "\(sentence(detail)) Tell department IT: error \(code).",
                canRetry: status >= 500)
        }
    }
}
