// The app's state: the core's agent, the status screen it computes, the enrollment steps
// and the confirm screen. The core's calls are synchronous (file and network I/O), so
// every one runs off the main thread (`offMain`); results are published on it.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import Foundation
import Pramaan
import PramaanCore
import PramaanLogic
import os

@MainActor
final class AppModel: ObservableObject {
    /// The status screen, from `Agent.screen(now:)`.
    @Published private(set) var page: StatusScreen?
    /// The enrolled policy (email domains and groups to confirm), nil before enrollment.
    @Published private(set) var policy: PolicySummary?
    /// The enrollment sheet's step; nil when the sheet is closed.
    @Published var enrollment: EnrollmentStep?
    /// The confirm screen is shown (after enrollment, or from the status screen).
    @Published var confirming = false
    @Published private(set) var busy = false
    /// A failure to show in an alert.
    @Published var alert: OfficerMessage?
    /// Why the agent could not open (the status screen shows it instead of a status).
    @Published private(set) var startupProblem: OfficerMessage?
    /// Revoked: enrolling again needs a fresh start (asked before scanning).
    @Published var askStartOver = false
    /// A link or QR text that arrived while revoked, used after starting over.
    private var pendingPayload: String?

    let holder: AgentHolder
    let accounts: AccountsStore
    let background: BackgroundCheckIn
    private let directory: URL
    private let log = Logger(subsystem: "gov.gujarat.pramaan", category: "app")

    /// The agent in use (nil when it could not open).
    var agent: Agent? { holder.current }

    init() {
        let dir = Self.stateDirectory()
        let holder = AgentHolder()
        let accounts = AccountsStore(directory: dir)
        self.directory = dir
        self.holder = holder
        self.accounts = accounts
        self.background = BackgroundCheckIn(holder: holder, accounts: accounts)
        do {
            holder.replace(with: try Self.openAgent(in: dir))
        } catch {
            log.error("the agent did not open: \(String(describing: error), privacy: .public)")
            startupProblem = EnrollmentFlow.officerMessage(for: error, during: .checkingIn)
        }
    }

    /// Opens the core's agent on `dir` with the Secure Enclave key and App Attest. On a
    /// new installation the keys a previous one left in the Keychain are forgotten first.
    nonisolated static func openAgent(in dir: URL) throws -> Agent {
        if InstallationMarker.claim(in: dir) {
            try DeviceKeys.forgetAll()
        }
        return try Agent.withEvidence(
            stateDir: dir.path, signer: SecureEnclaveSigner(), evidence: AppAttestEvidence())
    }

    /// Revoked by IT: forget this phone's enrollment, keys, queued check-ins and
    /// confirmed accounts, open a fresh agent, and go on to scan IT's new QR code.
    func startOver() {
        askStartOver = false
        let dir = directory
        background.cancelPending()
        holder.replace(with: nil)
        page = nil
        policy = nil
        Task {
            do {
                let fresh = try await offMain { () -> Agent in
                    try FileManager.default.removeItem(at: dir)
                    return try Self.openAgent(in: Self.stateDirectory())
                }
                holder.replace(with: fresh)
                startupProblem = nil
            } catch {
                startupProblem = EnrollmentFlow.officerMessage(for: error, during: .enrolling)
                return
            }
            await refresh()
            if let payload = pendingPayload {
                pendingPayload = nil
                scanned(payload)
            } else {
                enrollment = .scanning
            }
        }
    }

    /// Enrolled but revoked: the screen is blocked while a policy is still recorded.
    private var needsStartOver: Bool {
        page?.tone == .blocked && policy != nil
    }

    /// Application Support/pramaan, created on first use, kept out of backups: the device
    /// key lives in this phone's Secure Enclave, so the state is useless anywhere else.
    nonisolated static func stateDirectory() -> URL {
        let base =
            FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask).first
            ?? FileManager.default.temporaryDirectory
        var dir = base.appendingPathComponent("pramaan", isDirectory: true)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? dir.setResourceValues(values)
        return dir
    }

    static func unixTime() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970))
    }

    /// Runs a core call on a Dispatch queue: the core blocks on file and network I/O (and
    /// App Attest waits for Apple), which must tie up neither the main thread nor Swift
    /// concurrency's few cooperative threads.
    private func offMain<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    // MARK: status

    func refresh() async {
        guard let agent else { return }
        do {
            let time = Self.unixTime()
            let page = try await offMain { try agent.screen(now: time) }
            let policy = try await offMain { try agent.policySummary() }
            self.page = page
            self.policy = policy
        } catch {
            alert = EnrollmentFlow.officerMessage(for: error, during: .checkingIn)
        }
    }

    /// On every return to the foreground: do what the plan says is due (iOS may not have
    /// run the background task), refresh the screen, and ask for the next background run.
    func cameToForeground() {
        Task {
            if let agent {
                let time = Self.unixTime()
                let accounts = self.accounts
                if let next = try? await offMain({ try agent.plan(now: time) }) {
                    switch Scheduling.work(for: next) {
                    case .sendCheckIn:
                        _ = try? await offMain {
                            try agent.checkIn(facts: DeviceFactsProvider.forNextCall(agent: agent, accounts: accounts))
                        }
                    case .sendQueued: _ = try? await offMain { try agent.flushOutbox() }
                    case .nothing, .stopped: break
                    }
                }
            }
            await refresh()
            background.scheduleNext()
        }
    }

    /// The "Check in now" button.
    func checkInTapped() {
        guard let agent, !busy else { return }
        busy = true
        let accounts = self.accounts
        Task {
            defer { busy = false }
            do {
                _ = try await offMain {
                    try agent.checkIn(facts: DeviceFactsProvider.forNextCall(agent: agent, accounts: accounts))
                }
            } catch {
                alert = EnrollmentFlow.officerMessage(for: error, during: .checkingIn)
            }
            await refresh()
            background.scheduleNext()
        }
    }

    // MARK: enrollment

    func startEnrollment() {
        if needsStartOver {
            askStartOver = true
        } else {
            enrollment = .scanning
        }
    }

    /// A `pramaan://enroll` or universal link opened the app.
    func open(_ url: URL) {
        scanned(url.absoluteString)
    }

    /// A QR code's text or an opened link: parse it, then ask the server whom it is for.
    func scanned(_ payload: String) {
        if needsStartOver {
            pendingPayload = payload
            askStartOver = true
            return
        }
        let step = EnrollmentFlow.scanned(payload)
        enrollment = step
        guard case let .previewing(link) = step, let agent else { return }
        Task {
            do {
                let preview = try await offMain { try agent.previewEnrollment(uri: link.uri) }
                enrollment = .confirming(
                    EnrollmentFlow.confirmation(link: link, preview: preview, time: Self.unixTime()))
            } catch {
                enrollment = .failed(EnrollmentFlow.officerMessage(for: error, during: .preview))
            }
        }
    }

    /// The officer confirmed the officer and department shown.
    func confirmEnrollment(_ confirmation: EnrollConfirmation) {
        guard let agent, confirmation.canConfirm else { return }
        enrollment = .enrolling(confirmation)
        let provider = DeviceFactsProvider(accounts: accounts, sanctioned: nil)
        Task {
            do {
                // Evidence: the agent asks AppAttestEvidence, bound to the server's nonce.
                let info = try await offMain {
                    try agent.enroll(uri: confirmation.link.uri, facts: provider, evidence: nil)
                }
                await refresh()
                // The sheet goes on to the confirm screen (EnrollView's `.accepted`).
                enrollment = .accepted(info)
            } catch {
                enrollment = .failed(EnrollmentFlow.officerMessage(for: error, during: .enrolling))
            }
        }
    }

    func closeEnrollment() {
        enrollment = nil
    }

    // MARK: confirm screen

    /// Saves what the officer confirmed, then checks in with it (the first check-in after
    /// enrollment).
    func saveAccounts(_ confirmed: ConfirmedAccounts) {
        do {
            try accounts.save(confirmed)
        } catch {
            alert = OfficerMessage(
                heading: "Pramaan could not save your accounts",
                body: "Free some storage on the phone and try again.", canRetry: true)
            return
        }
        confirming = false
        enrollment = nil
        checkInTapped()
    }
}
