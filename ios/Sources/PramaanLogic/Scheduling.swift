// Turns the core's `CheckInPlan` into what the app asks of BGTaskScheduler.
//
// Why: the core decides when a check-in is due, when queued check-ins should be sent and
// when the server asked to wait (`planCheckIn`); iOS decides when background work really
// runs. This file is the small, testable bridge between the two, the counterpart of the
// Android app's Scheduling.kt: one BGAppRefreshTask request at a time, its
// `earliestBeginDate` from the plan, and none at all once the plan says stop (revoked or
// not enrolled). iOS may run the task much later than asked, or not at all while the app
// is force-quit: the request is a wish, and the app also checks in when it comes to the
// foreground.
import Foundation
import PramaanCore

/// What the background task does when it runs, from the plan made at that moment.
///
/// The case names differ from the bindings' (`PlanAction`, `Agent.checkIn`) on purpose:
/// the binding-name check matches names without scopes, so declaring `checkIn` here would
/// hide a change of the core's `checkIn` from it.
public enum BackgroundWork: Equatable, Sendable {
    /// Sign and send a check-in (queued if offline).
    case sendCheckIn
    /// Only send the queued check-ins.
    case sendQueued
    /// Nothing is due yet.
    case nothing
    /// Never run again until the officer enrolls (revoked or not enrolled).
    case stopped
}

/// The next BGAppRefreshTask request, or none.
public enum ScheduleRequest: Equatable, Sendable {
    /// Submit a request not to run before `earliestBeginDate`.
    case submit(earliestBeginDate: Date)
    /// Cancel pending requests (`BGTaskScheduler.cancel(taskRequestWithIdentifier:)`).
    case cancel
}

public enum Scheduling {
    /// iOS does not run app refresh more often than about every 15 minutes; asking for
    /// sooner only wastes the request. The core's `period_secs` is never below it either.
    public static let minimumDelay: UInt64 = 15 * 60

    /// What to do now under `checkInPlan`.
    public static func work(for checkInPlan: CheckInPlan) -> BackgroundWork {
        switch checkInPlan.action {
        case .checkInNow: return .sendCheckIn
        case .flushOutbox: return .sendQueued
        case .wait: return .nothing
        case .stop: return .stopped
        }
    }

    /// The request to submit after acting (or deciding not to) under `checkInPlan`, at
    /// `time` (Unix seconds). A wait until the due time or the server's Retry-After asks
    /// for exactly that time; work still due after a run (the phone was offline, the task
    /// expired) is retried after `minimumDelay`; stop cancels.
    public static func nextRequest(for checkInPlan: CheckInPlan, time: UInt64) -> ScheduleRequest {
        switch checkInPlan.action {
        case .stop:
            return .cancel
        case .wait:
            let due = max(checkInPlan.at, time &+ minimumDelay)
            return .submit(earliestBeginDate: date(due))
        case .checkInNow, .flushOutbox:
            return .submit(earliestBeginDate: date(time &+ minimumDelay))
        }
    }

    static func date(_ unix: UInt64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(unix))
    }
}
