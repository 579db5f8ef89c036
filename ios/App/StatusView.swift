// The status screen: the core's `StatusScreen` as it is, in the officer's words —
// compliant, or each thing to fix with what to do, the last check-in, check-ins waiting
// to be sent, revoked or not enrolled with the next step — and the "Check in now" and
// "Scan QR code" buttons when the core offers them.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import PramaanCore
import PramaanLogic
import SwiftUI

struct StatusView: View {
    @EnvironmentObject private var app: AppModel

    var body: some View {
        NavigationStack {
            List {
                if let page = app.page {
                    header(page)
                    if !page.items.isEmpty {
                        Section("What to fix") {
                            ForEach(Array(page.items.enumerated()), id: \.offset) { _, item in
                                VStack(alignment: .leading, spacing: 4) {
                                    Text(item.problem).font(.body)
                                    Text(item.action).font(.callout).foregroundStyle(.secondary)
                                }
                                .padding(.vertical, 2)
                            }
                        }
                    }
                    Section {
                        Text(page.lastCheckIn)
                        if let waiting = page.queued { Text(waiting) }
                        if let step = page.nextStep { Text(step).bold() }
                    }
                    actions(page)
                } else if let trouble = app.startupProblem {
                    Section {
                        Text(trouble.heading).font(.title2).bold()
                        Text(trouble.body)
                    }
                } else {
                    ProgressView()
                }
            }
            .navigationTitle("Pramaan")
            .refreshable { await app.refresh() }
            .task { await app.refresh() }
            .sheet(isPresented: enrollmentShown) { EnrollView().environmentObject(app) }
            .sheet(isPresented: $app.confirming) {
                NavigationStack { ConfirmView(intro: nil) }.environmentObject(app)
            }
            .confirmationDialog(
                "Enroll this phone again?", isPresented: $app.askStartOver, titleVisibility: .visible
            ) {
                Button("Start over and scan the new QR code", role: .destructive) { app.startOver() }
                Button("Cancel", role: .cancel) {}
            } message: {
                Text("Department IT revoked this phone. Starting over deletes its old enrollment, key and check-ins waiting to be sent; then scan the new QR code from department IT.")
            }
            .alert(
                app.alert?.heading ?? "", isPresented: alertShown, presenting: app.alert
            ) { _ in
                Button("OK", role: .cancel) { app.alert = nil }
            } message: { shown in
                Text(shown.body)
            }
        }
    }

    private func header(_ page: StatusScreen) -> some View {
        Section {
            HStack(alignment: .top, spacing: 12) {
                Image(systemName: StatusStyle.symbol(page.tone))
                    .font(.largeTitle)
                    .foregroundStyle(color(page.tone))
                    .accessibilityHidden(true)
                VStack(alignment: .leading, spacing: 4) {
                    Text(page.title).font(.title2).bold()
                    Text(page.summary)
                }
            }
            .padding(.vertical, 4)
            .accessibilityElement(children: .combine)
        }
    }

    @ViewBuilder
    private func actions(_ page: StatusScreen) -> some View {
        Section {
            if page.canCheckIn {
                Button {
                    app.checkInTapped()
                } label: {
                    HStack {
                        Text("Check in now")
                        if app.busy { Spacer(); ProgressView() }
                    }
                }
                .disabled(app.busy)
            }
            if page.canEnroll {
                Button("Scan QR code") { app.startEnrollment() }
            }
            if app.policy != nil {
                Button("Confirm email accounts and groups") { app.confirming = true }
            }
        }
    }

    private func color(_ level: Tone) -> Color {
        switch StatusStyle.colorName(level) {
        case "green": return .green
        case "orange": return .orange
        case "red": return .red
        default: return .gray
        }
    }

    private var enrollmentShown: Binding<Bool> {
        Binding(
            get: { app.enrollment != nil },
            set: { shown in if !shown { app.closeEnrollment() } })
    }

    private var alertShown: Binding<Bool> {
        Binding(
            get: { app.alert != nil },
            set: { shown in if !shown { app.alert = nil } })
    }
}
