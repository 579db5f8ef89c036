//! Search, filters, sort and pages over a department's compliance report: the query
//! parameters of `GET /v1/compliance` that the dashboard sends (design section 8).
//!
//! Why a pure function over the built report: the report is built once per request by
//! [`crate::compliance::department_report`] (whose speed is its own concern); what the
//! dashboard asks for, one sorted page of the officers matching a search, is then a
//! filter, a sort and a slice in memory, and the CSV export applies the same query
//! without the slice, so the file holds exactly the rows the page lists. Parameters are
//! parsed once into a [`ReportQuery`] (a bad one is refused with what was wrong, before
//! the store is read); applying it cannot fail.

use std::cmp::Ordering;

use pramaan_core::api::{CompliancePage, ComplianceReport, OfficerCompliance};
use pramaan_core::model::{Assurance, ComplianceStatus, Platform};
use serde::Deserialize;

/// Officers per page when only `page` is given.
pub const DEFAULT_PER_PAGE: u64 = 50;
/// The most officers one page may hold.
pub const MAX_PER_PAGE: u64 = 500;
/// The longest search text accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// A query parameter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `status` names no status.
    #[error("status {0:?} is not one of {1}")]
    Status(String, String),
    /// `platform` names no platform.
    #[error("platform: {0}")]
    Platform(String),
    /// `assurance` names no assurance.
    #[error("assurance: {0}")]
    Assurance(String),
    /// `sort` is not a sortable column.
    #[error("sort {0:?} (expected officer_id, name, status or last_seen)")]
    Sort(String),
    /// `order` is neither `asc` nor `desc`.
    #[error("order {0:?} (expected asc or desc)")]
    Order(String),
    /// `page` is not a whole number from 1.
    #[error("page {0:?} (expected a whole number from 1)")]
    Page(String),
    /// `per_page` is not a whole number from 1 to [`MAX_PER_PAGE`].
    #[error("per_page {0:?} (expected a whole number from 1 to {MAX_PER_PAGE})")]
    PerPage(String),
    /// `q` is longer than [`MAX_SEARCH_CHARS`].
    #[error("q is longer than {MAX_SEARCH_CHARS} characters")]
    SearchTooLong,
}

/// The query parameters as sent (`?q=&status=&platform=&assurance=&sort=&order=&page=
/// &per_page=`), each optional; [`ReportQuery::parse`] gives them meaning.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueryParams {
    /// Case-insensitive substring of officer id, name, email or a group handle.
    pub q: Option<String>,
    /// One or more statuses, comma-separated.
    pub status: Option<String>,
    /// `android`, `ios` or `desktop`.
    pub platform: Option<String>,
    /// `hardware` or `software`.
    pub assurance: Option<String>,
    /// `officer_id` (default), `name`, `status` or `last_seen`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    /// The page, from 1.
    pub page: Option<String>,
    /// Officers per page, 1 to [`MAX_PER_PAGE`] ([`DEFAULT_PER_PAGE`]).
    pub per_page: Option<String>,
}

/// The column officers are sorted by (ties in officer id order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Registry id.
    #[default]
    OfficerId,
    /// Name, case-insensitively.
    Name,
    /// Status, in the order reports count them ([`ComplianceStatus::ALL`]).
    Status,
    /// Last accepted attestation; never seen sorts first ascending.
    LastSeen,
}

/// One page: which and how large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// From 1.
    pub page: u64,
    /// 1 to [`MAX_PER_PAGE`].
    pub per_page: u64,
}

/// A parsed query: what to keep, in which order, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// The search text, lowercased; `None` keeps everyone.
    pub search: Option<String>,
    /// The statuses kept; empty keeps every status.
    pub statuses: Vec<ComplianceStatus>,
    /// The platform kept (of the device the status is based on).
    pub platform: Option<Platform>,
    /// The assurance kept (of that device).
    pub assurance: Option<Assurance>,
    /// The sort column.
    pub sort: SortKey,
    /// Descending instead of ascending.
    pub descending: bool,
    /// One page (`page` or `per_page` given), or every matched officer.
    pub paging: Option<Paging>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ReportQuery {
    /// Parses the parameters; an empty parameter counts as absent.
    pub fn parse(p: &QueryParams) -> Result<Self, QueryError> {
        let search = match given(&p.q) {
            Some(q) if q.chars().count() > MAX_SEARCH_CHARS => {
                return Err(QueryError::SearchTooLong);
            }
            q => q.map(str::to_lowercase),
        };
        let mut statuses = Vec::new();
        for name in given(&p.status).into_iter().flat_map(|s| s.split(',')) {
            let name = name.trim();
            let status = ComplianceStatus::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> =
                        ComplianceStatus::ALL.iter().map(|s| s.as_str()).collect();
                    QueryError::Status(name.to_string(), known.join(", "))
                })?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        let platform = given(&p.platform)
            .map(|s| s.parse::<Platform>().map_err(QueryError::Platform))
            .transpose()?;
        let assurance = given(&p.assurance)
            .map(|s| s.parse::<Assurance>().map_err(QueryError::Assurance))
            .transpose()?;
        let sort = match given(&p.sort) {
            None | Some("officer_id") => SortKey::OfficerId,
            Some("name") => SortKey::Name,
            Some("status") => SortKey::Status,
            Some("last_seen") => SortKey::LastSeen,
            Some(other) => return Err(QueryError::Sort(other.to_string())),
        };
        let descending = match given(&p.order) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(QueryError::Order(other.to_string())),
        };
        let number = |s: &str| s.parse::<u64>().ok().filter(|n| *n >= 1);
        let page = given(&p.page)
            .map(|s| number(s).ok_or_else(|| QueryError::Page(s.to_string())))
            .transpose()?;
        let per_page = given(&p.per_page)
            .map(|s| {
                number(s)
                    .filter(|n| *n <= MAX_PER_PAGE)
                    .ok_or_else(|| QueryError::PerPage(s.to_string()))
            })
            .transpose()?;
        let paging = (page.is_some() || per_page.is_some()).then(|| Paging {
            page: page.unwrap_or(1),
            per_page: per_page.unwrap_or(DEFAULT_PER_PAGE),
        });
        Ok(ReportQuery {
            search,
            statuses,
            platform,
            assurance,
            sort,
            descending,
            paging,
        })
    }

    /// Whether `o` passes the search and every filter.
    pub fn matches(&self, o: &OfficerCompliance) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&o.status) {
            return false;
        }
        if self.platform.is_some() && o.platform != self.platform {
            return false;
        }
        if self.assurance.is_some() && o.assurance != self.assurance {
            return false;
        }
        match &self.search {
            None => true,
            Some(q) => {
                let has = |s: &str| s.to_lowercase().contains(q.as_str());
                has(&o.officer_id)
                    || has(&o.name)
                    || has(&o.email)
                    || o.handles.iter().any(|h| has(h))
            }
        }
    }

    /// The report with `officers` the matched ones in the asked order (every one: the
    /// CSV export).
    pub fn select(&self, report: &ComplianceReport) -> ComplianceReport {
        let officers = self.chosen(report).into_iter().cloned().collect();
        Self::with_officers(report, officers)
    }

    /// The answer with paging: the matched officers of the asked page, with the counts.
    /// A page past the last is empty (the counts say how many pages there are).
    pub fn page(&self, report: &ComplianceReport, paging: Paging) -> CompliancePage {
        let total = report.officers.len() as u64;
        let chosen = self.chosen(report);
        let matched = chosen.len() as u64;
        let pages = matched.div_ceil(paging.per_page).max(1);
        let skip = paging
            .page
            .saturating_sub(1)
            .saturating_mul(paging.per_page);
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let take = usize::try_from(paging.per_page).unwrap_or(usize::MAX);
        // Only the page's lines are copied out of the (shared, cached) report.
        let officers = chosen.into_iter().skip(skip).take(take).cloned().collect();
        CompliancePage {
            report: Self::with_officers(report, officers),
            total,
            matched,
            page: paging.page,
            per_page: paging.per_page,
            pages,
        }
    }

    /// The officers that match, in the asked order, borrowed from the report.
    fn chosen<'r>(&self, report: &'r ComplianceReport) -> Vec<&'r OfficerCompliance> {
        let mut chosen: Vec<&OfficerCompliance> =
            report.officers.iter().filter(|o| self.matches(o)).collect();
        self.sort_officers(&mut chosen);
        chosen
    }

    /// The report's department, time and summary with these officers.
    fn with_officers(
        report: &ComplianceReport,
        officers: Vec<OfficerCompliance>,
    ) -> ComplianceReport {
        ComplianceReport {
            department: report.department.clone(),
            generated_at: report.generated_at,
            officers,
            summary: report.summary.clone(),
        }
    }

    fn sort_officers(&self, officers: &mut [&OfficerCompliance]) {
        let rank = |s: ComplianceStatus| ComplianceStatus::ALL.iter().position(|x| *x == s);
        let by_id =
            |a: &&OfficerCompliance, b: &&OfficerCompliance| a.officer_id.cmp(&b.officer_id);
        let direct = |ord: Ordering| if self.descending { ord.reverse() } else { ord };
        match self.sort {
            SortKey::OfficerId => officers.sort_by(|a, b| direct(by_id(a, b))),
            SortKey::Status => officers.sort_by(|a, b| {
                direct(
                    rank(a.status)
                        .cmp(&rank(b.status))
                        .then_with(|| by_id(a, b)),
                )
            }),
            SortKey::LastSeen => officers
                .sort_by(|a, b| direct(a.last_seen.cmp(&b.last_seen).then_with(|| by_id(a, b)))),
            SortKey::Name => {
                officers.sort_by_cached_key(|o| (o.name.to_lowercase(), o.officer_id.clone()));
                if self.descending {
                    officers.reverse();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn line(
        id: &str,
        name: &str,
        status: ComplianceStatus,
        last_seen: Option<u64>,
    ) -> OfficerCompliance {
        OfficerCompliance {
            officer_id: id.into(),
            name: name.into(),
            designation: "Under Secretary".into(),
            email: format!("{}@gujarat.gov.in", id.to_lowercase()),
            handles: vec![format!("+91980000{}", &id[id.len() - 4..])],
            entitled: true,
            status,
            failures: vec![],
            device_id: None,
            last_seen,
            evidence: vec![],
            platform: last_seen.map(|_| Platform::Android),
            assurance: last_seen.map(|_| Assurance::Hardware),
            device_evidence: None,
            evidence_at: None,
            active_devices: u32::from(last_seen.is_some()),
        }
    }

    fn report() -> ComplianceReport {
        use ComplianceStatus::*;
        ComplianceReport {
            department: "GAD".into(),
            generated_at: 100,
            officers: vec![
                line("GAD-0001", "Asha Patel", Compliant, Some(50)),
                line("GAD-0002", "bhavin Shah", Noncompliant, Some(20)),
                line("GAD-0003", "Chetna Desai", NotEnrolled, None),
                line("GAD-0004", "Dev Mehta", Warning, Some(70)),
                line("GAD-0005", "asha Joshi", Stale, Some(10)),
            ],
            summary: BTreeMap::new(),
        }
    }

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        QueryParams {
            q: get("q"),
            status: get("status"),
            platform: get("platform"),
            assurance: get("assurance"),
            sort: get("sort"),
            order: get("order"),
            page: get("page"),
            per_page: get("per_page"),
        }
    }

    fn ids(pairs: &[(&str, &str)]) -> Vec<String> {
        let q = ReportQuery::parse(&params(pairs)).expect("query");
        q.select(&report())
            .officers
            .into_iter()
            .map(|o| o.officer_id)
            .collect()
    }

    #[test]
    fn search_is_a_case_insensitive_substring_of_id_name_email_or_handle() {
        assert_eq!(ids(&[("q", "ASHA")]), ["GAD-0001", "GAD-0005"]);
        assert_eq!(ids(&[("q", "gad-0003")]), ["GAD-0003"]);
        assert_eq!(ids(&[("q", "0004@GUJARAT")]), ["GAD-0004"]);
        assert_eq!(ids(&[("q", "+919800000002")]), ["GAD-0002"]);
        assert!(ids(&[("q", "nobody")]).is_empty());
        // An empty search keeps everyone.
        assert_eq!(ids(&[("q", "  ")]).len(), 5);
    }

    #[test]
    fn filters_keep_the_named_statuses_platform_and_assurance() {
        assert_eq!(
            ids(&[("status", "noncompliant,stale")]),
            ["GAD-0002", "GAD-0005"]
        );
        assert_eq!(ids(&[("platform", "android")]).len(), 4);
        assert!(ids(&[("platform", "ios")]).is_empty());
        assert_eq!(
            ids(&[("assurance", "hardware"), ("q", "asha")]),
            ["GAD-0001", "GAD-0005"]
        );
    }

    #[test]
    fn sorts_by_each_column_both_ways() {
        assert_eq!(
            ids(&[("sort", "name")]),
            ["GAD-0005", "GAD-0001", "GAD-0002", "GAD-0003", "GAD-0004"],
            "asha Joshi before Asha Patel: case does not count"
        );
        assert_eq!(
            ids(&[("sort", "last_seen"), ("order", "desc")]),
            ["GAD-0004", "GAD-0001", "GAD-0002", "GAD-0005", "GAD-0003"]
        );
        assert_eq!(
            ids(&[("sort", "status")]),
            ["GAD-0001", "GAD-0004", "GAD-0002", "GAD-0005", "GAD-0003"]
        );
        assert_eq!(ids(&[("order", "desc")])[0], "GAD-0005");
    }

    #[test]
    fn pages_cut_the_matched_officers_and_count_them() {
        let q = ReportQuery::parse(&params(&[("per_page", "2"), ("page", "2")])).expect("q");
        let paging = q.paging.expect("paging");
        let page = q.page(&report(), paging);
        assert_eq!((page.total, page.matched, page.pages), (5, 5, 3));
        let got: Vec<_> = page
            .report
            .officers
            .iter()
            .map(|o| o.officer_id.as_str())
            .collect();
        assert_eq!(got, ["GAD-0003", "GAD-0004"]);
        // Past the last page: empty, the counts still right.
        let q = ReportQuery::parse(&params(&[("per_page", "2"), ("page", "9")])).expect("q");
        let page = q.page(&report(), q.paging.expect("paging"));
        assert!(page.report.officers.is_empty());
        assert_eq!((page.matched, page.pages), (5, 3));
        // Nothing matched: one empty page.
        let q = ReportQuery::parse(&params(&[("page", "1"), ("q", "zzz")])).expect("q");
        let page = q.page(&report(), q.paging.expect("paging"));
        assert_eq!(
            (page.matched, page.pages, page.per_page),
            (0, 1, DEFAULT_PER_PAGE)
        );
        // Without page or per_page there is no paging.
        assert_eq!(ReportQuery::parse(&params(&[])).expect("q").paging, None);
    }

    #[test]
    fn bad_parameters_are_refused_with_what_was_wrong() {
        let err = |pairs: &[(&str, &str)]| {
            ReportQuery::parse(&params(pairs))
                .expect_err("refused")
                .to_string()
        };
        assert!(
            err(&[("status", "compliant,happy")]).contains("\"happy\" is not one of compliant")
        );
        assert!(err(&[("platform", "symbian")]).contains("symbian"));
        assert!(err(&[("assurance", "strong")]).contains("strong"));
        assert!(err(&[("sort", "email")]).contains("expected officer_id, name"));
        assert!(err(&[("order", "up")]).contains("asc or desc"));
        assert!(err(&[("page", "0")]).contains("page \"0\""));
        assert!(err(&[("page", "-1")]).contains("page"));
        assert!(err(&[("per_page", "501")]).contains("1 to 500"));
        assert!(err(&[("per_page", "x")]).contains("per_page"));
        assert!(err(&[("q", &"a".repeat(201))]).contains("longer than 200"));
        assert!(
            ReportQuery::parse(&params(&[("q", &"a".repeat(200)), ("per_page", "500")])).is_ok()
        );
    }
}
