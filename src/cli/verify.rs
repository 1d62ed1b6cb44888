//! `bewahr verify`: the auditor's offline verifier.

use std::path::PathBuf;

use bewahr::alg::DigestAlgorithm;
use bewahr::verify::{self, AlgorithmPolicy, DataObjects, Digests, NoData, Options};

/// Arguments of `bewahr verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The evidence record: DER (RFC 4998) or XML (RFC 6283), told by its
    /// content; with --xaip also an `xaip:evidenceRecord` element. With
    /// --xaip it may be left out when the package carries the version's
    /// record in its credentials.
    #[arg(long, required_unless_present_any = ["xaip", "asic"])]
    pub er: Option<PathBuf>,
    /// An ASiC-S or ASiC-E container (ETSI EN 319 162-1), verified as a
    /// whole: its evidence records over the data objects they cover (and
    /// the manifest's digests), its time-stamps and signatures; `--tsa-cert`
    /// and `--trust-anchor` say whom to trust.
    #[arg(long, conflicts_with_all = ["er", "xaip", "data", "digest", "validate_signature"])]
    pub asic: Option<PathBuf>,
    /// The archived data object; give it several times for a data-object group.
    #[arg(long, conflicts_with = "digest")]
    pub data: Vec<PathBuf>,
    /// An XAIP (TR-ESOR-F 1.3): the record must prove the protected objects
    /// of one of its versions (one data-object group, hashed as TR-ESOR-ERS
    /// says: binary data decoded, XML canonicalised as the package header says).
    #[arg(long, conflicts_with_all = ["data", "digest", "validate_signature"])]
    pub xaip: Option<PathBuf>,
    /// With --xaip: the version (its VersionID); default the package's last.
    #[arg(long = "version", id = "xaip_version", requires = "xaip")]
    pub xaip_version: Option<String>,
    /// With --xaip: where the files an LXAIP refers to are (default: the package's directory).
    #[arg(long, requires = "xaip")]
    pub lxaip_dir: Option<PathBuf>,
    /// The data object's hash instead of the data, as ALG:HEX (e.g. sha256:ab12...); repeat for other algorithms.
    #[arg(long)]
    pub digest: Vec<String>,
    /// A PEM (or DER) file of trusted TSA certificates or roots of TSA chains; repeatable.
    #[arg(long = "tsa-cert")]
    pub tsa_cert: Vec<PathBuf>,
    /// Certificates that are not trusted by themselves but may complete a path; repeatable.
    #[arg(long = "cert")]
    pub cert: Vec<PathBuf>,
    /// Judge as of this time (RFC 3339), default now.
    #[arg(long)]
    pub at: Option<String>,
    /// An algorithm catalogue (TOML, as config/algorithms.toml) instead of the built-in one.
    #[arg(long)]
    pub algorithms: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// `rfc4998` (default) or `tr-esor`: with `tr-esor`, every TSA
    /// certificate needs revocation data (from the token, the record or
    /// `--revocation`), as BSI's reference verifier demands.
    #[arg(long, default_value = "rfc4998")]
    pub profile: verify::Profile,
    /// Revocation data for the TSAs' certificates: an OCSP response, a CRL,
    /// a certificate (DER or PEM), or preserved validation data (DER); repeatable.
    #[arg(long)]
    pub revocation: Vec<PathBuf>,
    /// Also re-validate the signature or seal of the document (the first
    /// `--data`) as of the time the evidence record proves, with the
    /// preserved validation data only (no network).
    #[arg(long, requires = "data")]
    pub validate_signature: bool,
    /// The detached signature (.p7s) of the document; added to the data-object group.
    #[arg(long, requires = "validate_signature")]
    pub signature: Option<PathBuf>,
    /// The preserved validation data (DER, from `GET .../validation/data`); added to the data-object group.
    #[arg(long, requires = "validate_signature")]
    pub validation_data: Option<PathBuf>,
    /// A PEM (or DER) file of trust anchors for signers; repeatable.
    #[arg(long = "trust-anchor")]
    pub trust_anchor: Vec<PathBuf>,
}

/// An evidence record to verify: where it came from (for messages) and its DER.
type LabelledRecord = (String, Vec<u8>);

/// Data files, hashed (streaming) once per algorithm asked for.
struct Files {
    paths: Vec<PathBuf>,
    cache: Vec<(DigestAlgorithm, Vec<Vec<u8>>)>,
}

impl DataObjects for Files {
    fn hashes(&mut self, alg: DigestAlgorithm) -> Result<Option<Vec<Vec<u8>>>, String> {
        if let Some((_, h)) = self.cache.iter().find(|(a, _)| *a == alg) {
            return Ok(Some(h.clone()));
        }
        let mut out = Vec::new();
        let mut progress = super::progress::hashing(
            format!("hashing {} files ({alg})", self.paths.len()),
            &self.paths,
        );
        for p in &self.paths {
            out.push(
                super::progress::hash_file(p, alg, &mut progress)
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            );
        }
        progress.finish();
        self.cache.push((alg, out.clone()));
        Ok(Some(out))
    }
    fn present(&self) -> bool {
        true
    }
}

/// `--asic`: the container through the signature validator, which
/// verifies what it holds (evidence records with the TSA certificates of
/// `--tsa-cert` trusted, time-stamps, signatures) with no network.
fn asic(args: &VerifyArgs, path: &std::path::Path) -> i32 {
    use bewahr::signature::{self, Indication};
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return usage(format!("--asic {}: {e}", path.display())),
    };
    let mut anchors = Vec::new();
    for p in args.tsa_cert.iter().chain(&args.trust_anchor) {
        match super::load_certificates(p) {
            Ok(c) => anchors.extend(c),
            Err(e) => return usage(e),
        }
    }
    let at = match at_of(args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let ctx = signature_context(&anchors, at);
    let ex = signature::examine(&bytes, None, &ctx);
    if !matches!(
        ex.format,
        signature::Format::AsicS | signature::Format::AsicE
    ) {
        return usage(format!("--asic {}: not an ASiC container", path.display()));
    }
    let report = signature::conclude(ex, &Default::default(), &ctx).0;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.to_text());
    }
    match report.indication {
        Some(Indication::TotalPassed) => 0,
        Some(Indication::TotalFailed) => 1,
        _ => 2,
    }
}

/// What the signature validator trusts and when it judges, offline: a
/// day's freshness for revocation data, the XML engine for XAdES.
fn signature_context(
    anchors: &[x509_cert::Certificate],
    at: time::OffsetDateTime,
) -> bewahr::signature::Context<'_> {
    bewahr::signature::Context {
        anchors,
        at,
        poe: None,
        max_age: time::Duration::days(1),
        xml: Some(&bewahr_xmlsig::ENGINE),
    }
}

/// `--at`, or now; `Err`: the exit code of a usage error.
fn at_of(args: &VerifyArgs) -> Result<time::OffsetDateTime, i32> {
    match &args.at {
        None => Ok(time::OffsetDateTime::now_utc()),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                usage(format!(
                    "--at {s}: not an RFC 3339 time ({e}), e.g. 2026-01-31T12:00:00Z"
                ))
            }),
    }
}

fn usage(msg: String) -> i32 {
    eprintln!("bewahr verify: {msg}");
    2
}

/// Runs the command; returns the exit code (0 passed, 1 failed, 2 indeterminate or usage error).
pub fn run(args: VerifyArgs) -> i32 {
    if let Some(c) = &args.asic {
        return asic(&args, c);
    }
    let mut trusted = Vec::new();
    for p in &args.tsa_cert {
        match super::load_certificates(p) {
            Ok(c) => trusted.extend(c),
            Err(e) => return usage(e),
        }
    }
    let mut extra = Vec::new();
    for p in &args.cert {
        match super::load_certificates(p) {
            Ok(c) => extra.extend(c),
            Err(e) => return usage(e),
        }
    }
    let at = match at_of(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut digests = Vec::new();
    for d in &args.digest {
        let Some((alg, hexval)) = d.split_once(':') else {
            return usage(format!(
                "--digest {d}: expected ALG:HEX, e.g. sha256:9f86d0..."
            ));
        };
        let alg = match DigestAlgorithm::from_name(alg) {
            Ok(a) => a,
            Err(e) => return usage(format!("--digest {d}: {e}")),
        };
        let h = match hex::decode(hexval) {
            Ok(h) if h.len() == alg.output_len() => h,
            Ok(h) => {
                return usage(format!(
                    "--digest {d}: {alg} has {} bytes, got {}",
                    alg.output_len(),
                    h.len()
                ))
            }
            Err(e) => return usage(format!("--digest {d}: {e}")),
        };
        digests.push((alg, h));
    }
    let mut paths = args.data.clone();
    for p in args.signature.iter().chain(&args.validation_data) {
        if !paths.contains(p) {
            paths.push(p.clone());
        }
    }
    for p in &paths {
        if let Err(e) = std::fs::metadata(p) {
            return usage(format!("--data {}: {e}", p.display()));
        }
    }
    let (records, mut data): (Vec<LabelledRecord>, Box<dyn DataObjects>) = match &args.xaip {
        Some(package) => {
            let loaded = match super::xaip::load(
                package,
                args.xaip_version.as_deref(),
                args.lxaip_dir.as_deref(),
                args.er.as_deref(),
            ) {
                Ok(l) => l,
                Err(super::xaip::LoadError::Usage(e)) => return usage(e),
                // TR-ESOR-F: a package that is not valid against its schema
                // is no XAIP (XAIP_NOK), whatever a record says about its bytes
                Err(super::xaip::LoadError::Invalid(e)) => {
                    eprintln!("bewahr verify: --xaip {}: {e}", package.display());
                    if args.json {
                        println!(
                            "{}",
                            serde_json::json!({"indication": "FAILED", "sub_indication": "FORMAT_FAILURE", "summary": e})
                        );
                    } else {
                        println!("FAILED (FORMAT_FAILURE): the package is not a valid XAIP");
                    }
                    return 1;
                }
            };
            if !args.json {
                println!(
                    "XAIP {}, version {}: valid against tr-esor-xaip-v1.3.xsd; protected objects {}",
                    package.display(),
                    loaded.version,
                    loaded.ids.join(", ")
                );
            }
            (loaded.records, Box::new(verify::InMemory(loaded.objects)))
        }
        None => {
            let er = args.er.as_ref().expect("clap requires --er without --xaip");
            let record = match std::fs::read(er) {
                Ok(b) => b,
                Err(e) => return usage(format!("{}: {e}", er.display())),
            };
            (
                vec![(er.display().to_string(), record)],
                data_of(paths.clone(), digests),
            )
        }
    };
    let policy = match &args.algorithms {
        None => AlgorithmPolicy::default(),
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| AlgorithmPolicy::from_toml(&t).map_err(|e| e.to_string()))
        {
            Ok(p) => p,
            Err(e) => return usage(format!("--algorithms {}: {e}", p.display())),
        },
    };
    let mut given = bewahr::signature::ValidationData::default();
    for p in args.revocation.iter().chain(&args.validation_data) {
        if let Err(e) = read_revocation(p, &mut given) {
            return usage(format!("--revocation {}: {e}", p.display()));
        }
    }
    let mut opts = Options::new(&trusted, at, &policy);
    opts.extra_certificates = &extra;
    opts.profile = args.profile;
    opts.validation_data = &given;
    // an RFC 6283 (XML) record is told by its content; its XML data
    // objects are hashed in canonical form, so the files are read whole
    let xml_objects: Option<Vec<Vec<u8>>> = if args.xaip.is_none()
        && !args.data.is_empty()
        && records
            .iter()
            .any(|(_, r)| bewahr_xmlsig::ers::is_xml_record(r))
    {
        let mut objs = vec![];
        for p in &paths {
            match std::fs::read(p) {
                Ok(b) => objs.push(b),
                Err(e) => return usage(format!("--data {}: {e}", p.display())),
            }
        }
        Some(objs)
    } else {
        None
    };
    let check = |record: &[u8], data: &mut dyn DataObjects| {
        if bewahr_xmlsig::ers::is_xml_record(record) {
            bewahr_xmlsig::ers::verify_xml(record, xml_objects.as_deref(), data, &opts)
        } else {
            verify::verify_der(record, data, &opts)
        }
    };
    if args.validate_signature {
        let report = check(&records[0].1, data.as_mut());
        return revalidate(&args, &report, at);
    }
    // one record, or each record a package carries for the version
    let mut codes = Vec::new();
    let mut reports = Vec::new();
    for (label, record) in &records {
        let report = check(record, data.as_mut());
        codes.push(report.exit_code());
        if args.json {
            reports.push(serde_json::json!({"record": label, "report": report}));
        } else {
            if records.len() > 1 || args.xaip.is_some() {
                println!("evidence record: {label}");
            }
            print!("{}", report.to_text());
        }
    }
    if args.json {
        let out = match reports.len() {
            1 => reports.remove(0)["report"].take(),
            _ => serde_json::Value::Array(reports),
        };
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    // the worst: failed (1) over indeterminate (2) over passed (0)
    if codes.contains(&1) {
        1
    } else {
        codes.into_iter().max().unwrap_or(2)
    }
}

/// The data of a plain verification: files, digests, or none.
fn data_of(paths: Vec<PathBuf>, digests: Vec<(DigestAlgorithm, Vec<u8>)>) -> Box<dyn DataObjects> {
    if !paths.is_empty() {
        Box::new(Files {
            paths,
            cache: vec![],
        })
    } else if !digests.is_empty() {
        Box::new(Digests(digests))
    } else {
        Box::new(NoData)
    }
}

/// `--validate-signature`: the evidence record's report, then the signature's as of its first time-stamp.
fn revalidate(args: &VerifyArgs, er: &verify::Report, at: time::OffsetDateTime) -> i32 {
    use bewahr::signature::{self, Indication, ValidationData};
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let inputs = (|| -> Result<_, String> {
        let doc = read(&args.data[0])?;
        let sig = args.signature.as_ref().map(read).transpose()?;
        let vd = match &args.validation_data {
            Some(p) => ValidationData::from_der(&read(p)?)
                .map_err(|e| format!("--validation-data {}: {e}", p.display()))?,
            None => ValidationData::default(),
        };
        let mut anchors = Vec::new();
        for p in &args.trust_anchor {
            anchors.extend(
                signature::parse_certificates(&read(p)?)
                    .map_err(|e| format!("--trust-anchor {}: {e}", p.display()))?,
            );
        }
        Ok((doc, sig, vd, anchors))
    })();
    let (doc, sig, vd, anchors) = match inputs {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    // the proof of existence: the first archive time-stamp, if the record covers the data
    let poe = (er.indication == verify::Indication::Passed)
        .then(|| {
            er.archive_time_stamps
                .first()
                .and_then(|a| a.gen_time.clone())
        })
        .flatten()
        .and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        });
    let ctx = signature_context(&anchors, at);
    let sr = match poe {
        Some(poe) => signature::revalidate(&doc, sig.as_deref(), &vd, poe, &ctx),
        None => signature::conclude(signature::examine(&doc, sig.as_deref(), &ctx), &vd, &ctx).0,
    };
    if args.json {
        let v = serde_json::json!({"evidence": er, "signature": sr});
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", er.to_text());
        if poe.is_none() {
            println!(
                "the evidence record does not prove the data: the signature is judged as of now"
            );
        }
        print!("{}", sr.to_text());
    }
    let sig_code = match sr.indication {
        Some(Indication::TotalPassed) => 0,
        Some(Indication::TotalFailed) => 1,
        _ => 2,
    };
    match (er.exit_code(), sig_code) {
        (1, _) | (_, 1) => 1,
        (0, 0) => 0,
        _ => 2,
    }
}

/// Adds one file of revocation data to `v`: ValidationData DER, or one
/// OCSPResponse, CRL or certificate in DER or PEM.
fn read_revocation(p: &PathBuf, v: &mut bewahr::signature::ValidationData) -> Result<(), String> {
    use der::Decode;
    let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
    let items: Vec<Vec<u8>> = if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(&bytes);
        let mut out = Vec::new();
        for block in text.split("-----BEGIN ").skip(1) {
            let (label, rest) = block.split_once("-----").ok_or("broken PEM")?;
            let body = rest
                .split("-----END")
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<String>();
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| format!("PEM {label}: {e}"))?;
            out.push(der);
        }
        out
    } else {
        vec![bytes]
    };
    for der in items {
        if let Ok(vd) = bewahr::signature::ValidationData::from_der(&der) {
            vd.certificates.iter().for_each(|c| v.add_certificate(c));
            vd.crls.iter().for_each(|c| v.add_crl(c));
            vd.ocsp_responses.iter().for_each(|o| v.add_ocsp(o));
        } else if x509_ocsp::OcspResponse::from_der(&der).is_ok() {
            v.add_ocsp(&der);
        } else if x509_cert::crl::CertificateList::from_der(&der).is_ok() {
            v.add_crl(&der);
        } else if x509_cert::Certificate::from_der(&der).is_ok() {
            v.add_certificate(&der);
        } else {
            return Err(
                "neither validation data, an OCSP response, a CRL nor a certificate".into(),
            );
        }
    }
    Ok(())
}
