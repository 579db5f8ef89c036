// The QR code scanner of the enrollment screen: AVFoundation's
// `AVCaptureMetadataOutput` with the `.qr` type (built in, offline, no third-party
// library), wrapped for SwiftUI. It reports the first code's text once; the enrollment
// flow (`EnrollmentFlow.scanned`, the core's `parseEnrollLink`) decides whether it is an
// enrollment link. The camera needs Info.plist `NSCameraUsageDescription`.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import AVFoundation
import SwiftUI
import UIKit

/// The camera preview; calls `onCode` with the first QR code's text, on the main thread.
public struct QRScannerView: UIViewControllerRepresentable {
    private let onCode: (String) -> Void
    private let onFailure: (String) -> Void

    public init(onCode: @escaping (String) -> Void, onFailure: @escaping (String) -> Void) {
        self.onCode = onCode
        self.onFailure = onFailure
    }

    public func makeUIViewController(context: Context) -> QRScannerController {
        let controller = QRScannerController()
        controller.onCode = onCode
        controller.onFailure = onFailure
        return controller
    }

    public func updateUIViewController(_ controller: QRScannerController, context: Context) {}
}

public final class QRScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
    var onCode: ((String) -> Void)?
    var onFailure: ((String) -> Void)?

    private let session = AVCaptureSession()
    private let sessionQueue = DispatchQueue(label: "gov.gujarat.pramaan.camera")
    private var preview: AVCaptureVideoPreviewLayer?
    private var reported = false

    public override func viewDidLoad() {
        super.viewDidLoad()
        view.backgroundColor = .black
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            configure()
        case .notDetermined:
            AVCaptureDevice.requestAccess(for: .video) { [weak self] granted in
                DispatchQueue.main.async {
                    if granted {
                        self?.configure()
                    } else {
                        self?.onFailure?("Pramaan needs the camera to scan the QR code. Allow it in Settings, or open the enrollment link instead.")
                    }
                }
            }
        default:
            onFailure?("Pramaan needs the camera to scan the QR code. Allow it in Settings > Pramaan > Camera, or open the enrollment link instead.")
        }
    }

    private func configure() {
        guard let camera = AVCaptureDevice.default(for: .video),
            let input = try? AVCaptureDeviceInput(device: camera),
            session.canAddInput(input)
        else {
            onFailure?("The camera cannot be used right now.")
            return
        }
        session.addInput(input)
        let output = AVCaptureMetadataOutput()
        guard session.canAddOutput(output) else {
            onFailure?("The camera cannot read QR codes on this phone.")
            return
        }
        session.addOutput(output)
        output.setMetadataObjectsDelegate(self, queue: .main)
        output.metadataObjectTypes = [.qr]

        let layer = AVCaptureVideoPreviewLayer(session: session)
        layer.videoGravity = .resizeAspectFill
        layer.frame = view.layer.bounds
        view.layer.addSublayer(layer)
        preview = layer
        let session = self.session
        sessionQueue.async { session.startRunning() }
    }

    public override func viewDidLayoutSubviews() {
        super.viewDidLayoutSubviews()
        preview?.frame = view.layer.bounds
    }

    public override func viewWillDisappear(_ animated: Bool) {
        super.viewWillDisappear(animated)
        let session = self.session
        sessionQueue.async { session.stopRunning() }
    }

    public func metadataOutput(
        _ output: AVCaptureMetadataOutput, didOutput metadataObjects: [AVMetadataObject],
        from connection: AVCaptureConnection
    ) {
        guard !reported,
            let found = metadataObjects.compactMap({ $0 as? AVMetadataMachineReadableCodeObject }).first,
            found.type == .qr,
            let scanned = found.stringValue
        else { return }
        reported = true
        let session = self.session
        sessionQueue.async { session.stopRunning() }
        onCode?(scanned)
    }
}
