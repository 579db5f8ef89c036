// Enrollment: from the pramaan://enroll link (this activity's intent filter) or a scanned
// QR code, to the officer's confirmation ("Enroll this phone for <name> (<id>),
// <department>?", from the server's preview), to Agent.enroll, then to the confirmation
// of email accounts and group handles (ConfirmActivity), which starts the first check-in.
// The states and texts are logic/EnrollmentFlow.kt's; the link's token is never logged.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.app

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.core.content.ContextCompat
import androidx.lifecycle.lifecycleScope
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.logic.EnrollState
import gov.gujarat.pramaan.logic.enrollmentError
import gov.gujarat.pramaan.logic.startEnrollment
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

class EnrollActivity : ComponentActivity() {
    private var state by mutableStateOf<EnrollState>(EnrollState.Scanning)
    private var enrolling by mutableStateOf(false)
    private var cameraAllowed by mutableStateOf(false)

    /** The last link or QR text, for "Try again" after a network failure (kept in memory only). */
    private var lastText: String? = null

    private val app: PramaanApp get() = application as PramaanApp

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        cameraAllowed = granted
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        cameraAllowed = ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) ==
            PackageManager.PERMISSION_GRANTED
        intent?.dataString?.let(::check)
        setContent {
            MaterialTheme {
                Surface(modifier = Modifier.fillMaxSize()) {
                    EnrollContent(
                        state = state,
                        enrolling = enrolling,
                        cameraAllowed = cameraAllowed,
                        onAskCamera = { askCamera.launch(Manifest.permission.CAMERA) },
                        onScanned = ::check,
                        onConfirm = ::enroll,
                        onCancel = ::finish,
                        onScanAgain = ::again,
                    )
                }
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        intent.dataString?.let(::check)
    }

    /** Parses [text] and asks the server what the code is for. */
    private fun check(text: String) {
        if (state is EnrollState.Checking || enrolling) return
        lastText = text
        state = EnrollState.Checking(host = "")
        lifecycleScope.launch {
            state = withContext(Dispatchers.IO) {
                try {
                    val agent = app.agent
                    startEnrollment(text, nowSecs(), agent::previewEnrollment)
                } catch (e: ApiException) {
                    EnrollState.Failed(enrollmentError(e))
                }
            }
        }
    }

    /** "Try again" repeats the check of the same text; "Scan again" goes back to the camera. */
    private fun again() {
        val failed = state as? EnrollState.Failed
        val text = lastText
        state = EnrollState.Scanning
        if (failed != null && failed.error.canRetry && text != null) check(text)
    }

    /** The officer said yes: enrollment, then the confirmation screen. */
    private fun enroll() {
        val confirm = state as? EnrollState.Confirm ?: return
        enrolling = true
        lifecycleScope.launch {
            val failure = withContext(Dispatchers.IO) {
                try {
                    app.agent.enroll(confirm.uri, app.facts(), null)
                    null
                } catch (e: ApiException) {
                    enrollmentError(e)
                }
            }
            enrolling = false
            if (failure == null) {
                startActivity(Intent(this@EnrollActivity, ConfirmActivity::class.java))
                finish()
            } else {
                state = EnrollState.Failed(failure)
            }
        }
    }
}

@Composable
private fun EnrollContent(
    state: EnrollState,
    enrolling: Boolean,
    cameraAllowed: Boolean,
    onAskCamera: () -> Unit,
    onScanned: (String) -> Unit,
    onConfirm: () -> Unit,
    onCancel: () -> Unit,
    onScanAgain: () -> Unit,
) {
    Column(
        modifier = Modifier.fillMaxSize().padding(20.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(stringResource(R.string.enroll_title), style = MaterialTheme.typography.headlineMedium)
        when (state) {
            is EnrollState.Scanning -> if (cameraAllowed) {
                Text(stringResource(R.string.enroll_scan_hint))
                QrScanner(onText = onScanned, modifier = Modifier.fillMaxWidth().height(360.dp))
            } else {
                Text(stringResource(R.string.enroll_camera_needed))
                Button(onClick = onAskCamera) { Text(stringResource(R.string.scan_qr)) }
            }
            is EnrollState.Checking -> {
                CircularProgressIndicator()
                Text(stringResource(R.string.enroll_checking))
            }
            is EnrollState.Confirm -> {
                Text(state.question, style = MaterialTheme.typography.titleLarge)
                Text(state.server)
                Text(state.expiry)
                if (enrolling) {
                    CircularProgressIndicator()
                    Text(stringResource(R.string.enroll_enrolling))
                } else {
                    Button(onClick = onConfirm, modifier = Modifier.fillMaxWidth()) {
                        Text(stringResource(R.string.enroll_confirm))
                    }
                    OutlinedButton(onClick = onCancel, modifier = Modifier.fillMaxWidth()) {
                        Text(stringResource(R.string.enroll_cancel))
                    }
                }
            }
            is EnrollState.Failed -> {
                Text(state.error.message, style = MaterialTheme.typography.bodyLarge)
                Button(onClick = onScanAgain) {
                    Text(stringResource(if (state.error.canRetry) R.string.enroll_try_again else R.string.enroll_scan_again))
                }
            }
        }
    }
}
