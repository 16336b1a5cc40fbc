//! The words mail clients write around a quoted or forwarded message, one table per language:
//! the attribution line ("On … wrote:", "Am … schrieb …:", "Le … a écrit :"), the fields of
//! Outlook-style header blocks ("From / Sent / To / Subject" and their translations), the dashed
//! separators ("-----Original Message-----", "---------- Forwarded message ---------"), Apple
//! Mail's "Begin forwarded message:" line and the footers of mail apps ("Sent from my iPhone").
//!
//! [`super::reply_header`] and [`super::extract`] read every language at once, since a reader's
//! client may write in any of them whatever the newsletter's language. Adding a language is
//! adding a table here. All words are lowercase, as the rules compare lowercased text.

/// What one language's mail clients write.
pub(super) struct Language {
    /// The language, for the reader of this file.
    #[allow(dead_code)]
    pub(super) name: &'static str,
    /// Words an attribution line opens with ("on", "am", "le", "w dniu").
    pub(super) openers: &'static [&'static str],
    /// Verbs that end an attribution line ("wrote"), or stand before the sender's name
    /// ("schrieb", "schreef", "skrev").
    pub(super) verbs: &'static [&'static str],
    /// The sender field of a header block ("from", "von", "de", "发件人").
    pub(super) from: &'static [&'static str],
    /// The other fields of a header block: date, recipients, copies, subject.
    pub(super) fields: &'static [&'static str],
    /// Words inside dashed separators ("original", "forwarded", "nachricht", "message").
    pub(super) separators: &'static [&'static str],
    /// Openings of the line above a forwarded message ("begin forwarded message").
    pub(super) forward_intros: &'static [&'static str],
    /// Openings of the footers mail apps append ("sent from ", "gesendet von ").
    pub(super) device_footers: &'static [&'static str],
}

const EMPTY: &[&str] = &[];

/// The languages of the mail clients readers use.
pub(super) const LANGUAGES: &[Language] = &[
    Language {
        name: "English",
        openers: &["on"],
        verbs: &["wrote", "writes"],
        from: &["from"],
        fields: &["sent", "date", "to", "cc", "bcc", "subject", "reply-to"],
        separators: &["original", "forward", "message", "reply"],
        forward_intros: &["begin forwarded message", "forwarded message:"],
        device_footers: &[
            "sent from ",
            "sent via ",
            "sent with ",
            "sent using ",
            "get outlook for ",
            "download outlook for ",
        ],
    },
    Language {
        name: "German",
        openers: &["am"],
        verbs: &["schrieb", "geschrieben"],
        from: &["von"],
        fields: &[
            "gesendet",
            "datum",
            "an",
            "kopie",
            "blindkopie",
            "betreff",
            "antwort an",
        ],
        separators: &["nachricht", "weitergeleitet", "ursprünglich"],
        forward_intros: &[
            "anfang der weitergeleiteten nachricht",
            "anfang der weitergeleiteten e-mail",
        ],
        device_footers: &[
            "gesendet von ",
            "gesendet mit ",
            "von meinem ",
            "outlook für ",
            "holen sie sich outlook für ",
        ],
    },
    Language {
        name: "French",
        openers: &["le"],
        verbs: &["a écrit"],
        from: &["de", "expéditeur"],
        fields: &[
            "envoyé",
            "envoyé le",
            "date",
            "à",
            "pour",
            "destinataire",
            "copie à",
            "cc",
            "objet",
            "sujet",
            "message du",
            "répondre à",
        ],
        separators: &["origine", "transféré", "réexpédié", "écrit"],
        forward_intros: &["début du message réexpédié", "début du message transféré"],
        device_footers: &[
            "envoyé de ",
            "envoyé depuis ",
            "envoyé à partir de ",
            "envoyé avec ",
            "obtenir outlook pour ",
            "télécharger outlook pour ",
        ],
    },
    Language {
        name: "Spanish",
        openers: &["el"],
        verbs: &["escribió", "escribio"],
        from: &["de", "remitente"],
        fields: &[
            "enviado",
            "enviado el",
            "enviados",
            "fecha",
            "para",
            "cc",
            "cco",
            "asunto",
            "responder a",
        ],
        separators: &["mensaje", "reenviado", "escribió"],
        forward_intros: &[
            "inicio del mensaje reenviado",
            "comienzo del mensaje reenviado",
        ],
        device_footers: &[
            "enviado desde ",
            "enviado con ",
            "obtener outlook para ",
            "descargar outlook para ",
        ],
    },
    Language {
        name: "Portuguese",
        openers: &["em", "no dia"],
        verbs: &["escreveu"],
        from: &["de", "remetente"],
        fields: &["enviado", "enviada", "data", "para", "cc", "assunto"],
        separators: &["mensagem", "encaminhada", "reencaminhada", "escreveu"],
        forward_intros: &[
            "início da mensagem reencaminhada",
            "início da mensagem encaminhada",
            "começo da mensagem encaminhada",
        ],
        device_footers: &["enviado do ", "enviado de ", "obter o outlook para "],
    },
    Language {
        name: "Italian",
        openers: &["il", "in data"],
        verbs: &["ha scritto", "scrisse"],
        from: &["da", "mittente"],
        fields: &["inviato", "data", "a", "cc", "ccn", "oggetto"],
        separators: &["messaggio", "inoltrato", "originale", "scritto"],
        forward_intros: &[
            "inizio messaggio inoltrato",
            "inizio del messaggio inoltrato",
        ],
        device_footers: &["inviato da ", "inviato con ", "scarica outlook per "],
    },
    Language {
        name: "Dutch",
        openers: &["op"],
        verbs: &["schreef", "geschreven"],
        from: &["van", "afzender"],
        fields: &["verzonden", "datum", "aan", "cc", "onderwerp"],
        separators: &["bericht", "doorgestuurd", "oorspronkelijk"],
        forward_intros: &["begin doorgestuurd bericht", "doorgestuurd bericht:"],
        device_footers: &[
            "verzonden met ",
            "verzonden vanaf ",
            "verzonden vanuit ",
            "verstuurd vanaf ",
            "verstuurd vanuit ",
            "verstuurd met ",
            "outlook voor ",
        ],
    },
    Language {
        name: "Swedish",
        openers: &["den"],
        verbs: &["skrev"],
        from: &["från", "avsändare"],
        fields: &["skickat", "skickades", "datum", "till", "kopia", "ämne"],
        separators: &["meddelande", "vidarebefordrat", "ursprungligt"],
        forward_intros: &[
            "vidarebefordrat meddelande",
            "början på vidarebefordrat meddelande",
            "vidarebefordrat mejl",
        ],
        device_footers: &["skickat från ", "skickades från ", "hämta outlook för "],
    },
    Language {
        name: "Danish and Norwegian",
        openers: &["på", "den"],
        verbs: &["skrev"],
        from: &["fra"],
        fields: &["sendt", "dato", "til", "kopi", "emne"],
        separators: &[
            "besked",
            "melding",
            "meddelelse",
            "videresendt",
            "oprindelig",
        ],
        forward_intros: &[
            "videresendt besked",
            "videresendt melding",
            "start på videresendt",
        ],
        device_footers: &[
            "sendt fra ",
            "hent outlook til ",
            "hent outlook for ",
            "få outlook for ",
        ],
    },
    Language {
        name: "Polish",
        openers: &["w dniu", "dnia"],
        verbs: &["napisał", "napisała", "napisał(a)", "pisze", "nadesłał"],
        from: &["od"],
        fields: &["wysłano", "wysłane", "data", "do", "dw", "temat"],
        separators: &["wiadomo", "przekazana", "oryginalna"],
        forward_intros: &["początek przekazywanej wiadomości", "przekazana wiadomość:"],
        device_footers: &["wysłane z ", "wysłano z "],
    },
    Language {
        name: "Czech and Slovak",
        openers: &["dne"],
        verbs: &["napsal", "napsala", "napsal(a)", "napísal", "napísala"],
        from: &["od"],
        fields: &["odesláno", "komu", "předmět", "kopie", "datum"],
        separators: &["zpráva", "přeposlaná", "původní"],
        forward_intros: &["začátek přeposlané zprávy"],
        device_footers: &["odesláno z "],
    },
    Language {
        name: "Russian",
        openers: EMPTY,
        verbs: &["написал", "написала", "написал(а)", "пишет"],
        from: &["от"],
        fields: &["отправлено", "дата", "кому", "копия", "тема"],
        separators: &["сообщение", "письмо"],
        forward_intros: &[
            "начало переадресованного сообщения",
            "пересылаемое сообщение:",
        ],
        device_footers: &["отправлено с ", "отправлено из "],
    },
    Language {
        name: "Ukrainian",
        openers: EMPTY,
        verbs: &["пише", "написав", "написала", "написав(ла)"],
        from: &["від"],
        fields: &["надіслано", "відправлено", "дата", "кому", "копія", "тема"],
        separators: &["повідомлення", "лист"],
        forward_intros: &[
            "початок пересланого повідомлення",
            "переслане повідомлення:",
        ],
        device_footers: &["надіслано з "],
    },
    Language {
        name: "Finnish",
        openers: EMPTY,
        verbs: &["kirjoitti"],
        from: &["lähettäjä"],
        fields: &["lähetetty", "vastaanottaja", "aihe", "päivämäärä", "kopio"],
        separators: &["viesti", "välitetty", "alkuperäinen"],
        forward_intros: &["välitetty viesti alkaa"],
        device_footers: &["lähetetty "],
    },
    Language {
        name: "Hungarian",
        openers: EMPTY,
        verbs: &["írta"],
        from: &["feladó"],
        fields: &["elküldve", "címzett", "tárgy", "dátum", "másolat"],
        separators: &["üzenet", "továbbított", "eredeti"],
        forward_intros: &["továbbított levél kezdete"],
        device_footers: EMPTY,
    },
    Language {
        name: "other European languages",
        openers: EMPTY,
        verbs: &["napisao", "a scris", "yazdı", "έγραψε", "kirjutas", "rašė"],
        from: EMPTY,
        fields: EMPTY,
        separators: EMPTY,
        forward_intros: EMPTY,
        device_footers: EMPTY,
    },
    Language {
        name: "Japanese",
        openers: EMPTY,
        verbs: &[
            "のメッセージ",
            "のメール",
            "が書きました",
            "さんは書きました",
        ],
        from: &["差出人", "送信者"],
        fields: &["送信日時", "日付", "宛先", "件名"],
        separators: &["転送", "元のメッセージ"],
        forward_intros: &["転送されたメッセージ", "転送メッセージ:"],
        device_footers: EMPTY,
    },
    Language {
        name: "Korean",
        openers: EMPTY,
        verbs: &["님이 작성"],
        from: &["보낸 사람", "보낸사람"],
        fields: &["보낸 날짜", "날짜", "받는 사람", "받는사람", "참조", "제목"],
        separators: &["전달된 메일", "원본 메일", "원본 메시지"],
        forward_intros: &["전달된 메일"],
        device_footers: EMPTY,
    },
    Language {
        name: "Chinese",
        openers: &["在", "于"],
        verbs: &["写道", "寫道"],
        from: &["发件人", "寄件者", "寄件人"],
        fields: &[
            "发送时间",
            "时间",
            "日期",
            "收件人",
            "收件者",
            "抄送",
            "副本",
            "主题",
            "主旨",
            "寄件日期",
        ],
        separators: &["原始邮件", "原始郵件", "邮件原件", "转发", "轉寄", "轉發"],
        forward_intros: &["转发的邮件", "以下是转发的邮件", "轉寄的郵件"],
        device_footers: EMPTY,
    },
];

/// Every word of one kind, over all languages.
pub(super) fn all(
    kind: fn(&Language) -> &'static [&'static str],
) -> impl Iterator<Item = &'static str> {
    LANGUAGES.iter().flat_map(move |l| kind(l).iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_and_trimmed_where_compared_so() {
        let kinds: [fn(&Language) -> &'static [&'static str]; 6] = [
            |l| l.openers,
            |l| l.verbs,
            |l| l.from,
            |l| l.fields,
            |l| l.separators,
            |l| l.forward_intros,
        ];
        for kind in kinds {
            for word in all(kind) {
                assert_eq!(word, word.to_lowercase(), "{word}");
                assert_eq!(word, word.trim(), "{word:?}");
                assert!(!word.is_empty());
            }
        }
        for footer in all(|l| l.device_footers) {
            assert_eq!(footer, footer.to_lowercase(), "{footer}");
        }
    }

    #[test]
    fn the_languages_readers_use_are_there() {
        for name in [
            "English",
            "German",
            "French",
            "Spanish",
            "Portuguese",
            "Italian",
            "Dutch",
            "Swedish",
            "Polish",
            "Russian",
            "Ukrainian",
            "Japanese",
            "Chinese",
        ] {
            let language = LANGUAGES
                .iter()
                .find(|l| l.name == name)
                .unwrap_or_else(|| panic!("no table for {name}"));
            assert!(!language.verbs.is_empty(), "{name}: no attribution verbs");
            assert!(!language.from.is_empty(), "{name}: no sender field");
            assert!(language.fields.len() >= 3, "{name}: too few header fields");
            assert!(
                !language.separators.is_empty(),
                "{name}: no separator words"
            );
            assert!(
                !language.forward_intros.is_empty(),
                "{name}: no forward line"
            );
        }
    }
}
