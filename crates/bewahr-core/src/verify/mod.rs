//! Verifying evidence records (RFC 4998 section 5.3; RFC 6283 section 4.3
//! for the XML syntax), as a library.
//!
//! Pure: the record, the data's hashes, the trusted certificates and the
//! verification time come in as parameters; nothing here reads a file, the
//! network or the clock.
//!
//! The verifier walks a [`Walk`]: the chains and time-stamps of a record
//! with, for each time-stamp, the bytes its renewal input is hashed from.
//! The two syntaxes differ only there (RFC 4998 hashes DER, RFC 6283
//! canonical XML) and in how a hash-tree renewal joins the data and the
//! earlier chains; [`Walk::rfc4998`] builds one from a DER record, and
//! `bewahr-xmlsig` builds one from an XML record (it needs a
//! canonicaliser, which the core does not link).

mod policy;
mod report;

/// How a finding that a hash algorithm is no longer suitable begins
/// (eCard's `hashAlgorithmNotSuitable`; interfaces report it by this).
pub const HASH_UNSUITABLE: &str = "hash algorithm not suitable";

pub mod tsa;

pub use policy::{
    AlgorithmPolicy, CatalogueError, SignatureEntry, SignatureFamily, Unrated, DEFAULT_CATALOGUE,
};
pub use report::{AtsReport, Finding, Indication, Report, SubIndication};

use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::alg::DigestAlgorithm;
use crate::ers::{ArchiveTimeStamp, EvidenceRecord};
use crate::hashtree::{hash_sorted, root_from_reduced, Reading, ReducedTreeError};
use crate::signature::revocation::ValidationData;
use crate::tsp::token::{check_token, CheckedToken, TokenError};
use crate::tsp::trust::{self, TrustError};

/// The archived data, as far as the verifier is given it.
pub trait DataObjects {
    /// The hash of each data object (several for a data-object group) with
    /// `alg`, or `None` when it cannot be had for that algorithm.
    fn hashes(&mut self, alg: DigestAlgorithm) -> Result<Option<Vec<Vec<u8>>>, String>;
    /// Whether any data was given at all.
    fn present(&self) -> bool;
    /// The hashes for the first time-stamp of chain `chain` (RFC 6283
    /// canonicalises XML data with that chain's method first).
    fn hashes_for(
        &mut self,
        alg: DigestAlgorithm,
        chain: usize,
    ) -> Result<Option<Vec<Vec<u8>>>, String> {
        let _ = chain;
        self.hashes(alg)
    }
}

/// The syntax a record came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// RFC 4998 (DER): a hash-tree renewal covers H(h(d) || H(earlier chains)).
    Rfc4998,
    /// RFC 6283 (XML): a hash-tree renewal's first list holds h(d) and
    /// H(earlier chains) side by side.
    Rfc6283,
}

/// An evidence record as the verifier walks it.
pub struct Walk {
    pub syntax: Syntax,
    /// RFC 4998's `digestAlgorithms` (each chain's algorithm should be
    /// listed); `None` where the syntax has no such list.
    pub listed: Option<Vec<Option<DigestAlgorithm>>>,
    pub chains: Vec<WalkChain>,
    /// Validation data the record carries (unprotected, and per time-stamp).
    pub data: tsa::RecordData,
    /// About the record as a whole (unprotected parts, encodings).
    pub findings: Vec<Finding>,
}

/// One archive time-stamp chain.
pub struct WalkChain {
    /// The chain's hash algorithm (RFC 6283: its `DigestMethod`; RFC 4998:
    /// the first time-stamp's `digestAlgorithm` or imprint algorithm).
    pub algorithm: Result<DigestAlgorithm, String>,
    pub stamps: Vec<WalkStamp>,
}

/// One archive time-stamp.
pub struct WalkStamp {
    /// The RFC 3161 token, as received.
    pub token: Vec<u8>,
    /// RFC 4998's own `digestAlgorithm` field (must be the token's).
    pub digest_algorithm: Option<Result<DigestAlgorithm, String>>,
    /// The reduced hash tree (lists of hash values), if any.
    pub tree: Option<Vec<Vec<Vec<u8>>>>,
    /// A time-stamp renewal's input: the bytes of the previous time-stamp
    /// it must cover (more than one where readings differ), with a label
    /// for the report.
    pub previous: Vec<(Vec<u8>, &'static str)>,
    /// A hash-tree renewal's input: the bytes of the earlier chains, or
    /// why they cannot be had.
    pub earlier: Option<Result<Vec<u8>, String>>,
}

impl Walk {
    /// The walk of a DER record: renewals cover the DER of the previous
    /// token (and its DER form when it came as BER) and of the earlier chains.
    pub fn rfc4998(er: &EvidenceRecord) -> Walk {
        let mut findings = vec![];
        let data = tsa::record_data(er);
        if er.crypto_infos.is_some() {
            findings.push(Finding {
                indication: Passed,
                sub_indication: None,
                message: format!(
                    "the record carries cryptoInfos ({} certificate(s), {} CRL(s), {} OCSP response(s) read from them): used as validation data, but not protected by any time-stamp, and outside TR-ESOR's Basis-ERS profile",
                    data.crypto_infos.certificates.len(),
                    data.crypto_infos.crls.len(),
                    data.crypto_infos.ocsp_responses.len()
                ),
            });
        }
        if er.encryption_info.is_some() {
            findings.push(Finding {
                indication: Passed,
                sub_indication: None,
                message: "the record carries encryptionInfo (outside TR-ESOR's Basis-ERS profile)"
                    .into(),
            });
        }
        let chains = er
            .archive_time_stamp_sequence
            .iter()
            .enumerate()
            .map(|(ci, chain)| WalkChain {
                algorithm: chain_algorithm(&chain[0]),
                stamps: chain
                    .iter()
                    .enumerate()
                    .map(|(ai, ats)| {
                        let mut previous = vec![];
                        if ai > 0 {
                            // the previous token's bytes as received; a BER token may
                            // also have been hashed in its DER form by the renewer
                            let prev = chain[ai - 1].time_stamp.as_bytes();
                            previous.push((prev.to_vec(), ""));
                            if let Ok(d) = crate::signature::ber::to_der(prev) {
                                if d != prev {
                                    previous.push((
                                        d,
                                        ", over the DER form of the previous BER time-stamp",
                                    ));
                                }
                            }
                        }
                        WalkStamp {
                            token: ats.time_stamp.as_bytes().to_vec(),
                            digest_algorithm: ats.digest_algorithm.as_ref().map(|a| {
                                DigestAlgorithm::from_algorithm_identifier(a)
                                    .map_err(|e| e.to_string())
                            }),
                            tree: ats.reduced_hashtree.as_ref().map(|t| {
                                t.iter()
                                    .map(|p| p.iter().map(|o| o.as_bytes().to_vec()).collect())
                                    .collect()
                            }),
                            previous,
                            earlier: (ai == 0 && ci > 0).then(|| {
                                er.sequence_prefix_der(ci)
                                    .map_err(|e| format!("cannot encode the previous chains: {e}"))
                            }),
                        }
                    })
                    .collect(),
            })
            .collect();
        Walk {
            syntax: Syntax::Rfc4998,
            listed: Some(
                er.digest_algorithms
                    .iter()
                    .map(|a| DigestAlgorithm::from_algorithm_identifier(a).ok())
                    .collect(),
            ),
            chains,
            data,
            findings,
        }
    }
}

/// No data: everything that needs none is checked.
pub struct NoData;

impl DataObjects for NoData {
    fn hashes(&mut self, _: DigestAlgorithm) -> Result<Option<Vec<Vec<u8>>>, String> {
        Ok(None)
    }
    fn present(&self) -> bool {
        false
    }
}

/// Known digests of one data object, e.g. from `--digest sha256:HEX`.
pub struct Digests(pub Vec<(DigestAlgorithm, Vec<u8>)>);

impl DataObjects for Digests {
    fn hashes(&mut self, alg: DigestAlgorithm) -> Result<Option<Vec<Vec<u8>>>, String> {
        Ok(self
            .0
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, h)| vec![h.clone()]))
    }
    fn present(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Data objects held in memory (one, or a group).
pub struct InMemory(pub Vec<Vec<u8>>);

impl DataObjects for InMemory {
    fn hashes(&mut self, alg: DigestAlgorithm) -> Result<Option<Vec<Vec<u8>>>, String> {
        Ok(Some(self.0.iter().map(|d| alg.digest(d)).collect()))
    }
    fn present(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Which rules the verifier applies beyond RFC 4998's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// RFC 4998 section 5.3: revocation data is checked where it is found;
    /// where none is found, the report says so and the result stands.
    #[default]
    Rfc4998,
    /// TR-ESOR-ERS (and BSI's reference verifier): every certificate of
    /// every TSA path but the anchor needs revocation data, else the record
    /// does not pass (INDETERMINATE / TRY_LATER).
    TrEsor,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "rfc4998" | "rfc-4998" => Ok(Profile::Rfc4998),
            "tr-esor" | "tresor" => Ok(Profile::TrEsor),
            other => Err(format!("unknown profile {other:?} (rfc4998 or tr-esor)")),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Rfc4998 => "rfc4998",
            Profile::TrEsor => "tr-esor",
        })
    }
}

/// What the verifier trusts and when it judges.
pub struct Options<'a> {
    /// TSA certificates, or roots of TSA chains, that are trusted.
    pub trusted: &'a [Certificate],
    /// Certificates known from elsewhere (not trusted by themselves).
    pub extra_certificates: &'a [Certificate],
    /// The time of the judgement: the last time-stamp must still protect then.
    pub at: OffsetDateTime,
    pub policy: &'a AlgorithmPolicy,
    pub profile: Profile,
    /// Validation data for the TSAs' certificates given by the caller
    /// (certificates, CRLs, OCSP responses), beside what the record carries.
    pub validation_data: &'a ValidationData,
    /// How long before genTime revocation data may have been issued and still count.
    pub revocation_max_age: time::Duration,
}

static NO_VALIDATION_DATA: ValidationData = ValidationData {
    certificates: Vec::new(),
    crls: Vec::new(),
    ocsp_responses: Vec::new(),
};

impl<'a> Options<'a> {
    /// The RFC 4998 profile, no extra certificates or validation data,
    /// revocation data up to one day older than genTime.
    pub fn new(
        trusted: &'a [Certificate],
        at: OffsetDateTime,
        policy: &'a AlgorithmPolicy,
    ) -> Self {
        Options {
            trusted,
            extra_certificates: &[],
            at,
            policy,
            profile: Profile::Rfc4998,
            validation_data: &NO_VALIDATION_DATA,
            revocation_max_age: time::Duration::days(1),
        }
    }
}

use Indication::{Failed, Indeterminate, Passed};
use SubIndication as S;

struct Checked {
    token: Option<CheckedToken>,
    /// The earliest revocation after genTime on the TSA's path.
    revoked_after: Option<(OffsetDateTime, String)>,
    /// The digests in the signatures of the path's certificates (not the anchor's).
    cert_digests: Vec<(String, DigestAlgorithm)>,
}

/// Verifies a DER evidence record.
pub fn verify_der(record: &[u8], data: &mut dyn DataObjects, opts: &Options<'_>) -> Report {
    match EvidenceRecord::from_der_checked(record) {
        Ok(er) => {
            let mut r = verify(&er, data, opts);
            if der::Encode::to_der(&er).ok().as_deref() != Some(record) {
                r.findings.push(Finding {
                    indication: Passed,
                    sub_indication: None,
                    message: "the record is BER, not DER: read through its DER form, with each time-stamp token kept as received".into(),
                });
            }
            r
        }
        Err(e) => Report::format_failure(e.to_string(), opts.at),
    }
}

fn chain_algorithm(ats: &ArchiveTimeStamp) -> Result<DigestAlgorithm, String> {
    match &ats.digest_algorithm {
        Some(ai) => DigestAlgorithm::from_algorithm_identifier(ai).map_err(|e| e.to_string()),
        None => {
            let t = crate::tsp::token::read_tst_info(ats.time_stamp.as_bytes())
                .map_err(|e| e.to_string())?;
            DigestAlgorithm::from_oid(&t.message_imprint.hash_algorithm.oid)
                .map_err(|e| e.to_string())
        }
    }
}

fn describe_token_error(e: &TokenError) -> (Indication, SubIndication) {
    match e {
        TokenError::Signature {
            source: crate::tsp::sig::SignatureError::Invalid(_),
            ..
        }
        | TokenError::MessageDigestMismatch { .. }
        | TokenError::SigningCertificateMismatch { .. } => (Failed, S::SigCryptoFailure),
        TokenError::Signature { .. } => (Indeterminate, S::SigConstraintsFailure),
        TokenError::NoSignerCertificate { .. } => (Indeterminate, S::NoCertificateChainFound),
        _ => (Failed, S::FormatFailure),
    }
}

/// Verifies a decoded evidence record.
pub fn verify(er: &EvidenceRecord, data: &mut dyn DataObjects, opts: &Options<'_>) -> Report {
    verify_walk(&Walk::rfc4998(er), data, opts)
}

/// Verifies a record in either syntax.
pub fn verify_walk(walk: &Walk, data: &mut dyn DataObjects, opts: &Options<'_>) -> Report {
    let mut reports: Vec<AtsReport> = Vec::new();
    let mut record_findings: Vec<Finding> = walk.findings.clone();
    let mut data_checked = false;
    let mut checked: Vec<Checked> = Vec::new();
    let mut chain_algs: Vec<Option<DigestAlgorithm>> = Vec::new();
    let known: Vec<Certificate> = opts
        .extra_certificates
        .iter()
        .chain(opts.trusted)
        .cloned()
        .chain(opts.validation_data.parsed_certificates())
        .collect();
    let record_data = &walk.data;

    for (ci, chain) in walk.chains.iter().enumerate() {
        let chain_alg = chain.algorithm.clone();
        chain_algs.push(chain_alg.as_ref().ok().copied());
        if let (Ok(a), Some(listed)) = (&chain_alg, &walk.listed) {
            if !listed.contains(&Some(*a)) {
                record_findings.push(Finding {
                    indication: Passed,
                    sub_indication: None,
                    message: format!(
                        "chain {} uses {a}, which digestAlgorithms does not list",
                        ci + 1
                    ),
                });
            }
        }
        for (ai, ats) in chain.stamps.iter().enumerate() {
            let covers = match (ci, ai) {
                (0, 0) => "the data",
                (_, 0) => "the data and the previous chains (hash-tree renewal)",
                _ => "the previous time-stamp (time-stamp renewal)",
            };
            let mut r = AtsReport {
                chain: ci + 1,
                index: ai + 1,
                covers,
                gen_time: None,
                tsa: None,
                serial_number: None,
                policy: None,
                digest_algorithm: None,
                signature_algorithm: None,
                hash_tree: None,
                trusted_via: None,
                certificates: vec![],
                revocation: vec![],
                indication: Passed,
                sub_indication: None,
                findings: vec![],
            };
            let one = check_one(
                walk.syntax,
                (ci, ai),
                ats,
                chain_alg.clone(),
                data,
                opts,
                (&known, record_data),
                &mut r,
                &mut data_checked,
            );
            checked.push(one);
            reports.push(r);
        }
    }

    // genTimes ascend, and each algorithm and TSA certificate protects until the next time-stamp
    let flat: Vec<(usize, usize)> = walk
        .chains
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| (0..c.stamps.len()).map(move |ai| (ci, ai)))
        .collect();
    for k in 0..flat.len() {
        let Some(tok) = checked[k].token.as_ref() else {
            continue;
        };
        let next = checked
            .get(k + 1)
            .and_then(|c| c.token.as_ref())
            .map(|t| t.gen_time);
        if let Some(n) = next {
            if n < tok.gen_time {
                let r = &mut reports[k + 1];
                r.add(
                    Failed,
                    Some(S::FormatFailure),
                    format!(
                        "genTime {} is earlier than the previous time-stamp's {}",
                        trust::rfc3339(n),
                        trust::rfc3339(tok.gen_time)
                    ),
                );
            }
        }
        let until = if k + 1 < flat.len() {
            next
        } else {
            Some(opts.at)
        };
        let Some(until) = until else { continue };
        if let Some((at, subject)) = &checked[k].revoked_after {
            if *at < until {
                let msg = if k + 1 < flat.len() {
                    format!("certificate {subject} of the TSA's path was revoked at {}, before the next archive time-stamp at {} renewed this one", trust::rfc3339(*at), trust::rfc3339(until))
                } else {
                    format!("certificate {subject} of the TSA's path was revoked at {}, before the verification time {}: the record needed a time-stamp renewal before that", trust::rfc3339(*at), trust::rfc3339(until))
                };
                reports[k].add(Indeterminate, Some(S::RevokedNoPoe), msg);
            }
        }
        // the hashes inside the signatures: the token's, and those on the path's certificates
        let mut rated = vec![(
            tok.signature_digest,
            "the time-stamp's signature".to_string(),
        )];
        for (subject, d) in &checked[k].cert_digests {
            rated.push((*d, format!("the signature on certificate {subject}")));
        }
        for (d, what) in rated {
            if let Some(end) = opts.policy.hash_unsuitable_before(d, until) {
                reports[k].add(
                    Indeterminate,
                    Some(S::CryptoConstraintsFailureNoPoe),
                    format!("{HASH_UNSUITABLE}: {what} uses {d}, suitable until {}, but had to protect until {}", trust::rfc3339(end), trust::rfc3339(until)),
                );
            }
        }
        let na = trust::not_after(&tok.signer);
        if na < until {
            let msg = if k + 1 < flat.len() {
                format!("the TSA certificate expired at {} before the next archive time-stamp at {} renewed it", trust::rfc3339(na), trust::rfc3339(until))
            } else {
                format!("the TSA certificate expired at {}, before the verification time {}: the record needed a time-stamp renewal", trust::rfc3339(na), trust::rfc3339(until))
            };
            reports[k].add(Indeterminate, Some(S::OutOfBoundsNoPoe), msg);
        }
        if let Some(end) = opts
            .policy
            .hash_unsuitable_before(tok.imprint_algorithm, until)
        {
            reports[k].add(
                Indeterminate,
                Some(S::CryptoConstraintsFailureNoPoe),
                format!(
                    "{HASH_UNSUITABLE}: {} was suitable until {} but had to protect until {}",
                    tok.imprint_algorithm,
                    trust::rfc3339(end),
                    trust::rfc3339(until)
                ),
            );
        }
        let family = if tok.key.curve.is_some() {
            SignatureFamily::Ecdsa
        } else {
            SignatureFamily::Rsa
        };
        if let Some(end) = opts
            .policy
            .signature_unsuitable_before(family, tok.key.bits, until)
        {
            reports[k].add(
                Indeterminate,
                Some(S::CryptoConstraintsFailureNoPoe),
                format!("signature algorithm not suitable: {} ({} bits) was suitable until {} but had to protect until {}", tok.signature_algorithm, tok.key.bits, trust::rfc3339(end), trust::rfc3339(until)),
            );
        }
    }
    // each chain's hash algorithm must last until the next hash-tree renewal (or now)
    for (ci, alg) in chain_algs.iter().enumerate() {
        let Some(alg) = alg else { continue };
        let start_k = flat.iter().position(|&(c, _)| c == ci).unwrap_or(0);
        let next_chain_k = flat.iter().position(|&(c, _)| c == ci + 1);
        let until = match next_chain_k {
            Some(k) => checked[k].token.as_ref().map(|t| t.gen_time),
            None => Some(opts.at),
        };
        if let Some(until) = until {
            if let Some(end) = opts.policy.hash_unsuitable_before(*alg, until) {
                let already =
                    reports[start_k].sub_indication == Some(S::CryptoConstraintsFailureNoPoe);
                if !already {
                    reports[start_k].add(
                        Indeterminate,
                        Some(S::CryptoConstraintsFailureNoPoe),
                        format!("{HASH_UNSUITABLE}: chain {} uses {alg}, suitable until {}, but no hash-tree renewal followed before {}", ci + 1, trust::rfc3339(end), trust::rfc3339(until)),
                    );
                }
            }
        }
    }

    let worst = reports.iter().map(|r| r.indication).max().unwrap_or(Passed);
    let first_bad = reports
        .iter()
        .find(|r| r.indication == worst && worst != Passed);
    let (indication, sub, summary) = match (worst, first_bad) {
        (Passed, _) if data_checked => (
            Passed,
            None,
            "every archive time-stamp verifies and covers the data".to_string(),
        ),
        (Passed, _) if data.present() => (
            Indeterminate,
            Some(S::SignedDataNotFound),
            "the given data could not be checked against this record (no digest for its algorithm)"
                .to_string(),
        ),
        (Passed, _) => (
            Indeterminate,
            Some(S::SignedDataNotFound),
            "every check that needs no data passed; the data was not checked".to_string(),
        ),
        (i, Some(r)) => (
            i,
            r.sub_indication,
            format!(
                "archive time-stamp {}.{}: {}",
                r.chain,
                r.index,
                r.findings
                    .iter()
                    .find(|f| f.indication == i)
                    .map(|f| f.message.clone())
                    .unwrap_or_default()
            ),
        ),
        (i, None) => (i, None, String::new()),
    };
    Report {
        indication,
        sub_indication: sub,
        summary,
        verification_time: trust::rfc3339(opts.at),
        data_checked,
        chains: walk.chains.len(),
        archive_time_stamps: reports,
        findings: record_findings,
    }
}

/// What a time-stamp must cover under one reading: the hashes that must
/// be in its first list, and how the report names the reading.
type Covered = (Vec<Vec<u8>>, &'static str);

#[allow(clippy::too_many_arguments)]
fn check_one(
    syntax: Syntax,
    (ci, ai): (usize, usize),
    ats: &WalkStamp,
    chain_alg: Result<DigestAlgorithm, String>,
    data: &mut dyn DataObjects,
    opts: &Options<'_>,
    (known, record_data): (&[Certificate], &tsa::RecordData),
    r: &mut AtsReport,
    data_checked: &mut bool,
) -> Checked {
    let none = Checked {
        token: None,
        revoked_after: None,
        cert_digests: vec![],
    };
    let chain_alg = match chain_alg {
        Ok(a) => a,
        Err(e) => {
            r.add(
                Failed,
                Some(S::FormatFailure),
                format!("hash algorithm: {e}"),
            );
            return none;
        }
    };
    // 1. the token itself
    let tok = match check_token(&ats.token, known) {
        Ok(t) => t,
        Err(e) => {
            let (i, s) = describe_token_error(&e);
            r.add(i, Some(s), e.to_string());
            return none;
        }
    };
    let tsa_name = trust::subject(&tok.signer);
    r.gen_time = Some(trust::rfc3339(tok.gen_time));
    r.tsa = Some(tsa_name.clone());
    r.serial_number = Some(hex::encode(tok.tst_info.serial_number.as_bytes()));
    r.policy = Some(tok.tst_info.policy.to_string());
    r.signature_algorithm = Some(tok.signature_algorithm.clone());
    r.add(Passed, None, format!("time-stamp signature verifies ({}), signed attributes and signing-certificate binding match", tok.signature_algorithm));
    for n in &tok.notes {
        r.add(Passed, None, n.clone());
    }
    if !crate::signature::ber::is_der(&ats.token) {
        r.add(
            Passed,
            None,
            "the token is BER, not DER: read through its DER form, kept and hashed as received",
        );
    }
    if !tok.key_purpose_ok {
        let why = crate::tsp::token::has_timestamping_purpose(&tok.signer)
            .err()
            .unwrap_or_default();
        r.add(
            Indeterminate,
            Some(S::SigConstraintsFailure),
            format!("TSA certificate: {why}"),
        );
    }

    let alg = tok.imprint_algorithm;
    r.digest_algorithm = Some(alg.to_string());
    if let Some(ai_field) = &ats.digest_algorithm {
        match ai_field {
            Ok(a) if *a == alg => {}
            Ok(a) => r.add(
                Failed,
                Some(S::FormatFailure),
                format!(
                    "digestAlgorithm {a} differs from the time-stamp's imprint algorithm {alg}"
                ),
            ),
            Err(e) => r.add(
                Failed,
                Some(S::FormatFailure),
                format!("digestAlgorithm: {e}"),
            ),
        }
    }
    if alg != chain_alg {
        r.add(
            Failed,
            Some(S::FormatFailure),
            format!("the chain uses {chain_alg} but this time-stamp uses {alg}"),
        );
    }

    // 2. what this time-stamp must cover: one set of hashes per reading, with a label
    let covered: Option<Vec<Covered>> = if ai > 0 {
        Some(
            ats.previous
                .iter()
                .map(|(bytes, label)| (vec![alg.digest(bytes)], *label))
                .collect(),
        )
    } else {
        match data.hashes_for(alg, ci) {
            Err(e) => {
                r.add(
                    Indeterminate,
                    Some(S::SignedDataNotFound),
                    format!("data: {e}"),
                );
                None
            }
            Ok(None) => None,
            Ok(Some(hs)) if ci == 0 => Some(vec![(hs, "")]),
            Ok(Some(hs)) => match &ats.earlier {
                Some(Ok(seq)) => {
                    let ha = alg.digest(seq);
                    match syntax {
                        Syntax::Rfc4998 => {
                            let unsorted = hs.iter().map(|h| alg.digest_parts(&[h, &ha])).collect();
                            let sorted = hs.iter().map(|h| hash_sorted(alg, &[h, &ha])).collect();
                            Some(vec![
                                (unsorted, ", unsorted h(d)||h(ats)"),
                                (sorted, ", sorted concatenation"),
                            ])
                        }
                        // RFC 6283 4.2.2: h(d) and H(earlier chains) side by side
                        Syntax::Rfc6283 => {
                            let mut all = hs.clone();
                            all.push(ha);
                            Some(vec![(all, "")])
                        }
                    }
                }
                Some(Err(e)) => {
                    r.add(Failed, Some(S::FormatFailure), e.clone());
                    None
                }
                None => None,
            },
        }
    };
    if ai == 0 && covered.is_some() {
        *data_checked = true;
    }

    // 3. the hash tree up to the imprint
    let tree: Option<Vec<Vec<&[u8]>>> = ats.tree.as_ref().map(|t| {
        t.iter()
            .map(|l| l.iter().map(Vec::as_slice).collect())
            .collect()
    });
    let mut matched: Option<String> = None;
    let mut last_err: Option<ReducedTreeError> = None;
    let variants: Vec<(Option<&Vec<Vec<u8>>>, &str)> = match &covered {
        None => vec![(None, "")],
        Some(v) => v.iter().map(|(c, l)| (Some(c), *l)).collect(),
    };
    'outer: for (cov, label) in &variants {
        let cov_refs: Vec<&[u8]> = cov
            .map(|c| c.iter().map(|h| h.as_slice()).collect())
            .unwrap_or_default();
        match &tree {
            None => {
                // a single object time-stamped directly
                if cov.is_none() {
                    matched = Some("none: the time-stamp covers one hash directly (not checked without the data)".into());
                    break;
                }
                if cov_refs.len() == 1 && cov_refs[0] == tok.imprint.as_slice() {
                    matched = Some(format!(
                        "none: the time-stamp covers the hash directly{label}"
                    ));
                    break;
                }
            }
            Some(t) => {
                for reading in Reading::ALL {
                    match root_from_reduced(alg, t, &cov_refs, reading) {
                        Ok(root) => {
                            let name = reading.describe();
                            if root == tok.imprint {
                                matched = Some(format!("{} level(s), {name}{label}", t.len()));
                                break 'outer;
                            }
                            if alg.digest(&root) == tok.imprint {
                                matched = Some(format!(
                                    "{} level(s), {name}, imprint over H(root){label}",
                                    t.len()
                                ));
                                break 'outer;
                            }
                        }
                        Err(e) => last_err = Some(e),
                    }
                }
            }
        }
    }
    r.hash_tree = matched.clone();
    match (matched, last_err) {
        (Some(_), _) => {
            let what = if covered.is_some() || ai > 0 { "covers what it must and " } else { "" };
            r.add(Passed, None, format!("the hash tree {what}leads to the time-stamp's message imprint"));
            if covered.is_none() && ai == 0 {
                r.add(Passed, None, if ci == 0 { "that the data is in the first partial hash tree was not checked (no data)" } else { "coverage of the data and the previous chains was not checked (no data)" });
            }
        }
        (None, Some(ReducedTreeError::NotInFirstList(h))) => r.add(
            Failed,
            Some(S::HashFailure),
            format!("the hash {} of what this time-stamp must cover is not in the first partial hash tree", hex::encode(h)),
        ),
        (None, Some(e @ (ReducedTreeError::WrongLength { .. } | ReducedTreeError::Empty | ReducedTreeError::EmptyList { .. }))) => {
            r.add(Failed, Some(S::FormatFailure), format!("reduced hash tree: {e}"))
        }
        (None, _) => r.add(
            Failed,
            Some(S::HashFailure),
            format!("the hash tree's root does not match the time-stamp's message imprint {}", hex::encode(&tok.imprint)),
        ),
    }

    // 4. trust in the TSA at genTime: the path, and each certificate's revocation status
    let given_attrs = record_data
        .attributes
        .get(ci)
        .and_then(|c| c.get(ai))
        .unwrap_or(&NO_VALIDATION_DATA);
    let judged = tsa::judge(
        &tok,
        &tsa_name,
        &tsa::Inputs {
            trusted: opts.trusted,
            extra: opts.extra_certificates,
            given: opts.validation_data,
            crypto_infos: &record_data.crypto_infos,
            attributes: given_attrs,
            max_age: opts.revocation_max_age,
        },
    );
    r.certificates = judged.certificates.clone();
    r.revocation = judged.revocation.clone();
    match &judged.error {
        None => {
            let name = match judged.certificates.last() {
                Some(u) if judged.certificates.len() > 1 => u.subject.clone(),
                _ => tsa_name.clone(),
            };
            r.add(Passed, None, format!("TSA certificate path to trusted {name} valid at genTime"));
            r.trusted_via = Some(name);
            if let Some(note) = &judged.anchor_note {
                r.add(Passed, None, format!("the trust anchor's own validity does not cover genTime ({note}); a trust anchor has no validity period in path validation (RFC 5280 6.1), so this is information only"));
            }
        }
        Some(TrustError::NoPath { subject, detail }) => r.add(
            Indeterminate,
            Some(S::NoPoe),
            format!("TSA {subject} is not trusted: no path to a trusted certificate{detail} (give it with --tsa-cert)"),
        ),
        Some(e @ TrustError::Signature { .. }) => r.add(Failed, Some(S::SigCryptoFailure), e.to_string()),
        Some(e @ TrustError::OutsideValidity { expired, .. }) => {
            r.add(Failed, Some(if *expired { S::Expired } else { S::NotYetValid }), format!("time-stamp made outside its certificate's validity: {e}"))
        }
        Some(e @ TrustError::NotACa { .. }) => r.add(Indeterminate, Some(S::NoCertificateChainFound), e.to_string()),
    }
    if judged.error.is_none() {
        for u in &judged.revocation {
            match (u.status, u.kind, u.source) {
                ("good", Some(kind), Some(src)) => r.add(
                    Passed,
                    None,
                    format!(
                        "{} not revoked at genTime: {kind} of {} signed by {}, from {src}",
                        u.subject,
                        u.this_update.as_deref().unwrap_or("?"),
                        u.signer.as_deref().unwrap_or("?")
                    ),
                ),
                ("revoked", Some(kind), Some(src))
                    if !judged.revoked_before.iter().any(|(s, _)| *s == u.subject) =>
                {
                    r.add(Passed, None, format!(
                        "{} was revoked at {} (after genTime; {kind} from {src}): this time-stamp proves only what was renewed before then",
                        u.subject,
                        u.revoked_at.as_deref().unwrap_or("?")
                    ));
                }
                _ => {}
            }
        }
        for (subject, at) in &judged.revoked_before {
            r.add(
                Failed,
                Some(S::Revoked),
                format!("certificate {subject} of the TSA's path was revoked at {}, at or before genTime {}", trust::rfc3339(*at), trust::rfc3339(tok.gen_time)),
            );
        }
        for subject in &judged.missing {
            let problems: Vec<String> = judged
                .revocation
                .iter()
                .filter(|u| u.subject == *subject)
                .flat_map(|u| u.problems.iter().cloned())
                .collect();
            let unknown = judged
                .revocation
                .iter()
                .any(|u| u.subject == *subject && u.status == "unknown");
            let why = if unknown {
                "the responder answered unknown".to_string()
            } else if problems.is_empty() {
                "neither the token, the record nor the given validation data holds an OCSP response or CRL for it".to_string()
            } else {
                format!(
                    "none of the revocation data could be used: {}",
                    problems.join("; ")
                )
            };
            match opts.profile {
                Profile::TrEsor => r.add(
                    Indeterminate,
                    Some(S::TryLater),
                    format!("no revocation status of {subject} at genTime, which the TR-ESOR profile requires: {why}"),
                ),
                Profile::Rfc4998 => r.add(
                    Passed,
                    None,
                    format!("the revocation status of {subject} at genTime was not checked: {why} (--profile tr-esor makes this a failure)"),
                ),
            }
        }
    }
    let n = judged.path.len();
    let cert_digests = judged
        .path
        .iter()
        .zip(&judged.certificates)
        .take(n.saturating_sub(1))
        .filter_map(|(c, u)| {
            crate::tsp::sig::scheme(&c.signature_algorithm, None)
                .ok()
                .map(|s| (u.subject.clone(), s.digest()))
        })
        .collect();
    Checked {
        token: Some(tok),
        revoked_after: judged.revoked_after,
        cert_digests,
    }
}
