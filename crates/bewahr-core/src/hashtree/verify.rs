//! Recomputing a root from a reduced hash tree (RFC 4998 section 4.3).

use super::hash_sorted;
use crate::alg::DigestAlgorithm;

/// The readings of RFC 4998 section 4.3 found in the wild. Section 4.3
/// says: hash the first list, then for each next list "concatenate the
/// computed hash value with the hash values of the next list" and hash
/// that. Writers differ in two points, so verifiers try each reading:
///
/// - a list that holds a single value once the computed one is added: hashed
///   (the literal text) or passed up unhashed (RFC 6283 section 3.1.1,
///   Bouncy Castle);
/// - a list that already holds the computed value (writers that list every
///   node of the path, as BSI's ERVerifyTool accepts): the value is added
///   again (literal) or not.
///
/// A record that genuinely lists two equal siblings (identical subtrees)
/// verifies under the literal reading, so no reading takes another's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reading {
    /// Every list is hashed, even one holding a single value, and the computed value is always added (the RFC's text).
    Literal,
    /// A list holding a single value (with the value carried up) is passed up
    /// unhashed (RFC 6283 section 3.1.1, Bouncy Castle).
    CarryLone,
    /// The computed value is not added to a list that already holds it; lists are hashed (ERVerifyTool).
    ValueListed,
    /// Both: the computed value is not added again, and a lone value is passed up.
    ValueListedCarryLone,
}

impl Reading {
    /// Every reading, in the order verifiers try them.
    pub const ALL: [Reading; 4] = [
        Reading::Literal,
        Reading::CarryLone,
        Reading::ValueListed,
        Reading::ValueListedCarryLone,
    ];

    /// How a report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Reading::Literal => "RFC 4998 literal reading",
            Reading::CarryLone => "lone value carried up (RFC 6283, Bouncy Castle)",
            Reading::ValueListed => "computed value already listed (ERVerifyTool)",
            Reading::ValueListedCarryLone => "computed value already listed, lone value carried up",
        }
    }

    fn carries_lone(self) -> bool {
        matches!(self, Reading::CarryLone | Reading::ValueListedCarryLone)
    }

    fn skips_listed(self) -> bool {
        matches!(self, Reading::ValueListed | Reading::ValueListedCarryLone)
    }
}

/// Why a reduced hash tree gives no root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReducedTreeError {
    #[error("the reduced hash tree has no partial hash tree")]
    Empty,
    #[error("partial hash tree {list} is empty")]
    EmptyList { list: usize },
    #[error("partial hash tree {list}, value {index}: {got} bytes, but {alg} gives {expected}")]
    WrongLength {
        list: usize,
        index: usize,
        alg: DigestAlgorithm,
        expected: usize,
        got: usize,
    },
    #[error("the hash {} is not in the first partial hash tree", hex::encode(.0))]
    NotInFirstList(Vec<u8>),
}

/// Checks the shape of a reduced tree: lists non-empty, every value as long as `alg`'s output.
pub fn check_shape(alg: DigestAlgorithm, tree: &[Vec<&[u8]>]) -> Result<(), ReducedTreeError> {
    if tree.is_empty() {
        return Err(ReducedTreeError::Empty);
    }
    let w = alg.output_len();
    for (li, list) in tree.iter().enumerate() {
        if list.is_empty() {
            return Err(ReducedTreeError::EmptyList { list: li });
        }
        for (vi, v) in list.iter().enumerate() {
            if v.len() != w {
                return Err(ReducedTreeError::WrongLength {
                    list: li,
                    index: vi,
                    alg,
                    expected: w,
                    got: v.len(),
                });
            }
        }
    }
    Ok(())
}

/// Computes the root of a reduced hash tree.
///
/// `covered`, when given, must all be in the first list (the hashes of the
/// data object, or of each object of a group, or of the previous time-stamp).
pub fn root_from_reduced(
    alg: DigestAlgorithm,
    tree: &[Vec<&[u8]>],
    covered: &[&[u8]],
    reading: Reading,
) -> Result<Vec<u8>, ReducedTreeError> {
    check_shape(alg, tree)?;
    for h in covered {
        if !tree[0].contains(h) {
            return Err(ReducedTreeError::NotInFirstList(h.to_vec()));
        }
    }
    let mut current: Option<Vec<u8>> = None;
    for list in tree {
        let mut values: Vec<&[u8]> = list.clone();
        if let Some(c) = current.as_deref() {
            if !(reading.skips_listed() && values.contains(&c)) {
                values.push(c);
            }
        }
        current = Some(if values.len() == 1 && reading.carries_lone() {
            values[0].to_vec()
        } else {
            hash_sorted(alg, &values)
        });
    }
    Ok(current.expect("a checked tree has at least one list"))
}
