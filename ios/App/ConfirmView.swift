// The confirm screen: the email accounts on this phone and the officer's handle in each
// of the department's groups. iOS lets no app read accounts, so the officer types them;
// they are reported at every check-in (rules R1 and R4). Validation and the warnings
// ("not an official address") are PramaanLogic's `ConfirmScreen`.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import PramaanCore
import PramaanLogic
import SwiftUI

struct ConfirmView: View {
    @EnvironmentObject private var app: AppModel
    let intro: String?

    @State private var fields: [EmailField] = []
    @State private var memberships: [String: Bool] = [:]
    @State private var typedHandles: [String: String] = [:]
    @State private var loaded = false

    var body: some View {
        Form {
            if let policy = app.policy {
                let form = currentForm(policy)
                if let intro {
                    Section { Text(intro) }
                }
                Section {
                    ForEach($fields) { $field in
                        TextField("name@\(policy.emailDomains.first ?? "gujarat.gov.in")", text: $field.typed)
                            .keyboardType(.emailAddress)
                            .textInputAutocapitalization(.never)
                            .autocorrectionDisabled()
                    }
                    .onDelete { fields.remove(atOffsets: $0) }
                    Button("Add an email account") { fields.append(EmailField(typed: "")) }
                    ForEach(form.emailRows, id: \.address) { row in
                        if let error = row.error {
                            Text(error).font(.footnote).foregroundStyle(.red)
                        } else if let caution = row.caution {
                            Text("\(row.address): \(caution)").font(.footnote).foregroundStyle(.orange)
                        }
                    }
                } header: {
                    Text("Email accounts on this phone")
                } footer: {
                    Text("Official addresses end in \(policy.emailDomains.joined(separator: ", ")).")
                }
                ForEach(form.groupRows) { row in
                    Section(row.displayName) {
                        Toggle("I am a member", isOn: binding(memberships, row.id, fallback: false) { memberships[row.id] = $0 })
                        if row.isMember {
                            TextField(
                                "Your \(row.platformName) number or user name",
                                text: binding(typedHandles, row.id, fallback: "") { typedHandles[row.id] = $0 }
                            )
                            .textInputAutocapitalization(.never)
                            .autocorrectionDisabled()
                        }
                        if let error = row.error {
                            Text(error).font(.footnote).foregroundStyle(.red)
                        }
                    }
                }
                ForEach(form.errors, id: \.self) { error in
                    Text(error).foregroundStyle(.red)
                }
                Section {
                    Button("Save and check in") { app.saveAccounts(form.accounts) }
                        .disabled(!form.canSave)
                }
            } else {
                Text("Enroll this phone first: scan the QR code department IT gave you.")
            }
        }
        .navigationTitle("Your accounts")
        .onAppear(perform: load)
    }

    private func currentForm(_ policy: PolicySummary) -> ConfirmForm {
        var answers: [String: (isMember: Bool, officerHandle: String)] = [:]
        for wanted in policy.groups {
            let key = ConfirmScreen.key(platformName: wanted.platform, groupId: wanted.group)
            answers[key] = (isMember: memberships[key] ?? false, officerHandle: typedHandles[key] ?? "")
        }
        return ConfirmScreen.form(
            domains: policy.emailDomains, toConfirm: policy.groups, typed: fields.map(\.typed),
            answers: answers)
    }

    /// What was confirmed before, so the screen edits rather than starts over.
    private func load() {
        guard !loaded else { return }
        loaded = true
        let saved = app.accounts.load()
        fields = (saved.addresses.isEmpty ? [""] : saved.addresses).map { EmailField(typed: $0) }
        for answer in saved.answers {
            let key = ConfirmScreen.key(platformName: answer.platformName, groupId: answer.groupId)
            memberships[key] = answer.isMember
            typedHandles[key] = answer.officerHandle
        }
    }

    private func binding<T>(_ values: [String: T], _ key: String, fallback: T, set: @escaping (T) -> Void) -> Binding<T> {
        Binding(get: { values[key] ?? fallback }, set: set)
    }
}

/// One email text field; its own identity keeps editing and deleting rows stable.
private struct EmailField: Identifiable {
    let id = UUID()
    var typed: String
}
