//! The results of ETSI TS 119 512 (`dsb:Result`: `maj`, `min`, `msg`) and
//! their mapping from the S.4 results they are made of, as TR-ESOR-TRANS
//! 1.3 gives it (its tables 1 to 8), in one place.

use crate::s4::codes::{Major, Minor, Outcome};

/// `ResultMajor` values (OASIS DSS-X 2.0).
pub const SUCCESS: &str = "urn:oasis:names:tc:dss:1.0:resultmajor:Success";
pub const REQUESTER_ERROR: &str = "urn:oasis:names:tc:dss:1.0:resultmajor:RequesterError";
pub const RESPONDER_ERROR: &str = "urn:oasis:names:tc:dss:1.0:resultmajor:ResponderError";

/// The prefix of every `ResultMinor` of the TS.
const MINOR: &str = "http://uri.etsi.org/19512";

/// A TS 119 512 result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresResult {
    pub major: &'static str,
    /// The whole URI (`http://uri.etsi.org/19512/error/...`).
    pub minor: Option<String>,
    /// English.
    pub message: Option<String>,
}

/// The TS's minor codes bewahr answers with (clause 5 of the TS, per
/// operation; `warning/...` with `Success`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresMinor {
    NoPermission,
    InternalError,
    ParameterError,
    NotSupported,
    UnknownPoFormat,
    PoFormatError,
    UnknownPoid,
    UnknownVersionId,
    UnknownEvidenceFormat,
    UnknownMode,
    UnknownDeltaPocType,
    DeltaPocInternalProblem,
    NoSpaceError,
    RequestOnlyPartlySuccessful,
}

impl PresMinor {
    pub fn uri(self) -> String {
        let path = match self {
            PresMinor::NoPermission => "error/noPermission",
            PresMinor::InternalError => "error/internalError",
            PresMinor::ParameterError => "error/parameterError",
            PresMinor::NotSupported => "error/notSupported",
            PresMinor::UnknownPoFormat => "error/unknownPOFormat",
            PresMinor::PoFormatError => "error/POFormatError",
            PresMinor::UnknownPoid => "error/unknownPOID",
            PresMinor::UnknownVersionId => "error/unknownVersionID",
            PresMinor::UnknownEvidenceFormat => "error/unknownEvidenceFormat",
            PresMinor::UnknownMode => "error/unknownMode",
            PresMinor::UnknownDeltaPocType => "error/unknownDeltaPOCType",
            PresMinor::DeltaPocInternalProblem => "error/DeltaPOCInternalProblem",
            PresMinor::NoSpaceError => "error/noSpaceError",
            PresMinor::RequestOnlyPartlySuccessful => "warning/requestOnlyPartlySuccessful",
        };
        format!("{MINOR}/{path}")
    }

    /// Whose fault: the responder's for its own failures, else the requester's.
    fn major(self) -> &'static str {
        match self {
            PresMinor::InternalError | PresMinor::NoSpaceError => RESPONDER_ERROR,
            PresMinor::RequestOnlyPartlySuccessful => SUCCESS,
            _ => REQUESTER_ERROR,
        }
    }
}

impl PresResult {
    pub fn ok() -> Self {
        PresResult {
            major: SUCCESS,
            minor: None,
            message: None,
        }
    }

    pub fn error(minor: PresMinor, message: impl Into<String>) -> Self {
        PresResult {
            major: minor.major(),
            minor: Some(minor.uri()),
            message: Some(message.into()),
        }
    }

    pub fn is_success(&self) -> bool {
        self.major == SUCCESS
    }
}

/// The TS result of an S.4 result (TR-ESOR-TRANS: `#ok` and `#warning`
/// are `Success`, the warning kept in the minor code; `#error` is a
/// requester's or responder's error). Where the TS has no code of its own
/// for the S.4 one, the nearest is taken, and the S.4 code is named in the
/// message, so that nothing of the reason is lost.
pub fn of(o: &Outcome) -> PresResult {
    let Some(minor) = o.minor else {
        return PresResult {
            major: if o.major == Major::Error {
                RESPONDER_ERROR
            } else {
                SUCCESS
            },
            minor: None,
            message: o.message.clone(),
        };
    };
    use PresMinor as P;
    let mapped = match minor {
        Minor::NoPermission => P::NoPermission,
        Minor::InternalError => P::InternalError,
        Minor::ParameterError
        | Minor::UnknownUri
        | Minor::ExistingAoid
        | Minor::UnknownLocation
        | Minor::MissingReasonOfDeletion
        | Minor::HashAlgorithmNotSuitable
        | Minor::UploadDataFormatNotSupported => P::ParameterError,
        Minor::NotSupported => P::NotSupported,
        Minor::UnknownAoid | Minor::DxaipNokAoid => P::UnknownPoid,
        Minor::UnknownVersionId => P::UnknownVersionId,
        Minor::UnknownArchiveDataType | Minor::UnknownPoFormat => P::UnknownPoFormat,
        Minor::RequestOnlyPartlySuccessfulWarning => P::RequestOnlyPartlySuccessful,
        Minor::NoSpaceError => P::NoSpaceError,
        Minor::XaipNok
        | Minor::XaipNokExpired
        | Minor::XaipNokSubmTime
        | Minor::XaipNokSig
        | Minor::XaipNokEr
        | Minor::InvalidSignature => P::PoFormatError,
        Minor::DxaipNok
        | Minor::DxaipNokExpired
        | Minor::DxaipNokSubmTime
        | Minor::DxaipNokSig
        | Minor::DxaipNokEr
        | Minor::DxaipNokId
        | Minor::DxaipNokVersion => P::DeltaPocInternalProblem,
    };
    let message = match &o.message {
        Some(m) => format!("{m} (TR-ESOR: {})", minor.uri()),
        None => format!("TR-ESOR: {}", minor.uri()),
    };
    let major = match o.major {
        Major::Ok | Major::Warning => SUCCESS,
        Major::Error => mapped.major(),
    };
    PresResult {
        major,
        minor: Some(mapped.uri()),
        message: Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s4_results_map_as_tr_esor_trans_gives_them() {
        let r = of(&Outcome::ok());
        assert_eq!(r, PresResult::ok());
        let r = of(&Outcome::error(Minor::UnknownAoid, "no such object"));
        assert_eq!(r.major, REQUESTER_ERROR);
        assert_eq!(
            r.minor.as_deref(),
            Some("http://uri.etsi.org/19512/error/unknownPOID")
        );
        assert!(r.message.unwrap().contains("arl/unknownAOID"));
        let r = of(&Outcome::warning(
            Minor::RequestOnlyPartlySuccessfulWarning,
            "left out: V009",
        ));
        assert_eq!(r.major, SUCCESS);
        assert_eq!(
            r.minor.as_deref(),
            Some("http://uri.etsi.org/19512/warning/requestOnlyPartlySuccessful")
        );
        let r = of(&Outcome::error(Minor::XaipNokSig, "bad seal"));
        assert_eq!(
            r.minor.as_deref(),
            Some("http://uri.etsi.org/19512/error/POFormatError")
        );
        let r = of(&Outcome::error(Minor::DxaipNokVersion, "x"));
        assert_eq!(
            r.minor.as_deref(),
            Some("http://uri.etsi.org/19512/error/DeltaPOCInternalProblem")
        );
        let r = of(&Outcome::error(Minor::InternalError, "x"));
        assert_eq!(r.major, RESPONDER_ERROR);
    }
}
