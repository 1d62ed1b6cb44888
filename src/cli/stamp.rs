//! `bewahr stamp`: one hash tree over a set of files, one time-stamp, one
//! evidence record per file. For preserving files without the server, and
//! for making test vectors.

use std::path::PathBuf;

use bewahr::alg::DigestAlgorithm;
use bewahr::ers::record_for_leaf;
use bewahr::hashtree::HashTree;
use bewahr::tsp::client::{TsaAuth, TsaClient, TsaEndpoint};
use bewahr::tsp::devtsa::DevTsa;

/// Arguments of `bewahr stamp`.
#[derive(clap::Args, Debug)]
pub struct StampArgs {
    /// Files to time-stamp together.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write FILE-NAME.ers for each file (default: beside each file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Digest algorithm of the tree.
    #[arg(long, default_value = "sha256")]
    pub digest: String,
    /// URL of an RFC 3161 TSA; repeat to fail over in order.
    #[arg(long = "tsa", conflicts_with = "dev_tsa")]
    pub tsa: Vec<String>,
    /// Bearer token for the TSA(s).
    #[arg(long, env = "BEWAHR_TSA_BEARER", hide_env_values = true)]
    pub tsa_bearer: Option<String>,
    /// HTTP basic auth for the TSA(s), as USER:PASSWORD.
    #[arg(long, env = "BEWAHR_TSA_BASIC", hide_env_values = true)]
    pub tsa_basic: Option<String>,
    /// Use the built-in development TSA kept in this directory (NOT qualified).
    #[arg(long = "dev-tsa")]
    pub dev_tsa: Option<PathBuf>,
}

fn fail(msg: String) -> i32 {
    eprintln!("bewahr stamp: {msg}");
    2
}

pub fn run(args: StampArgs) -> i32 {
    let alg = match DigestAlgorithm::from_name(&args.digest) {
        Ok(a) if a.allowed_for_creation() => a,
        Ok(a) => return fail(format!("{a} is not allowed for new hash trees")),
        Err(e) => return fail(e.to_string()),
    };
    let mut hashes = Vec::with_capacity(args.files.len());
    let mut progress =
        super::progress::hashing(format!("hashing {} files", args.files.len()), &args.files);
    for f in &args.files {
        match super::progress::hash_file(f, alg, &mut progress) {
            Ok(h) => hashes.push(h),
            Err(e) => return fail(format!("{}: {e}", f.display())),
        }
    }
    progress.finish();
    let tree = match HashTree::from_hashes(alg, &hashes) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let now = time::OffsetDateTime::now_utc();
    let token = if let Some(dir) = &args.dev_tsa {
        match DevTsa::load_or_create(dir, now)
            .and_then(|t| t.timestamp(alg, tree.root(), None, now))
        {
            Ok(t) => t,
            Err(e) => return fail(e.to_string()),
        }
    } else {
        if args.tsa.is_empty() {
            return fail("give --tsa URL (repeatable) or --dev-tsa DIR".into());
        }
        let auth = match (&args.tsa_bearer, &args.tsa_basic) {
            (Some(t), _) => Some(TsaAuth::Bearer(t.clone())),
            (None, Some(b)) => match b.split_once(':') {
                Some((u, p)) => Some(TsaAuth::Basic {
                    user: u.into(),
                    password: p.into(),
                }),
                None => return fail("--tsa-basic wants USER:PASSWORD".into()),
            },
            (None, None) => None,
        };
        let eps = args
            .tsa
            .iter()
            .map(|u| TsaEndpoint {
                auth: auth.clone(),
                ..TsaEndpoint::new(u.clone(), u.clone())
            })
            .collect();
        let client = match TsaClient::new(eps) {
            Ok(c) => c,
            Err(e) => return fail(e.to_string()),
        };
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => return fail(e.to_string()),
        };
        match rt.block_on(client.timestamp(alg, tree.root())) {
            Ok(i) => i.granted.token,
            Err(e) => return fail(e.to_string()),
        }
    };
    for (i, f) in args.files.iter().enumerate() {
        let name = format!(
            "{}.ers",
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let path = match &args.out {
            Some(d) => d.join(name),
            None => f.with_file_name(name),
        };
        let er = match record_for_leaf(&tree, i, &token) {
            Ok(er) => er,
            Err(e) => return fail(e.to_string()),
        };
        if let Err(e) = bewahr::durable::write_file(&path, &er, false) {
            return fail(format!("{}: {e}", path.display()));
        }
        println!("{}", path.display());
    }
    0
}
