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
    @EnvironmentObject private var model: AppModel

    var body: some View {
        NavigationStack {
            List {
                if let screen = model.screen {
                    header(screen)
                    if !screen.items.isEmpty {
                        Section("What to fix") {
                            ForEach(Array(screen.items.enumerated()), id: \.offset) { _, item in
                                VStack(alignment: .leading, spacing: 4) {
                                    Text(item.problem).font(.body)
                                    Text(item.action).font(.callout).foregroundStyle(.secondary)
                                }
                                .padding(.vertical, 2)
                            }
                        }
                    }
                    Section {
                        Text(screen.lastCheckIn)
                        if let queued = screen.queued { Text(queued) }
                        if let next = screen.nextStep { Text(next).bold() }
                    }
                    actions(screen)
                } else if let problem = model.startupProblem {
                    Section {
                        Text(problem.title).font(.title2).bold()
                        Text(problem.body)
                    }
                } else {
                    ProgressView()
                }
            }
            .navigationTitle("Pramaan")
            .refreshable { await model.refresh() }
            .task { await model.refresh() }
            .sheet(isPresented: enrollmentShown) { EnrollView().environmentObject(model) }
            .sheet(isPresented: $model.confirming) {
                NavigationStack { ConfirmView(intro: nil) }.environmentObject(model)
            }
            .alert(
                model.alert?.title ?? "", isPresented: alertShown, presenting: model.alert
            ) { _ in
                Button("OK", role: .cancel) { model.alert = nil }
            } message: { message in
                Text(message.body)
            }
        }
    }

    private func header(_ screen: StatusScreen) -> some View {
        Section {
            HStack(alignment: .top, spacing: 12) {
                Image(systemName: StatusStyle.symbol(screen.tone))
                    .font(.largeTitle)
                    .foregroundStyle(color(screen.tone))
                    .accessibilityHidden(true)
                VStack(alignment: .leading, spacing: 4) {
                    Text(screen.title).font(.title2).bold()
                    Text(screen.summary)
                }
            }
            .padding(.vertical, 4)
            .accessibilityElement(children: .combine)
        }
    }

    @ViewBuilder
    private func actions(_ screen: StatusScreen) -> some View {
        Section {
            if screen.canCheckIn {
                Button {
                    model.checkInNow()
                } label: {
                    HStack {
                        Text("Check in now")
                        if model.busy { Spacer(); ProgressView() }
                    }
                }
                .disabled(model.busy)
            }
            if screen.canEnroll {
                Button("Scan QR code") { model.startEnrollment() }
            }
            if model.policy != nil {
                Button("Confirm email accounts and groups") { model.confirming = true }
            }
        }
    }

    private func color(_ tone: Tone) -> Color {
        switch StatusStyle.colorName(tone) {
        case "green": return .green
        case "orange": return .orange
        case "red": return .red
        default: return .gray
        }
    }

    private var enrollmentShown: Binding<Bool> {
        Binding(
            get: { model.enrollment != nil },
            set: { shown in if !shown { model.closeEnrollment() } })
    }

    private var alertShown: Binding<Bool> {
        Binding(
            get: { model.alert != nil },
            set: { shown in if !shown { model.alert = nil } })
    }
}
