// The status screen: the core's StatusScreen (agent.screen(now)) as it is — title and
// summary in the tone's colour, one card per thing to fix (what is missing, what to do),
// last check-in, queued check-ins, the next step when revoked or not enrolled — and the
// "Check in now" / "Scan QR code" buttons the screen allows. Compose, Material 3.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.app

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.lifecycleScope
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.StatusScreen
import gov.gujarat.pramaan.Tone
import gov.gujarat.pramaan.logic.StatusUi
import gov.gujarat.pramaan.logic.checkInError
import gov.gujarat.pramaan.logic.failed
import gov.gujarat.pramaan.logic.finished
import gov.gujarat.pramaan.logic.started
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

class MainActivity : ComponentActivity() {
    private var ui by mutableStateOf(StatusUi(screen = null))

    private val app: PramaanApp get() = application as PramaanApp

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme {
                Surface(modifier = Modifier.fillMaxSize()) {
                    StatusContent(
                        ui = ui,
                        onCheckIn = ::checkIn,
                        onEnroll = { startActivity(Intent(this, EnrollActivity::class.java)) },
                        onConfirm = { startActivity(Intent(this, ConfirmActivity::class.java)) },
                    )
                }
            }
        }
    }

    override fun onResume() {
        super.onResume()
        refresh()
    }

    private fun readScreen(): StatusScreen? = try {
        app.agent.screen(nowSecs())
    } catch (e: ApiException) {
        ui = ui.copy(message = checkInError(e).message)
        null
    }

    private fun refresh() {
        lifecycleScope.launch {
            val screen = withContext(Dispatchers.IO) { readScreen() }
            if (screen != null) ui = ui.copy(screen = screen)
        }
    }

    private fun checkIn() {
        if (!ui.checkInEnabled) return
        ui = ui.started()
        lifecycleScope.launch {
            ui = withContext(Dispatchers.IO) {
                try {
                    val result = app.agent.checkIn(app.facts())
                    val screen = app.agent.screen(nowSecs())
                    app.reschedule()
                    ui.finished(result, screen)
                } catch (e: ApiException) {
                    ui.failed(e, readScreen())
                }
            }
        }
    }
}

private fun toneColor(tone: Tone): Color = when (tone) {
    Tone.GOOD -> Color(0xFF1B5E20)
    Tone.ATTENTION -> Color(0xFF8D6E00)
    Tone.BAD -> Color(0xFFB71C1C)
    Tone.BLOCKED -> Color(0xFF424242)
}

@Composable
private fun StatusContent(ui: StatusUi, onCheckIn: () -> Unit, onEnroll: () -> Unit, onConfirm: () -> Unit) {
    Column(
        modifier = Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(20.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        val screen = ui.screen
        if (screen != null) {
            Text(screen.title, style = MaterialTheme.typography.headlineMedium, color = toneColor(screen.tone))
            Text(screen.summary, style = MaterialTheme.typography.bodyLarge)
            for (item in screen.items) {
                Card(modifier = Modifier.fillMaxWidth()) {
                    Column(modifier = Modifier.padding(12.dp)) {
                        Text(item.problem, style = MaterialTheme.typography.bodyLarge)
                        Text(
                            stringResource(R.string.what_to_do) + ": " + item.action,
                            style = MaterialTheme.typography.bodyMedium,
                        )
                    }
                }
            }
            Text(screen.lastCheckIn, style = MaterialTheme.typography.bodyMedium)
            screen.queued?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            screen.nextStep?.let { Text(it, style = MaterialTheme.typography.bodyLarge) }
        }
        ui.message?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
        if (screen?.canCheckIn == true) {
            Button(onClick = onCheckIn, enabled = ui.checkInEnabled, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(if (ui.checkingIn) R.string.checking_in else R.string.check_in_now))
            }
            OutlinedButton(onClick = onConfirm, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.emails_and_groups))
            }
        }
        if (ui.enrollVisible) {
            Button(onClick = onEnroll, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.scan_qr))
            }
        }
    }
}
