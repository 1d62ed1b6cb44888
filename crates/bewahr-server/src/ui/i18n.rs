//! The interface's words, German first (the users' language) and English.
//! Templates read them as `L.<key>`; a key missing from a template's
//! language is an error in the tests that render every page (the
//! environment's undefined behaviour is strict).

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The interface's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// (key, German, English)
const WORDS: &[(&str, &str, &str)] = &[
    ("product", "bewahr – Beweiswerterhaltung", "bewahr – preservation archive"),
    ("skip", "Zum Inhalt springen", "Skip to content"),
    ("nav", "Hauptnavigation", "Main navigation"),
    ("nav_objects", "Archivobjekte", "Archive objects"),
    ("nav_verify", "Nachweis prüfen", "Verify a record"),
    ("nav_admin", "Betrieb", "Operations"),
    ("logout", "Abmelden", "Log out"),
    ("signed_in_as", "Angemeldet als", "Signed in as"),
    ("tenant", "Mandant", "Tenant"),
    ("language", "Sprache", "Language"),
    ("other_lang", "English", "Deutsch"),
    // login
    ("login_title", "Anmelden", "Sign in"),
    ("login_intro", "Melden Sie sich mit einem API-Token von bewahr an (Rolle Prüfer, Administrator oder Betreiber) oder mit Ihrem Client-Zertifikat.", "Sign in with a bewahr API token (role auditor, admin or operator) or with your client certificate."),
    ("token", "API-Token", "API token"),
    ("token_hint", "beginnt mit bwr_; es wird nicht gespeichert, nur die Sitzung", "starts with bwr_; it is not stored, only the session"),
    ("login_button", "Anmelden", "Sign in"),
    ("login_cert", "Mit Client-Zertifikat anmelden", "Sign in with client certificate"),
    ("login_failed", "Anmeldung fehlgeschlagen: Token unbekannt, abgelaufen oder widerrufen.", "Sign-in failed: the token is unknown, expired or revoked."),
    ("login_cert_failed", "Anmeldung mit Zertifikat fehlgeschlagen: Die Verbindung trägt kein gültiges Client-Zertifikat.", "Certificate sign-in failed: the connection carries no valid client certificate."),
    ("login_blocked", "Zu viele fehlgeschlagene Anmeldungen von dieser Adresse; bitte warten Sie", "Too many failed sign-ins from this address; please wait"),
    ("seconds", "Sekunden", "seconds"),
    ("login_expired", "Das Anmeldeformular ist abgelaufen; bitte erneut absenden.", "The sign-in form expired; please send it again."),
    ("csrf_failed", "Das Formular ist abgelaufen oder kam nicht von dieser Seite (CSRF-Schutz). Bitte laden Sie die Seite neu.", "The form expired or did not come from this page (CSRF protection). Please reload the page."),
    // search
    ("search_title", "Archivobjekte suchen", "Search archive objects"),
    ("file_ref", "Aktenzeichen", "File reference"),
    ("title", "Titel", "Title"),
    ("title_hint", "ein Teil des Titels", "a part of the title"),
    ("system", "System", "System"),
    ("from", "Eingereicht ab", "Submitted from"),
    ("to", "Eingereicht bis", "Submitted until"),
    ("search", "Suchen", "Search"),
    ("results", "Treffer", "Results"),
    ("no_results", "Keine Archivobjekte gefunden.", "No archive objects found."),
    ("next_page", "Weitere Treffer", "More results"),
    ("aoid", "Archivobjekt", "Archive object"),
    ("created", "Angelegt", "Created"),
    ("latest_version", "Neueste Version", "Latest version"),
    ("retention", "Aufbewahrung bis", "Retained until"),
    ("search_operator", "Der Betreiber sieht keine Archivobjekte der Mandanten; melden Sie sich mit einem Token eines Mandanten an.", "The operator sees no tenant's archive objects; sign in with a tenant's token."),
    // object
    ("versions", "Versionen", "Versions"),
    ("version", "Version", "Version"),
    ("state", "Zustand", "State"),
    ("state_pending", "wartet auf Zeitstempel", "waiting for its time-stamp"),
    ("state_preserved", "bewahrt", "preserved"),
    ("submitted", "Eingereicht", "Submitted"),
    ("media_type", "Medientyp", "Media type"),
    ("size", "Größe (Bytes)", "Size (bytes)"),
    ("metadata", "Metadaten", "Metadata"),
    ("digests", "Hashwerte", "Digests"),
    ("batch", "Hashbaum", "Hash tree"),
    ("evidence", "Beweisrecord (RFC 4998)", "Evidence record (RFC 4998)"),
    ("evidence_pending", "Diese Version wartet noch auf den Zeitstempel ihres Hashbaums; der Beweisrecord entsteht danach.", "This version waits for its hash tree's time-stamp; its evidence record follows."),
    ("evidence_result", "Ergebnis der Prüfung", "Verification result"),
    ("evidence_data_checked", "Die Daten wurden mitgeprüft.", "The data was checked too."),
    ("evidence_data_not_checked", "Nur der Record wurde geprüft, nicht die Daten", "Only the record was checked, not the data"),
    ("timeline", "Zeitstempel-Kette", "Chain of time-stamps"),
    ("chain", "Kette", "Chain"),
    ("gen_time", "Zeit", "Time"),
    ("tsa", "Zeitstempeldienst", "Time-stamp authority"),
    ("algorithm", "Algorithmus", "Algorithm"),
    ("covers", "deckt ab", "covers"),
    ("renewal", "Erneuerung", "renewal"),
    ("first_stamp", "erster Zeitstempel", "first time-stamp"),
    ("hash_path", "Pfad im Hashbaum", "Hash-tree path"),
    ("hash_path_intro", "Die reduzierten Hashbäume des ersten Zeitstempels jeder Kette: Ebene für Ebene die Hashwerte, mit denen der Hash der Daten bis zur gestempelten Wurzel gerechnet wird.", "The reduced hash trees of each chain's first time-stamp: level by level the hashes that lead from the data's hash to the time-stamped root."),
    ("level", "Ebene", "Level"),
    ("no_hash_path", "Der Zeitstempel deckt den Hash direkt ab (ein Baum mit einem Blatt).", "The time-stamp covers the hash itself (a tree of one leaf)."),
    ("findings", "Befunde", "Findings"),
    ("downloads", "Herunterladen", "Downloads"),
    ("dl_content", "Inhalt", "Content"),
    ("dl_record", "Beweisrecord (DER)", "Evidence record (DER)"),
    ("dl_record_xml", "Beweisrecord (XML, RFC 6283)", "Evidence record (XML, RFC 6283)"),
    ("dl_asic", "ASiC-Container", "ASiC container"),
    ("dl_validation_data", "Validierungsdaten", "Validation data"),
    ("dl_validation_report", "Prüfbericht der Signatur", "Signature validation report"),
    ("dl_tsa_certs", "Zertifikate der Zeitstempeldienste", "Time-stamp authorities' certificates"),
    ("seal", "Siegel- und Signaturprüfung bei Eingang", "Seal and signature validation on receipt"),
    ("no_seal", "Das Dokument trug keine Signatur, oder es wurde ohne Prüfung archiviert.", "The document carried no signature, or it was archived without validation."),
    ("signer", "Unterzeichner", "Signer"),
    ("signing_time", "Signaturzeit", "Signing time"),
    ("format", "Format", "Format"),
    ("show_version", "anzeigen", "show"),
    ("trail", "Protokoll", "Audit trail"),
    // verify
    ("verify_title", "Beweisrecord prüfen", "Verify an evidence record"),
    ("verify_intro", "Prüfen Sie einen Beweisrecord (RFC 4998, DER) gegen das Dokument, für das er ausgestellt wurde. Nichts wird gespeichert.", "Check an evidence record (RFC 4998, DER) against the document it was made for. Nothing is stored."),
    ("document", "Dokument", "Document"),
    ("record_file", "Beweisrecord (.ers, DER)", "Evidence record (.ers, DER)"),
    ("tsa_cert", "Zertifikat des Zeitstempeldienstes (optional, PEM oder DER)", "Time-stamp authority certificate (optional, PEM or DER)"),
    ("tsa_cert_hint", "zusätzlich zu den Vertrauensankern dieses Archivs", "in addition to this archive's trust anchors"),
    ("verify_button", "Prüfen", "Verify"),
    ("verify_missing", "Bitte wählen Sie einen Beweisrecord.", "Please choose an evidence record."),
    ("bad_certificate", "Das Zertifikat ist weder PEM noch DER", "The certificate is neither PEM nor DER"),
    ("report_download", "Bericht (JSON)", "Report (JSON)"),
    ("indication_PASSED", "BESTANDEN", "PASSED"),
    ("indication_FAILED", "NICHT BESTANDEN", "FAILED"),
    ("indication_INDETERMINATE", "UNBESTIMMT", "INDETERMINATE"),
    // admin
    ("admin_title", "Betrieb", "Operations"),
    ("workers", "Dienste", "Workers"),
    ("worker", "Dienst", "Worker"),
    ("since", "seit", "since"),
    ("last_error", "Letzter Fehler", "Last error"),
    ("node", "Knoten", "Node"),
    ("role", "Rolle", "Role"),
    ("leader", "Leiter", "Leader"),
    ("sealing", "Versiegelung", "Sealing"),
    ("pending", "wartend", "pending"),
    ("pending_versions", "Wartende Versionen", "Pending versions"),
    ("batches_sealed", "Versiegelte Hashbäume", "Hash trees sealed"),
    ("last_sealed", "Zuletzt versiegelt", "Last sealed"),
    ("latency", "Wartezeit bis zum Zeitstempel", "Wait for the time-stamp"),
    ("tsas", "Zeitstempeldienste", "Time-stamp authorities"),
    ("granted", "erteilt", "granted"),
    ("failed", "fehlgeschlagen", "failed"),
    ("last_answer", "Letzte Antwort", "Last answer"),
    ("answer_ms", "Antwortzeit (ms)", "Answer time (ms)"),
    ("no_tsa_yet", "Seit dem Start wurde noch kein Zeitstempel angefordert.", "No time-stamp has been asked for since the start."),
    ("ingest", "Eingang", "Ingest"),
    ("ingest_plot", "Versionen und Megabyte pro Minute, wartende Versionen (dieser Knoten, letzte Stunden)", "Versions and megabytes per minute, pending versions (this node, last hours)"),
    ("versions_per_min", "Versionen/min", "versions/min"),
    ("mb_per_min", "MB/min", "MB/min"),
    ("recorded", "Seit dem Start aufgenommen", "Recorded since the start"),
    ("bytes", "Bytes", "bytes"),
    ("plot_needs_js", "Die Diagramme brauchen JavaScript; die Zahlen stehen in der Tabelle.", "The plots need JavaScript; the figures are in the table."),
    ("plan", "Erneuerungsplan", "Renewal plan"),
    ("plan_computed", "berechnet", "computed"),
    ("plan_kind", "Art", "Kind"),
    ("plan_due", "fällig ab", "due from"),
    ("plan_deadline", "Schutz endet", "protection ends"),
    ("plan_trees", "Bäume", "trees"),
    ("plan_chains", "Objektversionen", "object versions"),
    ("plan_reason", "Grund", "Reason"),
    ("plan_none", "Nichts ist geplant: alle Ketten sind geschützt.", "Nothing planned: every chain is protected."),
    ("dry_run", "Probelauf", "Dry run"),
    ("dry_run_hint", "berechnet den Plan jetzt neu und zeigt, was ein Erneuerungslauf mit „fällig“ anfassen würde; er schreibt nichts.", "computes the plan anew and shows what a renewal run of scope \"due\" would touch; it writes nothing."),
    ("dry_run_result", "Ein Lauf jetzt würde erneuern", "A run now would renew"),
    ("dry_run_nothing", "Ein Lauf jetzt hätte nichts zu tun.", "A run now would have nothing to do."),
    ("timestamps_needed", "Zeitstempel", "time-stamps"),
    ("runs", "Erneuerungsläufe", "Renewal runs"),
    ("run_progress", "Fortschritt", "Progress"),
    ("recent_audit", "Letzte Protokolleinträge", "Recent audit entries"),
    ("at", "Zeit", "Time"),
    ("actor", "Wer", "Who"),
    ("action", "Aktion", "Action"),
    ("result", "Ergebnis", "Result"),
    ("detail", "Einzelheiten", "Detail"),
    ("operator_only", "Nur für den Betreiber", "Operator only"),
    // errors
    ("error", "Fehler", "Error"),
    ("back", "Zurück", "Back"),
    ("not_found", "Nicht gefunden", "Not found"),
];

fn table(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    WORDS
        .iter()
        .map(|(k, de, en)| (*k, if lang == Lang::De { *de } else { *en }))
        .collect()
}

/// The words of `lang`, by key.
pub fn words(lang: Lang) -> &'static BTreeMap<&'static str, &'static str> {
    static DE: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
    static EN: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
    match lang {
        Lang::De => DE.get_or_init(|| table(Lang::De)),
        Lang::En => EN.get_or_init(|| table(Lang::En)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, de, en) in WORDS {
            assert!(seen.insert(k), "{k} twice");
            assert!(!de.is_empty() && !en.is_empty(), "{k}");
        }
    }
}
