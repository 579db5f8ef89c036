// The enrollment sheet: scan IT's QR code (or arrive by the link), see whom the code is
// for — the officer's name and id, the department and the server — confirm, enroll, then
// go on to confirm email accounts and group handles. The steps and texts are
// PramaanLogic's `EnrollmentStep`; this view renders them.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import Pramaan
import PramaanCore
import PramaanLogic
import SwiftUI

struct EnrollView: View {
    @EnvironmentObject private var app: AppModel

    var body: some View {
        NavigationStack {
            content
                .padding()
                .navigationTitle("Enroll this phone")
                .navigationBarTitleDisplayMode(.inline)
                .toolbar {
                    ToolbarItem(placement: .cancellationAction) {
                        Button("Cancel") { app.closeEnrollment() }
                    }
                }
        }
    }

    @ViewBuilder
    private var content: some View {
        switch app.enrollment {
        case .none, .scanning:
            VStack(spacing: 16) {
                QRScannerView(
                    onCode: { payload in app.scanned(payload) },
                    onFailure: { cause in
                        app.enrollment = .failed(
                            OfficerMessage(heading: "The camera is not available", body: cause, canRetry: true))
                    }
                )
                .frame(maxWidth: .infinity, minHeight: 320)
                .clipShape(RoundedRectangle(cornerRadius: 12))
                Text("Point the camera at the QR code department IT gave you.")
                    .multilineTextAlignment(.center)
                Text("Or open the enrollment link you received on this phone.")
                    .font(.footnote).foregroundStyle(.secondary)
                    .multilineTextAlignment(.center)
            }
        case let .previewing(link):
            VStack(spacing: 12) {
                ProgressView()
                Text("Checking the QR code with \(link.host)…")
            }
        case let .confirming(confirmation):
            VStack(alignment: .leading, spacing: 16) {
                Text(confirmation.question).font(.title3).bold()
                Text(confirmation.details).foregroundStyle(.secondary)
                Button("Enroll this phone") { app.confirmEnrollment(confirmation) }
                    .buttonStyle(.borderedProminent)
                    .disabled(!confirmation.canConfirm)
                Button("This is not me", role: .cancel) { app.closeEnrollment() }
                Spacer()
            }
        case let .enrolling(confirmation):
            VStack(spacing: 12) {
                ProgressView()
                Text("Enrolling with \(confirmation.link.host)… This can take a minute.")
                    .multilineTextAlignment(.center)
            }
        case .accepted:
            // Straight on to the confirm screen; saving it makes the first check-in.
            ConfirmView(intro: "This phone is enrolled. Now confirm the email accounts on it and your handle in each department group.")
        case let .failed(failure):
            VStack(alignment: .leading, spacing: 16) {
                Text(failure.heading).font(.title3).bold()
                Text(failure.body)
                if failure.canRetry {
                    Button("Try again") { app.startEnrollment() }
                        .buttonStyle(.borderedProminent)
                }
                Button("Close", role: .cancel) { app.closeEnrollment() }
                Spacer()
            }
        }
    }
}
