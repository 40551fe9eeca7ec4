//! `stabmon mail`: a report of a range as a mail that reads in any client (stabmon-report's mail body, PNG charts
//! by cid:, the full page attached), sent through an SMTP relay with lettre over rustls, or written as a .eml file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use stabmon_report::{MailContent, ReportBuilder};
use stabmon_store::SeriesRead;

use crate::{UsageError, select};

/// The largest message sent: relays commonly refuse more than 10 MB, and a mail this size is already slow on a
/// phone. Over it, the attached page is left out and the body says so.
pub const MAX_MESSAGE_BYTES: usize = 5_000_000;
/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{}", MAIL_HELP, select::RANGE_HELP))]
pub struct MailArgs {
    #[command(flatten)]
    pub data: select::DataArgs,

    /// A recipient (repeatable).
    #[arg(long = "mail-to", value_name = "ADDR", required = true)]
    pub mail_to: Vec<String>,

    /// The sender. [default: the user stabmon at the recorded host name]
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,

    /// The SMTP relay: `smtp://[USER[:PASSWORD]@]HOST[:PORT]` (STARTTLS, required; port 587) or
    /// `smtps://...` (TLS from the start; port 465). The password may come from $STABMON_SMTP_PASSWORD instead.
    #[arg(long, value_name = "URL", required_unless_present = "dry_run")]
    pub smtp: Option<String>,

    /// A PEM file of certificates to trust for the relay besides the usual public roots (a private CA, or the
    /// relay's own self-signed certificate).
    #[arg(long, value_name = "FILE")]
    pub smtp_ca: Option<PathBuf>,

    /// Write the message to this file (RFC 5322, .eml) instead of sending it.
    #[arg(long, value_name = "FILE.eml")]
    pub dry_run: Option<PathBuf>,

    /// The attached report's title. [default: stabmon report: HOST]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

const MAIL_HELP: &str = "The mail: a summary (incidents with their culprit, gaps, latency per target) with the \
    charts as images, a plain-text alternative, and the full interactive report attached as \
    stabmon-HOST-FROM-TO.html. Exit status: 2 for a bad flag, address, URL or CA file; 1 when the mail could not \
    be sent.\n\nExample:\n  stabmon mail --since 1d --mail-to ops@example.com --smtp smtp://stabmon@mail.example.com";

/// An SMTP relay from `--smtp` (and `--smtp-ca`).
#[derive(Clone)]
pub struct Relay {
    /// The URL without its password, to name the relay in messages.
    pub shown: String,
    host: String,
    port: u16,
    implicit_tls: bool,
    user: Option<String>,
    password: Option<String>,
    ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Relay {
    /// Parses `url`; `password_env` is $STABMON_SMTP_PASSWORD, used when the URL has a user and no password.
    pub fn parse(
        url: &str,
        password_env: Option<String>,
        ca: Option<&Path>,
    ) -> Result<Relay, String> {
        let bad = |why: &str| format!("invalid SMTP URL {:?}: {why}", shown_url(url));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("use smtp://HOST[:PORT] or smtps://HOST[:PORT]"))?;
        let implicit_tls = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(bad("the scheme must be smtp (STARTTLS) or smtps (TLS)")),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains(['/', '?', '#']) {
            return Err(bad("a path or query is not allowed"));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("the user or password is not UTF-8 once percent-decoded"))
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((u, p)) => (Some(decode(u)?), Some(decode(p)?)),
                None => (Some(decode(u)?), None),
            },
        };
        if user.as_deref() == Some("") {
            return Err(bad("the user is empty"));
        }
        let password = password.or(password_env.filter(|_| user.is_some()));
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("the host is missing"));
        }
        let port = match port {
            None => {
                if implicit_tls {
                    465
                } else {
                    587
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        let ca_pem = match ca {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
                Certificate::from_pem(&pem).map_err(|e| {
                    format!(
                        "the CA file {} holds no PEM certificate: {e}",
                        path.display()
                    )
                })?;
                Some(pem)
            }
        };
        Ok(Relay {
            shown: shown_url(url),
            host,
            port,
            implicit_tls,
            user,
            password,
            ca_pem,
        })
    }

    /// A transport to the relay.
    fn transport(&self) -> Result<SmtpTransport, String> {
        let mut tls = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.ca_pem {
            let cert = Certificate::from_pem(pem).map_err(|e| e.to_string())?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("cannot set up TLS for {}: {e}", self.shown))?;
        let mut b = SmtpTransport::builder_dangerous(self.host.clone())
            .port(self.port)
            .timeout(Some(SMTP_TIMEOUT))
            .tls(if self.implicit_tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Required(tls)
            });
        if let Some(user) = &self.user {
            b = b.credentials(Credentials::new(
                user.clone(),
                self.password.clone().unwrap_or_default(),
            ));
        }
        Ok(b.build())
    }

    /// Sends `message`; the error is one line naming the relay.
    pub fn send(&self, message: &Message) -> Result<(), String> {
        let transport = self.transport()?;
        transport.send(message).map(|_| ()).map_err(|e| {
            let mut text = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let t = s.to_string();
                if !text.contains(&t) {
                    text.push_str(": ");
                    text.push_str(&t);
                }
                src = s.source();
            }
            format!(
                "cannot send the mail through {}: {}",
                self.shown,
                text.replace(['\r', '\n'], " ")
            )
        })
    }
}

/// `url` with any password replaced by `***`.
fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Parses a mail address (`a@b.c` or `Name <a@b.c>`); the error names the flag and the address.
pub fn parse_address(flag: &str, addr: &str) -> Result<Mailbox, String> {
    addr.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("invalid address for {flag}: {addr:?}: {e}"))
}

/// The sender when none is given: `stabmon <stabmon@HOST>`, HOST being the recorded host's name.
pub fn default_from(host: &str) -> Result<Mailbox, String> {
    parse_address("--mail-from", &format!("stabmon <stabmon@{host}>"))
        .map_err(|e| format!("{e}; give one with --mail-from"))
}

/// The message: multipart/mixed of (multipart/alternative of text/plain and multipart/related of the HTML body
/// and its PNG charts by cid) and the full report attached, unless the whole would exceed [`MAX_MESSAGE_BYTES`].
pub fn build_message(
    content: &MailContent,
    from: &Mailbox,
    to: &[Mailbox],
) -> anyhow::Result<Message> {
    let build = |with_page: bool| -> anyhow::Result<Message> {
        let mut b = Message::builder()
            .from(from.clone())
            .subject(content.subject.clone());
        for t in to {
            b = b.to(t.clone());
        }
        let mut related = MultiPart::related().singlepart(SinglePart::html(if with_page {
            content.html.clone()
        } else {
            content.html.replace(
                "The interactive report (hover, zoom, every incident and gap) is attached; open it in a browser.",
                "The interactive report was too large to attach; make it with stabmon report.",
            )
        }));
        for img in &content.images {
            related = related.singlepart(
                Attachment::new_inline_with_name(img.cid.clone(), img.file_name.clone())
                    .body(img.chart.png.clone(), ContentType::parse("image/png")?),
            );
        }
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(content.text.clone()))
            .multipart(related);
        let mut mixed = MultiPart::mixed().multipart(alternative);
        if with_page {
            mixed = mixed.singlepart(
                Attachment::new(content.attachment_name.clone())
                    .body(content.attachment.clone(), ContentType::TEXT_HTML),
            );
        }
        b.multipart(mixed).context("cannot build the mail")
    };
    let message = build(true)?;
    if message.formatted().len() <= MAX_MESSAGE_BYTES {
        return Ok(message);
    }
    eprintln!(
        "stabmon: warning: the report ({} KB) would make the mail larger than {} MB: it is left out",
        content.attachment.len() / 1000,
        MAX_MESSAGE_BYTES / 1_000_000
    );
    build(false)
}

pub fn run(args: &MailArgs) -> anyhow::Result<ExitCode> {
    // Flags first: a bad address or URL is reported before any data is read.
    let to = args
        .mail_to
        .iter()
        .map(|a| parse_address("--mail-to", a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(UsageError)?;
    let from = args
        .mail_from
        .as_deref()
        .map(|a| parse_address("--mail-from", a))
        .transpose()
        .map_err(UsageError)?;
    let relay = match (&args.smtp, &args.dry_run) {
        (Some(url), None) => Some(
            Relay::parse(
                url,
                std::env::var("STABMON_SMTP_PASSWORD").ok(),
                args.smtp_ca.as_deref(),
            )
            .map_err(UsageError)?,
        ),
        _ => None,
    };
    let Some(read) = select::read_one_host(&args.data, SeriesRead::All)? else {
        return Ok(ExitCode::FAILURE);
    };
    let select::OneHost {
        src,
        series,
        host,
        from: range_from,
        to: range_to,
        ..
    } = &read;
    let from = match from {
        Some(f) => f,
        None => default_from(host).map_err(UsageError)?,
    };
    let reader = &src.reader;
    let mut builder = ReportBuilder::new()
        .range(*range_from, *range_to)
        .detect_options(reader.detect_options(host));
    if let Some(title) = &args.title {
        builder = builder.title(title.clone());
    }
    let spin = select::progress::spinner("making the mail");
    let content = builder
        .build()
        .render_mail_from(series, &reader.windows(host));
    spin.finish_and_clear();
    select::print_warnings(src);
    let content = content.with_context(|| format!("cannot make the report of {}", src.shown))?;
    let message = build_message(&content, &from, &to)?;
    let bytes = message.formatted();
    match (&args.dry_run, relay) {
        (Some(path), _) => {
            std::fs::write(path, &bytes)
                .map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "stabmon: wrote {} ({} KB): {}",
                path.display(),
                bytes.len() / 1000,
                content.subject
            );
        }
        (None, Some(relay)) => {
            relay.send(&message).map_err(anyhow::Error::msg)?;
            eprintln!(
                "stabmon: sent to {} through {} ({} KB): {}",
                args.mail_to.join(", "),
                relay.shown,
                bytes.len() / 1000,
                content.subject
            );
        }
        (None, None) => unreachable!("clap requires --smtp without --dry-run"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        let r = Relay::parse("smtp://mail.example.com", None, None).unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.implicit_tls),
            ("mail.example.com", 587, false)
        );
        let r = Relay::parse("smtps://u%40x:p%3Aw@[::1]:2465/", None, None).unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.implicit_tls),
            ("::1", 2465, true)
        );
        assert_eq!(
            (r.user.as_deref(), r.password.as_deref()),
            (Some("u@x"), Some("p:w"))
        );
        assert_eq!(r.shown, "smtps://u%40x:***@[::1]:2465/");
        let r = Relay::parse("smtp://bob@h:25", Some("env".into()), None).unwrap();
        assert_eq!(r.password.as_deref(), Some("env"));
        let r = Relay::parse("smtp://h:25", Some("env".into()), None).unwrap();
        assert_eq!(r.password, None);
        for bad in [
            "http://h",
            "h:25",
            "smtp://",
            "smtp://h:0",
            "smtp://h:x",
            "smtp://h/p",
            "smtp://:pw@h",
        ] {
            let e = Relay::parse(bad, None, None).unwrap_err();
            assert!(e.starts_with("invalid SMTP URL"), "{bad}: {e}");
        }
        let e = Relay::parse("smtp://u:secret@h:99999", None, None).unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }
}
