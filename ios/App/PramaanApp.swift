// The Pramaan app for officers: one window with the status screen, the enrollment sheet
// and the confirm screen. Everything it shows comes from the core (`Agent.screen`) or
// from PramaanLogic; this file only wires the app's lifecycle.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import PramaanLogic
import SwiftUI
import UIKit

@main
struct PramaanApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            StatusView()
                .environmentObject(delegate.appModel)
                // pramaan://enroll?... (CFBundleURLTypes) and, in the SwiftUI life cycle, the
                // universal link https://<department host>/.../enroll?... (associated domains).
                .onOpenURL { url in delegate.appModel.open(url) }
        }
        .onChange(of: scenePhase) { phase in
            if phase == .active { delegate.appModel.cameToForeground() }
        }
    }
}

/// Owns the model so the background task handler can be registered before launch ends,
/// as BGTaskScheduler requires.
final class AppDelegate: NSObject, UIApplicationDelegate {
    @MainActor lazy var appModel = AppModel()

    @MainActor
    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        appModel.background.register()
        return true
    }
}
