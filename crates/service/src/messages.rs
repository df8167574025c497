//! The e-mail a user gets about their account (issue 22, docs/notifications.md), in their
//! language (English, or French when their profile's language is French), as plain text and
//! HTML: what happened, when, from where, who when it was someone else, and what to do if it
//! wasn't them (a link to the account page). Nothing in it is a secret: the event names members,
//! never values. Everything the client wrote (address, browser, names) is escaped in the HTML.

use crate::notify::CloudEvent;

/// The languages messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    English,
    French,
}

impl Lang {
    /// French for a profile language of French (`French`, `Français`, `fr`, `fr-BE`, …), else
    /// English.
    pub fn of(language: Option<&str>) -> Lang {
        let language = language.unwrap_or_default().trim().to_lowercase();
        if language.starts_with("fr") {
            Lang::French
        } else {
            Lang::English
        }
    }
}

/// A written message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What happened, in a few words, by notification type (`accountd.<kind>`).
fn what(kind: &str, lang: Lang) -> &'static str {
    match (kind, lang) {
        ("sign_in", Lang::English) => "New sign-in to your account",
        ("sign_in", Lang::French) => "Nouvelle connexion à votre compte",
        ("password_changed", Lang::English) => "Your password was changed",
        ("password_changed", Lang::French) => "Votre mot de passe a été modifié",
        ("pin_changed", Lang::English) => "Your PIN was changed",
        ("pin_changed", Lang::French) => "Votre code PIN a été modifié",
        ("factor_added", Lang::English) => "A second factor was added to your account",
        ("factor_added", Lang::French) => "Un second facteur a été ajouté à votre compte",
        ("factor_removed", Lang::English) => "A second factor was removed from your account",
        ("factor_removed", Lang::French) => "Un second facteur a été retiré de votre compte",
        ("factors_reset", Lang::English) => "Your second factors were removed by an administrator",
        ("factors_reset", Lang::French) => "Vos seconds facteurs ont été retirés par un administrateur",
        ("token_created", Lang::English) => "An API token was created for your account",
        ("token_created", Lang::French) => "Un jeton d'API a été créé pour votre compte",
        ("compromise_reported", Lang::English) => "You reported activity that wasn't yours",
        ("compromise_reported", Lang::French) => "Vous avez signalé une activité qui n'était pas la vôtre",
        ("changed_by_administrator", Lang::English) => "An administrator changed your account",
        ("changed_by_administrator", Lang::French) => "Un administrateur a modifié votre compte",
        ("email_change_requested", Lang::English) => "A change of your e-mail address was asked",
        ("email_change_requested", Lang::French) => "Un changement de votre adresse e-mail a été demandé",
        (_, Lang::English) => "Something changed on your account",
        (_, Lang::French) => "Votre compte a été modifié",
    }
}

struct Labels {
    greeting: &'static str,
    when: &'static str,
    from: &'static str,
    browser: &'static str,
    by: &'static str,
    unknown: &'static str,
    not_you: &'static str,
    reported: &'static str,
    email_change: &'static str,
    footer: &'static str,
}

fn labels(lang: Lang) -> Labels {
    match lang {
        Lang::English => Labels {
            greeting: "Hello",
            when: "When",
            from: "From",
            browser: "Browser or program",
            by: "By",
            unknown: "unknown",
            not_you: "If this wasn't you, open your account page, choose \"This wasn't me\" on this event (it signs \
                      out every session and revokes every API token), then change your password:",
            reported: "Every session was signed out and every API token revoked. Sign in again to change your \
                       password:",
            email_change: "The new address becomes your account's only once the link we sent to it is followed. \
                           If this wasn't you, open your account page, cancel the change, choose \"This wasn't me\" \
                           on this event (it signs out every session and revokes every API token), then change your \
                           password:",
            footer: "This message was sent by accountd because of a change to your account. It never contains \
                     a password or a code.",
        },
        Lang::French => Labels {
            greeting: "Bonjour",
            when: "Quand",
            from: "Depuis",
            browser: "Navigateur ou programme",
            by: "Par",
            unknown: "inconnu",
            not_you: "Si ce n'était pas vous, ouvrez la page de votre compte, choisissez « Ce n'était pas moi » sur \
                      cet événement (toutes les sessions sont fermées et tous les jetons d'API révoqués), puis \
                      changez votre mot de passe :",
            reported: "Toutes les sessions ont été fermées et tous les jetons d'API révoqués. Connectez-vous à \
                       nouveau pour changer votre mot de passe :",
            email_change: "La nouvelle adresse ne devient celle de votre compte que lorsque le lien que nous lui \
                           avons envoyé est suivi. Si ce n'était pas vous, ouvrez la page de votre compte, annulez \
                           le changement, choisissez « Ce n'était pas moi » sur cet événement (toutes les sessions \
                           sont fermées et tous les jetons d'API révoqués), puis changez votre mot de passe :",
            footer: "Ce message a été envoyé par accountd à la suite d'une modification de votre compte. Il ne \
                     contient jamais de mot de passe ni de code.",
        },
    }
}

/// HTML-escapes text the client or a user wrote.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The e-mail of `event` for its user, in `lang`, linking to `account_page`.
pub fn mail(event: &CloudEvent, lang: Lang, account_page: &str) -> Written {
    let kind = event.kind.strip_prefix("accountd.").unwrap_or(&event.kind);
    let l = labels(lang);
    let subject = what(kind, lang).to_owned();
    let data = &event.data;
    let when = event
        .time
        .replace('T', " ")
        .replace(".000Z", " UTC")
        .replace('Z', " UTC");
    let address = data.address.as_deref().unwrap_or(l.unknown);
    let browser = data.user_agent.as_deref().unwrap_or(l.unknown);
    let advice = match kind {
        "compromise_reported" => l.reported,
        "email_change_requested" => l.email_change,
        _ => l.not_you,
    };
    let mut rows = vec![
        (l.when, when.clone()),
        (l.from, address.to_owned()),
        (l.browser, browser.to_owned()),
    ];
    if let Some(by) = &data.by {
        rows.push((l.by, by.clone()));
    }
    let mut text = format!("{} {},\n\n{}.\n\n", l.greeting, data.username, subject);
    for (label, value) in &rows {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text.push_str(&format!("\n{advice}\n{account_page}\n\n-- \n{}\n", l.footer));
    let mut html = format!(
        "<!doctype html><html lang=\"{}\"><body><p>{} {},</p><p><strong>{}.</strong></p><table>",
        match lang {
            Lang::English => "en",
            Lang::French => "fr",
        },
        l.greeting,
        escape(&data.username),
        escape(&subject)
    );
    for (label, value) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>",
            escape(value)
        ));
    }
    html.push_str(&format!(
        "</table><p>{}</p><p><a href=\"{page}\">{page}</a></p><p><small>{}</small></p></body></html>",
        escape(advice),
        escape(l.footer),
        page = escape(account_page)
    ));
    Written { subject, text, html }
}

/// The e-mail with a password-reset link, in `lang`.
pub fn reset_mail(username: &str, link: &str, minutes: u32, lang: Lang) -> Written {
    let texts = match lang {
        Lang::English => (
            "Reset your password",
            format!(
                "Someone (we hope you) asked to reset the password of your account. The link works once, for {minutes} minutes:"
            ),
            "If you didn't ask, ignore this message: your password stays as it is. The link signs out every session when used.",
        ),
        Lang::French => (
            "Réinitialiser votre mot de passe",
            format!(
                "Quelqu'un (vous, espérons-le) a demandé à réinitialiser le mot de passe de votre compte. Le lien fonctionne une fois, pendant {minutes} minutes :"
            ),
            "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste inchangé. Utilisé, le lien ferme toutes les sessions.",
        ),
    };
    link_mail(texts, username, link, lang)
}

/// The e-mail with the link that confirms a new e-mail address, in `lang`, to that address.
pub fn email_change_mail(username: &str, link: &str, minutes: u32, lang: Lang) -> Written {
    let texts = match lang {
        Lang::English => (
            "Confirm your new e-mail address",
            format!(
                "Someone (we hope you) asked to make this the e-mail address of the account {username}. It becomes the account's address when you follow this link, which works once, for {minutes} minutes:"
            ),
            "If you didn't ask, ignore this message: nothing changes.",
        ),
        Lang::French => (
            "Confirmez votre nouvelle adresse e-mail",
            format!(
                "Quelqu'un (vous, espérons-le) a demandé que cette adresse devienne celle du compte {username}. Elle le devient quand vous suivez ce lien, qui fonctionne une fois, pendant {minutes} minutes :"
            ),
            "Si vous n'avez rien demandé, ignorez ce message : rien ne change.",
        ),
    };
    link_mail(texts, username, link, lang)
}

/// A message whose point is a link: `(subject, what it is for, what if you didn't ask)`.
fn link_mail(texts: (&str, String, &str), username: &str, link: &str, lang: Lang) -> Written {
    let (subject, body, ignore) = texts;
    let l = labels(lang);
    let text = format!(
        "{} {username},\n\n{body}\n{link}\n\n{ignore}\n\n-- \n{}\n",
        l.greeting, l.footer
    );
    let html = format!(
        "<!doctype html><html lang=\"{}\"><body><p>{} {},</p><p>{}</p><p><a href=\"{link}\">{link}</a></p><p>{}</p><p><small>{}</small></p></body></html>",
        match lang {
            Lang::English => "en",
            Lang::French => "fr",
        },
        l.greeting,
        escape(username),
        escape(&body),
        escape(ignore),
        escape(l.footer),
        link = escape(link),
    );
    Written {
        subject: subject.to_owned(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::EventData;

    fn event(kind: &str, agent: &str) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: "id-1".into(),
            source: "urn:accountd".into(),
            kind: format!("accountd.{kind}"),
            time: "2026-12-03T21:40:00.000Z".into(),
            subject: "uuid".into(),
            datacontenttype: "application/json".into(),
            data: EventData {
                username: "foouser".into(),
                action: "password_change".into(),
                fields: vec!["password".into()],
                address: Some("192.0.2.7".into()),
                user_agent: Some(agent.into()),
                by: None,
            },
        }
    }

    #[test]
    fn messages_follow_the_language_and_escape_what_clients_wrote() {
        assert_eq!(Lang::of(Some("French")), Lang::French);
        assert_eq!(Lang::of(Some("fr-BE")), Lang::French);
        assert_eq!(Lang::of(Some("English")), Lang::English);
        assert_eq!(Lang::of(None), Lang::English);
        let page = "https://accounts.example.com/account/";
        let en = mail(&event("password_changed", "<script>x</script>"), Lang::English, page);
        assert_eq!(en.subject, "Your password was changed");
        assert!(en.text.contains("2026-12-03 21:40:00 UTC") && en.text.contains("192.0.2.7"));
        assert!(en.text.contains(page) && en.text.contains("This wasn't me"));
        assert!(!en.html.contains("<script>") && en.html.contains("&lt;script&gt;"));
        let fr = mail(&event("password_changed", "Firefox"), Lang::French, page);
        assert_eq!(fr.subject, "Votre mot de passe a été modifié");
        assert!(fr.text.starts_with("Bonjour foouser") && fr.text.contains("Ce n'était pas moi"));
        assert!(fr.html.contains("lang=\"fr\""));
    }
}
