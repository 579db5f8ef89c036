"""Drives the generated Python bindings against a real Pramaan server.

The platform layer's foreign traits are implemented with the `cryptography` package: a
P-256 key that returns the public key as uncompressed SEC1 (65 bytes, like iOS) and DER
signatures (like Android/iOS), so the core's DER -> raw edge is exercised from Python.

Usage: bindings_test.py <bindings-dir> <enrollment-uri> <state-dir>
(run by tests/tests/bindings_python.rs)
"""

import sys
import time

sys.path.insert(0, sys.argv[1])

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

import pramaan_core as p  # noqa: E402


class PySigner(p.Signer):
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.der_signatures = 0

    def public_key(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def sign(self, message):
        der = self.key.sign(bytes(message), ec.ECDSA(hashes.SHA256()))
        assert der[0] == 0x30, "expected DER"
        self.der_signatures += 1
        return der


class PyFacts(p.DeviceFacts):
    def __init__(self, emails):
        self.emails = emails

    def facts(self):
        return p.DeviceFactsRecord(
            platform=p.DevicePlatform.IOS,
            model="iPhone 15",
            os_name="ios",
            os_version="18.1",
            patch_level="",
            screen_lock=True,
            emails=self.emails,
            apps=[
                p.AppRecord(id="net.whatsapp.WhatsApp", signer=None, version="24.1", present=True)
            ],
            groups=[
                p.GroupRecord(
                    platform="WhatsApp", group="gad-officers", member=True, handle="+919800000002"
                )
            ],
        )


class PyEvidence(p.EvidenceProvider):
    """The platform's evidence source: records what the core asked for, has none."""

    def __init__(self):
        self.key_asked = []
        self.fresh_asked = []

    def key_evidence(self, challenge, device_key_sec1):
        self.key_asked.append((bytes(challenge), bytes(device_key_sec1)))
        return None

    def fresh_evidence(self, challenge):
        self.fresh_asked.append(bytes(challenge))
        return None


class BrokenSigner(p.Signer):
    def public_key(self):
        raise RuntimeError("keystore locked")

    def sign(self, message):
        raise RuntimeError("keystore locked")


def main():
    uri, state = sys.argv[2], sys.argv[3]
    signer = PySigner()
    facts = PyFacts(["b.patel@gujarat.gov.in"])
    evidence = PyEvidence()
    agent = p.Agent.with_evidence(state, signer, evidence)
    assert not agent.status().enrolled
    assert agent.status().word == "not enrolled"
    assert "new QR code" in agent.status().hint
    try:
        agent.check_in(facts)
        raise AssertionError("check-in before enrollment must fail")
    except p.ApiError.NotEnrolled:
        pass

    info = agent.enroll(uri, facts, None)
    assert info.officer_id == "GAD-002", info
    assert info.assurance == p.Assurance.SOFTWARE, info
    # The core asked the platform for evidence bound to the enrollment's nonce and key.
    assert len(evidence.key_asked) == 1, evidence.key_asked
    challenge, key = evidence.key_asked[0]
    assert len(challenge) == 32 and key == signer.public_key(), evidence.key_asked
    assert agent.status().assurance == p.Assurance.SOFTWARE
    assert not agent.status().reattest_requested

    first = agent.check_in(facts)
    assert first.delivered and first.result is not None
    assert first.result.seq == 1
    assert not first.result.reattest
    # Software key on iOS: R5 warning only.
    assert first.result.status == p.Status.WARNING, first.result
    assert agent.status().word == "warning", agent.status()
    assert all(f.rule == p.Rule.R5 for f in first.result.failures), first.result.failures

    facts.emails = ["b.patel@gujarat.gov.in", "bhavin@yahoo.com"]
    second = agent.check_in(facts)
    assert second.result.status == p.Status.NONCOMPLIANT, second.result
    assert agent.status().word == "noncompliant", agent.status()
    r1 = [f for f in second.result.failures if f.rule == p.Rule.R1 and "yahoo.com" in f.detail]
    assert r1, second.result.failures
    # Every failure carries the officer's next step.
    assert r1[0].hint.startswith("remove the account bhavin@yahoo.com from this phone"), r1[0]
    assert all(f.hint for f in second.result.failures + second.local.failures)

    # A signer that throws gives an ApiError, never a crash.
    broken = p.Agent(state, BrokenSigner())
    try:
        broken.check_in(facts)
        raise AssertionError("a broken signer must fail")
    except p.ApiError:
        pass

    # The status screen and the check-in plan, from the agent and from a record.
    now = int(time.time())
    screen = agent.screen(now)
    assert screen.tone == p.Tone.BAD, screen
    assert screen.title == f"{len(second.result.failures)} things to fix", screen
    assert screen.last_check_in == "Last check-in just now, accepted by the server", screen
    plan = agent.plan(now)
    assert plan.action == p.PlanAction.WAIT and plan.at > now, plan
    record = agent.status()
    record.pending = 3
    assert p.plan_check_in(record, now).action == p.PlanAction.FLUSH_OUTBOX
    assert p.status_screen(record, now).queued == "3 check-ins waiting to be sent"
    assert agent.policy_summary().department == "GAD"
    assert any(a.ios_url_scheme == "whatsapp" for a in p.app_catalog())

    status = agent.status()
    assert status.last_seq == 2, status
    assert status.last_check_in_at == status.last_local.at, status
    assert agent.pending_count() == 0
    assert signer.der_signatures >= 3
    print(f"PYTHON OK device={info.device_id} seq={status.last_seq}")


if __name__ == "__main__":
    main()
