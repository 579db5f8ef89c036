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
    @EnvironmentObject private var model: AppModel
    let intro: String?

    @State private var emails: [EmailField] = []
    @State private var members: [String: Bool] = [:]
    @State private var handles: [String: String] = [:]
    @State private var loaded = false

    var body: some View {
        Form {
            if let policy = model.policy {
                let form = currentForm(policy)
                if let intro {
                    Section { Text(intro) }
                }
                Section {
                    ForEach($emails) { $field in
                        TextField("name@\(policy.emailDomains.first ?? "gujarat.gov.in")", text: $field.text)
                            .keyboardType(.emailAddress)
                            .textInputAutocapitalization(.never)
                            .autocorrectionDisabled()
                    }
                    .onDelete { emails.remove(atOffsets: $0) }
                    Button("Add an email account") { emails.append(EmailField(text: "")) }
                    ForEach(form.emails, id: \.address) { row in
                        if let error = row.error {
                            Text(error).font(.footnote).foregroundStyle(.red)
                        } else if let warning = row.warning {
                            Text("\(row.address): \(warning)").font(.footnote).foregroundStyle(.orange)
                        }
                    }
                } header: {
                    Text("Email accounts on this phone")
                } footer: {
                    Text("Official addresses end in \(policy.emailDomains.joined(separator: ", ")).")
                }
                ForEach(form.groups) { row in
                    let key = ConfirmScreen.key(platform: row.platform, group: row.group)
                    Section(row.name) {
                        Toggle("I am a member", isOn: binding(members, key, default: false) { members[key] = $0 })
                        if row.member {
                            TextField("Your \(row.platform) number or user name", text: binding(handles, key, default: "") { handles[key] = $0 })
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
                    Button("Save and check in") { model.saveAccounts(form.accounts) }
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
        var typed: [String: (member: Bool, handle: String)] = [:]
        for g in policy.groups {
            let key = ConfirmScreen.key(platform: g.platform, group: g.group)
            typed[key] = (member: members[key] ?? false, handle: handles[key] ?? "")
        }
        return ConfirmScreen.form(
            emailDomains: policy.emailDomains, groups: policy.groups, emails: emails.map(\.text),
            handles: typed)
    }

    /// What was confirmed before, so the screen edits rather than starts over.
    private func load() {
        guard !loaded else { return }
        loaded = true
        let saved = model.accounts.load()
        emails = (saved.emails.isEmpty ? [""] : saved.emails).map { EmailField(text: $0) }
        for g in saved.groups {
            let key = ConfirmScreen.key(platform: g.platform, group: g.group)
            members[key] = g.member
            handles[key] = g.handle
        }
    }

    private func binding<T>(_ values: [String: T], _ key: String, default value: T, set: @escaping (T) -> Void) -> Binding<T> {
        Binding(get: { values[key] ?? value }, set: set)
    }
}

/// One email text field; its own identity keeps editing and deleting rows stable.
private struct EmailField: Identifiable {
    let id = UUID()
    var text: String
}
