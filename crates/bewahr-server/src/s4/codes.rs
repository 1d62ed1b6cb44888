//! The result codes of S.4 (TR-ESOR-E 1.3): full URIs below
//! `http://www.bsi.bund.de/tr-esor/api/1.3`, exactly the minor codes
//! TR-ESOR-E names for each operation.

/// Every URI of S.4 starts with this (it is also the responses' `Profile`).
pub const API: &str = "http://www.bsi.bund.de/tr-esor/api/1.3";

/// `dss:ResultMajor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Major {
    Ok,
    Warning,
    Error,
}

impl Major {
    pub fn uri(self) -> String {
        let m = match self {
            Major::Ok => "ok",
            Major::Warning => "warning",
            Major::Error => "error",
        };
        format!("{API}/resultmajor#{m}")
    }
}

/// `dss:ResultMinor`: the codes bewahr answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Minor {
    NoPermission,
    InternalError,
    ParameterError,
    NotSupported,
    UnknownUri,
    UnknownAoid,
    /// `arl/existingAOID`: the AOID given for a new object is in use.
    ExistingAoid,
    UnknownVersionId,
    UnknownArchiveDataType,
    UnknownPoFormat,
    /// `arl/unknownLocation`: a DataLocation that selects nothing.
    UnknownLocation,
    MissingReasonOfDeletion,
    RequestOnlyPartlySuccessfulWarning,
    NoSpaceError,
    XaipNok,
    XaipNokExpired,
    XaipNokSubmTime,
    XaipNokSig,
    XaipNokEr,
    DxaipNok,
    DxaipNokAoid,
    DxaipNokExpired,
    DxaipNokSubmTime,
    DxaipNokSig,
    DxaipNokEr,
    DxaipNokId,
    /// `DXAIP_NOK_Version`, as TR-ESOR-E 1.3 writes it (C.2 expects
    /// `DXAIP_NOK_VERSION`: the standard is followed, see docs/s4.md).
    DxaipNokVersion,
    /// `il/algorithm#hashAlgorithmNotSuitable` (eCard's code, as C.2's
    /// M-VE-07 expects it for records over SHA-1, SHA-224 and SHA3-224).
    HashAlgorithmNotSuitable,
    /// `arl/uploadDataFormatNotSupported`: TR-ESOR-E 6.1, a package or an
    /// ASiC-AIP sent to the upload interface.
    UploadDataFormatNotSupported,
    /// `sal#invalidSignature` (eCard's code, below the S.4 prefix as BSI's
    /// mock service writes it).
    InvalidSignature,
}

impl Minor {
    pub fn uri(self) -> String {
        let path = match self {
            Minor::NoPermission => "al/common#noPermission",
            Minor::InternalError => "al/common#internalError",
            Minor::ParameterError => "al/common#parameterError",
            Minor::NotSupported => "arl/notSupported",
            Minor::UnknownUri => "arl/unknownURI",
            Minor::UnknownAoid => "arl/unknownAOID",
            Minor::ExistingAoid => "arl/existingAOID",
            Minor::UnknownVersionId => "arl/unknownVersionID",
            Minor::UnknownArchiveDataType => "arl/unknownArchiveDataType",
            Minor::UnknownPoFormat => "arl/unknownPOFormat",
            Minor::UnknownLocation => "arl/unknownLocation",
            Minor::MissingReasonOfDeletion => "arl/missingReasonOfDeletion",
            Minor::RequestOnlyPartlySuccessfulWarning => "arl/requestOnlyPartlySuccessfulWarning",
            Minor::NoSpaceError => "arl/noSpaceError",
            Minor::XaipNok => "arl/XAIP_NOK",
            Minor::XaipNokExpired => "arl/XAIP_NOK_EXPIRED",
            Minor::XaipNokSubmTime => "arl/XAIP_NOK_SUBMTIME",
            Minor::XaipNokSig => "arl/XAIP_NOK_SIG",
            Minor::XaipNokEr => "arl/XAIP_NOK_ER",
            Minor::DxaipNok => "arl/DXAIP_NOK",
            Minor::DxaipNokAoid => "arl/DXAIP_NOK_AOID",
            Minor::DxaipNokExpired => "arl/DXAIP_NOK_EXPIRED",
            Minor::DxaipNokSubmTime => "arl/DXAIP_NOK_SUBMTIME",
            Minor::DxaipNokSig => "arl/DXAIP_NOK_SIG",
            Minor::DxaipNokEr => "arl/DXAIP_NOK_ER",
            Minor::DxaipNokId => "arl/DXAIP_NOK_ID",
            Minor::DxaipNokVersion => "arl/DXAIP_NOK_Version",
            Minor::InvalidSignature => "sal#invalidSignature",
            Minor::HashAlgorithmNotSuitable => "il/algorithm#hashAlgorithmNotSuitable",
            Minor::UploadDataFormatNotSupported => "arl/uploadDataFormatNotSupported",
        };
        format!("{API}/resultminor/{path}")
    }
}

/// A `dss:Result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub major: Major,
    pub minor: Option<Minor>,
    /// `dss:ResultMessage` (English).
    pub message: Option<String>,
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome {
            major: Major::Ok,
            minor: None,
            message: None,
        }
    }

    pub fn error(minor: Minor, message: impl Into<String>) -> Self {
        Outcome {
            major: Major::Error,
            minor: Some(minor),
            message: Some(message.into()),
        }
    }

    pub fn warning(minor: Minor, message: impl Into<String>) -> Self {
        Outcome {
            major: Major::Warning,
            minor: Some(minor),
            message: Some(message.into()),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.major == Major::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_uris_of_tr_esor_e() {
        assert_eq!(
            Major::Ok.uri(),
            "http://www.bsi.bund.de/tr-esor/api/1.3/resultmajor#ok"
        );
        assert_eq!(
            Minor::NoPermission.uri(),
            "http://www.bsi.bund.de/tr-esor/api/1.3/resultminor/al/common#noPermission"
        );
        assert_eq!(
            Minor::MissingReasonOfDeletion.uri(),
            "http://www.bsi.bund.de/tr-esor/api/1.3/resultminor/arl/missingReasonOfDeletion"
        );
    }
}
