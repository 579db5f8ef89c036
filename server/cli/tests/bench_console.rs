//! `pramaan bench --console`: it seeds both departments as documented and reports every
//! figure (what the figures are worth is for a release build; here only that they are
//! measured and consistent).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

#[test]
fn console_bench_reports_both_departments_and_the_ratios() {
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args([
            "bench",
            "--console",
            "50",
            "--baseline",
            "20",
            "--format",
            "json",
        ])
        .output()
        .expect("run pramaan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for (key, n) in [("large", 50u64), ("baseline", 20)] {
        let d = &v[key];
        assert_eq!(d["officers"], n, "{v}");
        assert_eq!(d["devices"], n / 2, "{v}");
        // 9 in 10 entitled; every other officer enrolled, one in five of those noncompliant.
        let s = &d["summary"];
        assert_eq!(s["not_entitled"], n / 10, "{v}");
        assert_eq!(s["noncompliant"], n / 10, "{v}");
        assert_eq!(s["warning"], n / 2 - n / 10, "{v}");
        assert_eq!(s["not_enrolled"], n / 2 - n / 10, "{v}");
        for figure in [
            "compliance_cold_ms",
            "compliance_warm_ms",
            "build_ms",
            "officer_ms",
            "first_page_cold_ms",
            "first_page_warm_ms",
        ] {
            assert!(
                d[figure].as_f64().is_some_and(|ms| ms > 0.0),
                "{figure}: {v}"
            );
        }
        assert!(
            d["compliance_bytes"].as_u64().is_some_and(|b| b > 1000),
            "{v}"
        );
    }
    for ratio in ["cold_ratio", "warm_ratio", "build_ratio", "officer_ratio"] {
        assert!(v[ratio].as_f64().is_some_and(|r| r > 0.0), "{ratio}: {v}");
    }
    // Conflicting modes are refused before anything runs.
    let out = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["bench", "--console", "10", "--flood"])
        .output()
        .expect("run pramaan");
    assert!(!out.status.success());
}
