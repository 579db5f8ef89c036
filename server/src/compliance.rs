//! The per-officer compliance view (design section 6), built from store rows by core's
//! `policy::evaluate_officer`.
