// The confirmation of email accounts (rule R1) and group handles (rule R4): the officer
// lists every email account on the phone (pre-filled with those Android lets the app see)
// and, per department group, says whether they are a member and with which number or user
// name. State, classification (official domain or not) and validation are
// logic/ConfirmScreen.kt's; saving stores the answers and schedules a check-in now.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.app

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Checkbox
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.lifecycleScope
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.logic.ConfirmState
import gov.gujarat.pramaan.logic.addEmail
import gov.gujarat.pramaan.logic.confirmState
import gov.gujarat.pramaan.logic.removeEmail
import gov.gujarat.pramaan.logic.setGroup
import gov.gujarat.pramaan.platform.visibleEmailAccounts
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

class ConfirmActivity : ComponentActivity() {
    private var state by mutableStateOf<ConfirmState?>(null)

    private val app: PramaanApp get() = application as PramaanApp

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        lifecycleScope.launch {
            val loaded = withContext(Dispatchers.IO) {
                try {
                    app.agent.policySummary()?.let { summary ->
                        confirmState(summary, visibleEmailAccounts(this@ConfirmActivity), app.loadConfirmed())
                    }
                } catch (e: ApiException) {
                    null
                }
            }
            if (loaded == null) finish() else state = loaded
        }
        setContent {
            MaterialTheme {
                Surface(modifier = Modifier.fillMaxSize()) {
                    state?.let { s ->
                        ConfirmContent(
                            state = s,
                            onChange = { state = it },
                            onSave = { save(s) },
                        )
                    }
                }
            }
        }
    }

    private fun save(s: ConfirmState) {
        if (!s.canConfirm) return
        app.saveConfirmed(s.confirmed())
        lifecycleScope.launch {
            withContext(Dispatchers.IO) { app.reschedule() }
            startActivity(
                Intent(this@ConfirmActivity, MainActivity::class.java)
                    .addFlags(Intent.FLAG_ACTIVITY_CLEAR_TOP or Intent.FLAG_ACTIVITY_SINGLE_TOP),
            )
            finish()
        }
    }
}

@Composable
private fun ConfirmContent(state: ConfirmState, onChange: (ConfirmState) -> Unit, onSave: () -> Unit) {
    var typed by remember { mutableStateOf("") }
    Column(
        modifier = Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(20.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(stringResource(R.string.confirm_title), style = MaterialTheme.typography.headlineMedium)
        Text(stringResource(R.string.confirm_emails), style = MaterialTheme.typography.titleMedium)
        Text(stringResource(R.string.confirm_emails_help), style = MaterialTheme.typography.bodyMedium)
        for (email in state.emails) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                Column(modifier = Modifier.weight(1f)) {
                    Text(email.address)
                    Text(
                        email.note,
                        style = MaterialTheme.typography.bodySmall,
                        color = if (email.official) Color(0xFF1B5E20) else Color(0xFFB71C1C),
                    )
                }
                TextButton(onClick = { onChange(removeEmail(state, email.address)) }) {
                    Text(stringResource(R.string.confirm_remove))
                }
            }
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            OutlinedTextField(
                value = typed,
                onValueChange = { typed = it },
                placeholder = { Text(stringResource(R.string.confirm_email_hint)) },
                singleLine = true,
                modifier = Modifier.weight(1f),
            )
            TextButton(onClick = {
                val next = addEmail(state, typed)
                if (next.problem == null) typed = ""
                onChange(next)
            }) {
                Text(stringResource(R.string.confirm_add_email))
            }
        }
        state.problem?.let { Text(it, color = Color(0xFFB71C1C)) }

        if (state.groups.isNotEmpty()) {
            Text(stringResource(R.string.confirm_groups), style = MaterialTheme.typography.titleMedium)
        }
        state.groups.forEachIndexed { index, group ->
            Card(modifier = Modifier.fillMaxWidth()) {
                Column(modifier = Modifier.padding(12.dp)) {
                    Text("${group.name} (${group.platform})", style = MaterialTheme.typography.bodyLarge)
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        Checkbox(
                            checked = group.member,
                            onCheckedChange = { onChange(setGroup(state, index, it, group.handle)) },
                        )
                        Text(stringResource(R.string.confirm_member))
                    }
                    if (group.member) {
                        OutlinedTextField(
                            value = group.handle,
                            onValueChange = { onChange(setGroup(state, index, true, it)) },
                            placeholder = { Text(stringResource(R.string.confirm_handle_hint)) },
                            singleLine = true,
                            modifier = Modifier.fillMaxWidth(),
                        )
                    }
                    group.problem?.let { Text(it, color = Color(0xFFB71C1C)) }
                }
            }
        }
        Button(onClick = onSave, enabled = state.canConfirm, modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.confirm_save))
        }
    }
}
