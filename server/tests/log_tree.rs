#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! The audit log's Merkle tree through the public contract, on a real SQLite store:
//! known-answer roots and every inclusion and consistency proof up to 64 leaves, checked
//! with the RFC 9162 verification algorithms (and a wrong proof must fail).
//!
//! The known answers were computed independently of this code with python3's hashlib:
//!
//! ```python
//! import hashlib
//! def h(b): return hashlib.sha256(b).digest()
//! def mth(d):
//!     n = len(d)
//!     if n == 0: return h(b"")
//!     if n == 1: return h(b"\x00" + d[0])
//!     k = 1
//!     while k * 2 < n: k *= 2
//!     return h(b"\x01" + mth(d[:k]) + mth(d[k:]))
//! for n in [0, 1, 2, 3, 7, 8]:
//!     print(n, mth([str(i).encode() for i in range(n)]).hex())
//! ```

use pramaan_server::audit_log::{self, verify_consistency, verify_inclusion};
use rusqlite::Connection;

const KNOWN_ROOTS: [(u64, &str); 6] = [
    (
        0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        1,
        "db3426e878068d28d269b6c87172322ce5372b65756d0789001d34835f601c03",
    ),
    (
        2,
        "cb00989d94a569c0a678ae042b63dcd4625db96440517f37a6eb7976ea24ed4b",
    ),
    (
        3,
        "725d5230db68f557470dc35f1d8865813acd7ebb07ad152774141decbae71327",
    ),
    (
        7,
        "a3e23b32ccb6bf96d092d165d8aa546e09829de8f03b0e8957581d1e16b92bdf",
    ),
    (
        8,
        "3b85a9626c1ccb64c6b95ec7fa64888defe2cf12e39e77e10812ce5fcb9cb58e",
    ),
];

fn log_of(n: u64) -> Connection {
    let mut conn = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&conn).expect("schema");
    let tx = conn.transaction().expect("tx");
    for i in 0..n {
        assert_eq!(
            audit_log::append_leaf(&tx, i.to_string().as_bytes()).expect("append"),
            i
        );
    }
    tx.commit().expect("commit");
    conn
}

#[test]
fn known_answer_roots_from_the_sqlite_store() {
    for (n, want) in KNOWN_ROOTS {
        // Both a log of exactly n leaves and the prefix of a longer log.
        assert_eq!(
            hex::encode(audit_log::root(&log_of(n), n).expect("root")),
            want,
            "size {n}"
        );
        assert_eq!(
            hex::encode(audit_log::root(&log_of(20), n).expect("root")),
            want,
            "prefix {n}"
        );
    }
}

#[test]
fn every_inclusion_proof_up_to_64_leaves() {
    let conn = log_of(64);
    let mut checked = 0;
    for size in 1..=64u64 {
        let root = audit_log::root(&conn, size).expect("root");
        for index in 0..size {
            let leaf = audit_log::leaf_hash(index.to_string().as_bytes());
            let proof = audit_log::inclusion_proof(&conn, index, size).expect("proof");
            verify_inclusion(index, size, &leaf, &proof, &root)
                .unwrap_or_else(|e| panic!("{index}/{size}: {e}"));
            // A wrong proof fails: any hash changed, the wrong leaf, the wrong index.
            for k in 0..proof.len() {
                let mut bad = proof.clone();
                bad[k][31] ^= 0x40;
                assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
            }
            let other = audit_log::leaf_hash(b"not a leaf");
            assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
            if size > 1 {
                assert!(verify_inclusion((index + 1) % size, size, &leaf, &proof, &root).is_err());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 64 * 65 / 2);
}

#[test]
fn every_consistency_proof_up_to_64_leaves() {
    let conn = log_of(64);
    let roots: Vec<_> = (0..=64)
        .map(|n| audit_log::root(&conn, n).expect("root"))
        .collect();
    let mut checked = 0;
    for new in 0..=64u64 {
        for old in 0..=new {
            let proof = audit_log::consistency_proof(&conn, old, new).expect("proof");
            let (r_old, r_new) = (&roots[old as usize], &roots[new as usize]);
            verify_consistency(old, new, r_old, r_new, &proof)
                .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
            for k in 0..proof.len() {
                let mut bad = proof.clone();
                bad[k][0] ^= 1;
                assert!(
                    verify_consistency(old, new, r_old, r_new, &bad).is_err(),
                    "{old}->{new}"
                );
            }
            if 0 < old && old < new {
                // A different old tree (another size's root) is not a prefix.
                let wrong = &roots[(old as usize + 1) % (new as usize)];
                if wrong != r_old {
                    assert!(verify_consistency(old, new, wrong, r_new, &proof).is_err());
                }
                assert!(verify_consistency(old, new, r_old, r_new, &[]).is_err());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 65 * 66 / 2);
}

#[test]
fn proofs_for_sizes_past_the_log_are_refused() {
    let conn = log_of(5);
    assert!(audit_log::inclusion_proof(&conn, 0, 6).is_err());
    assert!(audit_log::inclusion_proof(&conn, 5, 5).is_err());
    assert!(audit_log::consistency_proof(&conn, 2, 6).is_err());
    assert!(audit_log::consistency_proof(&conn, 4, 2).is_err());
    assert!(audit_log::root(&conn, 6).is_err());
}

/// The RFC 6962 reference vectors published with Certificate Transparency and
/// transparency-dev/merkle (testonly/constants.go): eight leaves, the root of every prefix,
/// and a few inclusion and consistency proofs. Our SQLite-backed tree must produce exactly
/// these proofs, and they must verify.
#[test]
fn rfc6962_reference_vectors() {
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let inclusion: [(u64, u64, [&str; 3]); 2] = [
        (
            0,
            8,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let consistency: [(u64, u64, &[&str]); 3] = [
        (
            2,
            8,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    let mut conn = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&conn).expect("schema");
    let tx = conn.transaction().expect("tx");
    for l in LEAVES {
        audit_log::append_leaf(&tx, &hex::decode(l).expect("hex")).expect("append");
    }
    tx.commit().expect("commit");
    let root = |n: u64| audit_log::root(&conn, n).expect("root");
    for (n, want) in ROOTS.iter().enumerate() {
        assert_eq!(hex::encode(root(n as u64)), *want, "size {n}");
    }
    let hexes = |p: Vec<[u8; 32]>| p.into_iter().map(hex::encode).collect::<Vec<_>>();
    for (index, size, want) in inclusion {
        let proof = audit_log::inclusion_proof(&conn, index, size).expect("proof");
        assert_eq!(hexes(proof.clone()), want, "inclusion {index}/{size}");
        let leaf = audit_log::leaf_hash(&hex::decode(LEAVES[index as usize]).expect("hex"));
        verify_inclusion(index, size, &leaf, &proof, &root(size)).expect("verifies");
    }
    for (old, new, want) in consistency {
        let proof = audit_log::consistency_proof(&conn, old, new).expect("proof");
        assert_eq!(hexes(proof.clone()), want, "consistency {old}->{new}");
        verify_consistency(old, new, &root(old), &root(new), &proof).expect("verifies");
    }
}
