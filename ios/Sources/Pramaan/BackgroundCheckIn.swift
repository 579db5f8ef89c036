// Background check-ins with BGTaskScheduler: one BGAppRefreshTask
// (`gov.gujarat.pramaan.checkin`, listed in Info.plist
// `BGTaskSchedulerPermittedIdentifiers`), scheduled from the core's `CheckInPlan`.
//
// When the task runs it asks the core for the plan at that moment and does what it says
// (check in, send the queued check-ins, or nothing), then submits the next request
// (`Scheduling.nextRequest`: the due time, the server's Retry-After, a retry in 15
// minutes, or none once revoked or not enrolled). iOS decides when, or whether, the task
// really runs (battery, usage, Low Power Mode, a force-quit app): the plan's time is a
// request, not a promise; the app also checks in when it comes to the foreground.
//
// The core's calls are synchronous and cannot be interrupted half-way; on expiration
// the task is marked finished and the next request submitted, and the running call ends
// by itself (a check-in that did not reach the server is in the core's durable outbox).
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import BackgroundTasks
import Foundation
import PramaanCore
import PramaanLogic
import os

public final class BackgroundCheckIn: @unchecked Sendable {
    /// The task's identifier, as listed in Info.plist `BGTaskSchedulerPermittedIdentifiers`.
    public static let taskIdentifier = "gov.gujarat.pramaan.checkin"

    // @unchecked: `holder` is thread-safe; the rest is immutable.
    private let holder: AgentHolder
    private let accounts: AccountsStore
    private let log = Logger(subsystem: "gov.gujarat.pramaan", category: "checkin")

    public init(holder: AgentHolder, accounts: AccountsStore) {
        self.holder = holder
        self.accounts = accounts
    }

    /// Registers the task handler. Must run before the app finishes launching
    /// (`application(_:didFinishLaunchingWithOptions:)`), once.
    public func register() {
        let registered = BGTaskScheduler.shared.register(
            forTaskWithIdentifier: Self.taskIdentifier, using: nil
        ) { [weak self] task in
            guard let self, let refresh = task as? BGAppRefreshTask else {
                task.setTaskCompleted(success: false)
                return
            }
            self.perform(refresh)
        }
        if !registered {
            log.error("BGTaskScheduler refused \(Self.taskIdentifier, privacy: .public): is it in Info.plist?")
        }
    }

    /// Submits (or cancels) the next request per the core's plan, from a background queue
    /// (callable from the main thread: the plan waits for the agent's lock, which a
    /// running check-in holds while it reads facts on the main thread).
    public func scheduleNext() {
        DispatchQueue.global(qos: .utility).async { [weak self] in self?.scheduleNextNow() }
    }

    /// Cancels the pending request (the officer is starting over).
    public func cancelPending() {
        BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: Self.taskIdentifier)
    }

    private func scheduleNextNow() {
        let time = Self.unixTime()
        guard let agent = holder.current else { return }
        do {
            let next = try agent.plan(now: time)
            apply(Scheduling.nextRequest(for: next, time: time), why: next.reason)
        } catch {
            // No plan (storage failed): keep a request so the app tries again later.
            log.error("no check-in plan: \(String(describing: error), privacy: .public)")
            apply(.submit(earliestBeginDate: Date(timeIntervalSinceNow: TimeInterval(Scheduling.minimumDelay))), why: "retry")
        }
    }

    private func apply(_ request: ScheduleRequest, why: String) {
        switch request {
        case .cancel:
            BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: Self.taskIdentifier)
            log.info("background check-ins stopped: \(why, privacy: .public)")
        case let .submit(earliestBeginDate):
            let request = BGAppRefreshTaskRequest(identifier: Self.taskIdentifier)
            request.earliestBeginDate = earliestBeginDate
            do {
                try BGTaskScheduler.shared.submit(request)
                log.info("next background check-in after \(earliestBeginDate.description, privacy: .public): \(why, privacy: .public)")
            } catch {
                // Simulator, Background App Refresh off, too many pending requests.
                log.error("could not schedule a background check-in: \(error.localizedDescription, privacy: .public)")
            }
        }
    }

    /// Does what the plan says, once, on a background queue.
    private func perform(_ task: BGAppRefreshTask) {
        let finished = Once()
        task.expirationHandler = { [weak self] in
            guard finished.claim() else { return }
            self?.log.info("background check-in expired before it finished")
            self?.scheduleNext()
            task.setTaskCompleted(success: false)
        }
        DispatchQueue.global(qos: .utility).async { [weak self] in
            guard let self else {
                if finished.claim() { task.setTaskCompleted(success: false) }
                return
            }
            let success = self.runOnce()
            self.scheduleNextNow()
            if finished.claim() { task.setTaskCompleted(success: success) }
        }
    }

    /// One round: the plan's work. Returns whether it went as the plan wanted.
    @discardableResult
    public func runOnce() -> Bool {
        guard let agent = holder.current else { return false }
        do {
            let next = try agent.plan(now: Self.unixTime())
            switch Scheduling.work(for: next) {
            case .sendCheckIn:
                let provider = DeviceFactsProvider.forNextCall(agent: agent, accounts: accounts)
                let outcome = try agent.checkIn(facts: provider)
                log.info("check-in \(outcome.seq) \(outcome.delivered ? "delivered" : "queued", privacy: .public)")
            case .sendQueued:
                let sent = try agent.flushOutbox()
                log.info("sent \(sent) queued check-ins")
            case .nothing, .stopped:
                log.info("no check-in: \(next.reason, privacy: .public)")
            }
            return true
        } catch {
            log.error("background check-in failed: \(String(describing: error), privacy: .public)")
            return false
        }
    }

    static func unixTime() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970))
    }
}

/// The agent in use, shared by the app and the background task, replaced when the
/// officer starts over after a revocation.
public final class AgentHolder: @unchecked Sendable {
    // @unchecked: `agent` is only touched under `lock`.
    private let lock = NSLock()
    private var agent: Agent?

    public init(_ agent: Agent? = nil) {
        self.agent = agent
    }

    public var current: Agent? {
        lock.lock()
        defer { lock.unlock() }
        return agent
    }

    public func replace(with fresh: Agent?) {
        lock.lock()
        defer { lock.unlock() }
        agent = fresh
    }
}

/// Lets exactly one of two racing paths (work done, expiration) complete the task.
private final class Once: @unchecked Sendable {
    // @unchecked: `done` is only touched under `lock`.
    private let lock = NSLock()
    private var done = false

    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}
