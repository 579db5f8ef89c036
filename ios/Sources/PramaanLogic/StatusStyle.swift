// How the status screen's tone looks: an SF Symbol name and a colour name per `Tone`.
//
// Why here: the texts come from the core (`statusScreen` / `Agent.screen`); the only
// decision the app adds is how each tone looks, kept out of the SwiftUI view so it is the
// same switch the Android app makes, and exhaustive (a new tone breaks the build).
import Foundation
import PramaanCore

public enum StatusStyle {
    /// The SF Symbol shown beside the title.
    public static func symbol(_ level: Tone) -> String {
        switch level {
        case .good: return "checkmark.shield.fill"
        case .attention: return "exclamationmark.triangle.fill"
        case .bad: return "xmark.shield.fill"
        case .blocked: return "lock.shield.fill"
        }
    }

    /// The colour, by name: the view maps it to a SwiftUI `Color`.
    public static func colorName(_ level: Tone) -> String {
        switch level {
        case .good: return "green"
        case .attention: return "orange"
        case .bad: return "red"
        case .blocked: return "gray"
        }
    }
}
