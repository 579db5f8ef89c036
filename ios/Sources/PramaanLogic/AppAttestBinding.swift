// The bytes that bind the Secure Enclave device key to an App Attest attestation.
//
// Why: App Attest attests a key of its own, not the Secure Enclave key Pramaan signs
// with. The server accepts the device key as hardware-backed when the attestation's
// clientDataHash is SHA-256 of `client_data = nonce || COSE_Key(device key)`: the nonce
// it issued for this enrollment (32 bytes), then the device key as a COSE_Key (RFC 9053:
// kty EC2, crv P-256, alg ES256, x and y), parsed by the server, not byte-compared (see
// `KeyEvidence.appleAppAttest` in the bindings and core/src/evidence/mod.rs). Hashing
// is CryptoKit's, in AppAttestEvidence.swift; the layout is here, in plain Swift.
import Foundation
import PramaanCore

public enum AppAttestBinding {
    /// The COSE_Key (CBOR map, 77 bytes) of a P-256 public key given as uncompressed SEC1
    /// (`0x04 || x || y`, 65 bytes); throws `ApiError.InvalidInput` for anything else.
    public static func coseKey(sec1: Data) throws -> Data {
        let bytes = [UInt8](sec1)
        guard bytes.count == 65, bytes[0] == 0x04 else {
            throw ApiError.InvalidInput(detail: "the device key is not an uncompressed P-256 point (\(bytes.count) bytes)")
        }
        var out: [UInt8] = [
            0xA5,  // map of 5 pairs
            0x01, 0x02,  // kty (1): EC2 (2)
            0x03, 0x26,  // alg (3): ES256 (-7)
            0x20, 0x01,  // crv (-1): P-256 (1)
            0x21, 0x58, 0x20,  // x (-2): byte string of 32
        ]
        out.append(contentsOf: bytes[1..<33])
        out.append(contentsOf: [0x22, 0x58, 0x20])  // y (-3): byte string of 32
        out.append(contentsOf: bytes[33..<65])
        return Data(out)
    }

    /// `nonce || COSE_Key(device key)`: its SHA-256 is the clientDataHash passed to
    /// `DCAppAttestService.attestKey`, and it is sent as the evidence's `clientData`.
    public static func boundClientData(nonce: Data, deviceKey: Data) throws -> Data {
        guard !nonce.isEmpty else {
            throw ApiError.InvalidInput(detail: "the server's challenge is empty")
        }
        return nonce + (try coseKey(sec1: deviceKey))
    }
}
