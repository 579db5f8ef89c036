// XCTest cases of the plain-Swift logic, for a Mac with Xcode:
//   xcodebuild test -scheme Pramaan-Package -destination 'platform=iOS Simulator,name=iPhone 15'
// (the xcframework has iOS slices only, so the tests run on the simulator).
//
// NOT RUN on this project's machines (no Swift toolchain): only their syntax is checked.
// The same behaviour is tested on the JVM for the Android app's Kotlin logic.
import Foundation
import PramaanCore
import XCTest

@testable import PramaanLogic

final class FactsMappingTests: XCTestCase {
    private let whatsapp = AppProbe(
        platform: "WhatsApp", androidPackage: "com.whatsapp", androidSigners: [],
        iosBundle: "net.whatsapp.WhatsApp", iosUrlScheme: "whatsapp")
    private let business = AppProbe(
        platform: "WhatsApp Business", androidPackage: "com.whatsapp.w4b", androidSigners: [],
        iosBundle: "net.whatsapp.WhatsAppSMB", iosUrlScheme: nil)
    private let signal = AppProbe(
        platform: "Signal", androidPackage: "org.thoughtcrime.securesms", androidSigners: [],
        iosBundle: "org.whispersystems.signal", iosUrlScheme: "sgnl")
    private let device = DeviceSnapshot(hardwareModel: "iPhone15,2", systemVersion: "17.5", passcodeSet: true)

    func testOnlyAppsWithABundleAndASchemeAreProbed() {
        let probed = FactsMapping.appsToProbe(policy: nil, catalog: [whatsapp, business, signal, whatsapp])
        XCTAssertEqual(probed.map(\.platform), ["WhatsApp", "Signal"])
        // The policy's apps win over the catalog once enrolled.
        XCTAssertEqual(FactsMapping.appsToProbe(policy: [signal], catalog: [whatsapp]).map(\.platform), ["Signal"])
    }

    func testInstalledAndMissingApps() {
        let record = FactsMapping.record(
            device: device, probes: [whatsapp, signal], installedSchemes: ["whatsapp"],
            accounts: ConfirmedAccounts())
        XCTAssertEqual(record.platform, .ios)
        XCTAssertEqual(record.osName, "ios")
        XCTAssertEqual(record.patchLevel, "")
        XCTAssertTrue(record.screenLock)
        XCTAssertEqual(
            record.apps,
            [
                AppRecord(id: "net.whatsapp.WhatsApp", signer: nil, version: "", present: true),
                AppRecord(id: "org.whispersystems.signal", signer: nil, version: "", present: false),
            ])
    }

    func testEmailsAndGroupsFromTheConfirmScreen() {
        let accounts = ConfirmedAccounts(
            addresses: [" Asha@Gujarat.gov.in ", "asha@gujarat.gov.in", "", "asha@gmail.com"],
            answers: [
                ConfirmedGroup(platformName: "WhatsApp", groupId: "gad-officers", isMember: true, officerHandle: " +919800000101 "),
                ConfirmedGroup(platformName: "WhatsApp", groupId: "gad-all", isMember: false, officerHandle: "stale"),
            ],
            confirmed: true)
        let record = FactsMapping.record(device: device, probes: [], installedSchemes: [], accounts: accounts)
        XCTAssertEqual(record.emails, ["asha@gujarat.gov.in", "asha@gmail.com"])
        XCTAssertEqual(
            record.groups,
            [
                GroupRecord(platform: "WhatsApp", group: "gad-officers", member: true, handle: "+919800000101"),
                GroupRecord(platform: "WhatsApp", group: "gad-all", member: false, handle: ""),
            ])
    }

    func testProbeURLRefusesWhatIsNotAScheme() {
        XCTAssertEqual(FactsMapping.probeURL(scheme: "whatsapp")?.absoluteString, "whatsapp://")
        XCTAssertNil(FactsMapping.probeURL(scheme: "1tg"))
        XCTAssertNil(FactsMapping.probeURL(scheme: "tg://x"))
        XCTAssertNil(FactsMapping.probeURL(scheme: ""))
    }
}

final class ConfirmScreenTests: XCTestCase {
    private let groups = [GroupToConfirm(platform: "WhatsApp", group: "gad-officers", name: "GAD officers")]

    func testOfficialAndOtherAddresses() {
        let form = ConfirmScreen.form(
            domains: ["gujarat.gov.in"], toConfirm: [],
            typed: ["a@gad.gujarat.gov.in", "b@gmail.com", "not an address", "c@evilgujarat.gov.in"],
            answers: [:])
        XCTAssertEqual(form.emailRows.map(\.official), [true, false, false, false])
        XCTAssertNil(form.emailRows[1].error)
        XCTAssertNotNil(form.emailRows[1].caution)
        XCTAssertNotNil(form.emailRows[2].error)
        XCTAssertFalse(form.canSave)
    }

    func testAMemberNeedsAHandleWithoutHiddenCharacters() {
        let key = ConfirmScreen.key(platformName: "WhatsApp", groupId: "gad-officers")
        var form = ConfirmScreen.form(
            domains: ["gujarat.gov.in"], toConfirm: groups, typed: [],
            answers: [key: (isMember: true, officerHandle: " ")])
        XCTAssertNotNil(form.groupRows[0].error)
        XCTAssertFalse(form.canSave)
        form = ConfirmScreen.form(
            domains: ["gujarat.gov.in"], toConfirm: groups, typed: [],
            answers: [key: (isMember: true, officerHandle: "+91980\u{202E}0000101")])
        XCTAssertNotNil(form.groupRows[0].error)
        form = ConfirmScreen.form(
            domains: ["gujarat.gov.in"], toConfirm: groups, typed: ["a@gujarat.gov.in"],
            answers: [key: (isMember: true, officerHandle: "+919800000101")])
        XCTAssertTrue(form.canSave)
        XCTAssertEqual(
            form.accounts.answers,
            [ConfirmedGroup(platformName: "WhatsApp", groupId: "gad-officers", isMember: true, officerHandle: "+919800000101")])
    }

    func testTooManyEmails() {
        let typed = (0..<17).map { "o\($0)@gujarat.gov.in" }
        let form = ConfirmScreen.form(domains: ["gujarat.gov.in"], toConfirm: [], typed: typed, answers: [:])
        XCTAssertFalse(form.errors.isEmpty)
        XCTAssertFalse(form.canSave)
    }
}

final class SchedulingTests: XCTestCase {
    private func makePlan(_ action: PlanAction, due: UInt64) -> CheckInPlan {
        CheckInPlan(action: action, at: due, periodSecs: 3600, needsNetwork: true, reason: "test")
    }

    func testEachActionMapsToWorkAndTheNextRequest() {
        let time: UInt64 = 1_800_000_000
        XCTAssertEqual(Scheduling.work(for: makePlan(.checkInNow, due: time)), .sendCheckIn)
        XCTAssertEqual(Scheduling.work(for: makePlan(.flushOutbox, due: time)), .sendQueued)
        XCTAssertEqual(Scheduling.work(for: makePlan(.wait, due: time + 7200)), .nothing)
        XCTAssertEqual(Scheduling.work(for: makePlan(.stop, due: 0)), .stopped)
        XCTAssertEqual(
            Scheduling.nextRequest(for: makePlan(.wait, due: time + 7200), time: time),
            .submit(earliestBeginDate: Date(timeIntervalSince1970: TimeInterval(time + 7200))))
        // Never sooner than iOS would run it.
        XCTAssertEqual(
            Scheduling.nextRequest(for: makePlan(.wait, due: time + 60), time: time),
            .submit(earliestBeginDate: Date(timeIntervalSince1970: TimeInterval(time + 900))))
        XCTAssertEqual(
            Scheduling.nextRequest(for: makePlan(.checkInNow, due: time), time: time),
            .submit(earliestBeginDate: Date(timeIntervalSince1970: TimeInterval(time + 900))))
        XCTAssertEqual(Scheduling.nextRequest(for: makePlan(.stop, due: 0), time: time), .cancel)
    }
}

final class AppAttestBindingTests: XCTestCase {
    func testClientDataIsTheNonceThenTheCoseKey() throws {
        var sec1 = Data([0x04])
        sec1.append(Data(repeating: 0x11, count: 32))
        sec1.append(Data(repeating: 0x22, count: 32))
        let nonce = Data(repeating: 0xAB, count: 32)
        let bound = try AppAttestBinding.boundClientData(nonce: nonce, deviceKey: sec1)
        XCTAssertEqual(bound.count, 32 + 77)
        XCTAssertEqual(bound.prefix(32), nonce)
        XCTAssertEqual(
            [UInt8](bound[32..<42]), [0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20])
        XCTAssertThrowsError(try AppAttestBinding.coseKey(sec1: Data(repeating: 0x04, count: 33)))
    }
}

final class EnrollmentFlowTests: XCTestCase {
    func testGarbageIsNotAnEnrollmentCode() {
        guard case let .failed(failure) = EnrollmentFlow.scanned("https://example.com/hello") else {
            return XCTFail("a random link must not parse")
        }
        XCTAssertEqual(
            failure.body, "This is not a Pramaan enrollment code. Scan the QR code department IT gave you.")
        guard case .failed = EnrollmentFlow.scanned(String(repeating: "a", count: 5000)) else {
            return XCTFail("an overlong text must not reach the parser")
        }
    }

    func testRefusalsInTheOfficersWords() {
        let used = EnrollmentFlow.officerMessage(
            for: ApiError.Rejected(status: 410, code: "token_used", detail: "enrollment token already used"),
            during: .enrolling)
        XCTAssertEqual(used.body, "This QR code has already been used. Ask department IT for a new one.")
        XCTAssertFalse(used.canRetry)
        let revoked = EnrollmentFlow.officerMessage(for: ApiError.Revoked(reason: "phone\nlost"), during: .checkingIn)
        XCTAssertEqual(
            revoked.body, "Department IT revoked this phone: phone lost. Ask department IT for a new QR code.")
        XCTAssertTrue(EnrollmentFlow.officerMessage(for: ApiError.Network(detail: "timeout"), during: .preview).canRetry)
    }

    func testTheConfirmationNamesTheOfficerAndDepartment() {
        let link = EnrollLink(
            uri: "pramaan://enroll?v=1", server: "https://gad.pramaan.gujarat.gov.in",
            host: "gad.pramaan.gujarat.gov.in", pin: "pin")
        let preview = EnrollmentPreview(
            officerId: "GAD-0042", officerName: "Asha \u{202E}Patel", department: "GAD",
            departmentName: "General Administration Department",
            server: "https://gad.pramaan.gujarat.gov.in", expiresAt: 1_000 + 3 * 86_400)
        let c = EnrollmentFlow.confirmation(link: link, preview: preview, time: 1_000)
        XCTAssertEqual(c.question, "Enroll this phone for Asha Patel (GAD-0042), General Administration Department?")
        XCTAssertEqual(c.details, "Server: gad.pramaan.gujarat.gov.in. This QR code expires in 3 days.")
        XCTAssertTrue(c.canConfirm)
        XCTAssertFalse(EnrollmentFlow.confirmation(link: link, preview: preview, time: 1_000 + 3 * 86_400).canConfirm)
    }
}

final class StorageTests: XCTestCase {
    func testConfirmedAccountsRoundTripAndTheInstallationMarker() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = AccountsStore(directory: dir)
        XCTAssertEqual(store.load(), ConfirmedAccounts())
        let saved = ConfirmedAccounts(
            addresses: ["a@gujarat.gov.in"],
            answers: [ConfirmedGroup(platformName: "WhatsApp", groupId: "g", isMember: true, officerHandle: "+91")],
            confirmed: true)
        try store.save(saved)
        XCTAssertEqual(store.load(), saved)
        XCTAssertTrue(InstallationMarker.claim(in: dir))
        XCTAssertFalse(InstallationMarker.claim(in: dir))
    }
}
