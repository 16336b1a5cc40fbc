use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use super::plural;
use crate::cli::SendArgs;
use dispatch::check::Severity;
use dispatch::issue::IssueId;
use dispatch::newsletter::Newsletter;
use dispatch::outgoing::message::Message;
use dispatch::outgoing::smtp::Settings;
use dispatch::send::{self, Plan, SendLock, Summary};
use dispatch::store::sends::Sample;

/// How many addresses `--dry-run` shows.
const PREVIEW: usize = 10;

pub fn run(dir: &Path, args: &SendArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let issues = newsletter.load_issues()?;
    let issue = issues.find(&args.issue)?;
    if args.dry_run {
        return dry_run(dir, &newsletter, &args.issue, issue.id, &issue.title);
    }
    let settings = Settings::from_config(&newsletter)?;
    if let Some(warning) = settings.warning() {
        eprintln!("warning: {warning}");
    }
    if let Some(to) = &args.test {
        let to = dispatch::address::normalize(to)?;
        let store = newsletter.store()?;
        let message = Message::prepare(&newsletter, &issues, &store, issue)?;
        runtime.block_on(send::send_test(&settings, &message, &to))?;
        println!("sent a test copy of {} to {to}", issue.id);
        return Ok(());
    }

    let database = newsletter.database_path();
    let _lock = SendLock::acquire(&database)?;
    let store = newsletter.store()?;
    let plan = Plan::load(&store, issue.id, 0)?;
    if plan.resuming() && plan.to_mail == 0 {
        println!(
            "{} was already sent: {} delivered, {} failed; nothing left to mail",
            issue.id, plan.counts.sent, plan.counts.failed
        );
        print_outside(plan.outside);
        return finished(issue.id, plan.counts.failed, 0);
    }
    if plan.to_mail == 0 {
        anyhow::bail!(no_subscribers(issue.id));
    }
    let preflight = Preflight::run(dir, &newsletter, &args.issue)?;
    if let Some(refusal) = preflight.refusal(issue.id) {
        return Err(refusal);
    }
    for warning in &preflight.warnings {
        eprintln!("warning: {warning}");
    }
    if !args.yes {
        confirm(&question(&plan, &issue.title))?;
    }
    if plan.counts.sending > 0 {
        let one = plan.counts.sending == 1;
        eprintln!(
            "{} message{} {} in flight when the last run stopped and may have been delivered twice: {} sent again",
            plan.counts.sending,
            plural(plan.counts.sending),
            if one { "was" } else { "were" },
            if one { "it is" } else { "they are" }
        );
    }
    let message = Message::prepare(&newsletter, &issues, &store, issue)?;
    let reporter = std::sync::Arc::new(super::report::Stderr::new());
    let summary = runtime.block_on(send::run(&database, store, &settings, message, reporter))?;
    print_summary(&summary);
    if let Some(reason) = summary.stopped_by {
        return Err(anyhow::Error::new(reason).context(format!(
            "the send of {} stopped; run `dispatch send {}` again to resume",
            summary.issue,
            summary.issue.slug()
        )));
    }
    if let Some(signal) = summary.interrupted {
        return Err(dispatch::signal::Interrupted {
            signal,
            message: format!(
                "interrupted; run `dispatch send {}` again to resume",
                summary.issue.slug()
            ),
        }
        .into());
    }
    finished(summary.issue, summary.after.failed, summary.after.deferred)
}

/// Why `send` refuses an issue without subscribers to mail.
fn no_subscribers(issue: IssueId) -> String {
    format!(
        "there are no active subscribers to send {issue} to (add some with `dispatch subscribers add`)"
    )
}

/// `send --dry-run`: everything `send` checks before mailing, with nothing sent or recorded.
/// Fails, listing the reasons, when `send` would refuse.
fn dry_run(
    dir: &Path,
    newsletter: &Newsletter,
    name: &str,
    issue: IssueId,
    title: &str,
) -> anyhow::Result<()> {
    let mut refusals = Vec::new();
    let settings = Settings::from_config(newsletter);
    let store = newsletter.store()?;
    let plan = Plan::load(&store, issue, PREVIEW)?;
    let preflight = Preflight::run(dir, newsletter, name)?;
    print_dry_run(&plan, title, &preflight);
    match &settings {
        Ok(settings) => {
            println!(
                "smtp: {}:{} ({}), {} connection{}",
                settings.host,
                settings.port,
                security_name(settings.security),
                settings.connections,
                plural(settings.connections)
            );
            if let Some(warning) = settings.warning() {
                println!("  warning: {warning}");
            }
        }
        Err(err) => refusals.push(err.to_string()),
    }
    if plan.to_mail == 0 && !plan.resuming() {
        refusals.push(no_subscribers(issue));
    }
    if !preflight.errors.is_empty() {
        refusals.push(format!(
            "the preflight found {} error{} (listed above): {}",
            preflight.errors.len(),
            plural(preflight.errors.len() as i64),
            preflight.fix_hint(issue)
        ));
    }
    if !refusals.is_empty() {
        println!("`dispatch send {}` would refuse:", issue.slug());
        for refusal in &refusals {
            println!("  {refusal}");
        }
    }
    println!("dry run: nothing was sent or recorded");
    if refusals.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{issue} is not ready to send: {} reason{} above",
        refusals.len(),
        plural(refusals.len() as i64)
    )
}

/// `smtp.security` as config.yaml spells it.
fn security_name(security: dispatch::config::Security) -> &'static str {
    use dispatch::config::Security;
    match security {
        Security::Starttls => "starttls",
        Security::Tls => "tls",
        Security::None => "none",
    }
}

/// The errors and warnings of the offline preflight `dispatch check` runs, one line each.
struct Preflight {
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Preflight {
    /// Runs the checks of `dispatch check --offline` (the links, which need the network, are
    /// left to `check`); notes are left out.
    fn run(dir: &Path, newsletter: &Newsletter, issue: &str) -> anyhow::Result<Preflight> {
        let (_, findings) = super::check::offline(newsletter, issue)?;
        let lines = |severity: Severity| -> Vec<String> {
            findings
                .iter()
                .filter(|f| f.severity == severity)
                .map(|f| super::check::line(dir, f))
                .collect()
        };
        Ok(Preflight {
            errors: lines(Severity::Error),
            warnings: lines(Severity::Warning),
        })
    }

    /// Why the issue must not be sent, when the preflight found errors.
    fn refusal(&self, issue: IssueId) -> Option<anyhow::Error> {
        if self.errors.is_empty() {
            return None;
        }
        let listed: String = self.errors.iter().map(|e| format!("\n  {e}")).collect();
        Some(anyhow::anyhow!(
            "{issue} was not sent: the preflight found {} error{}:{listed}\n{}",
            self.errors.len(),
            plural(self.errors.len() as i64),
            self.fix_hint(issue)
        ))
    }

    fn fix_hint(&self, issue: IssueId) -> String {
        format!(
            "run `dispatch check {}` for the full report and fix {} before sending",
            issue.slug(),
            if self.errors.len() == 1 { "it" } else { "them" }
        )
    }
}

/// A send left with failed or deferred recipients.
#[derive(Debug, thiserror::Error)]
#[error("{issue} did not reach everybody: {failed} failed, {deferred} deferred{hint}")]
pub struct Incomplete {
    pub issue: dispatch::issue::IssueId,
    pub failed: i64,
    pub deferred: i64,
    pub hint: String,
}

fn finished(issue: dispatch::issue::IssueId, failed: i64, deferred: i64) -> anyhow::Result<()> {
    if failed == 0 && deferred == 0 {
        return Ok(());
    }
    let hint = if deferred > 0 {
        format!(
            " (run `dispatch send {}` again to retry the deferred)",
            issue.slug()
        )
    } else {
        String::new()
    };
    Err(Incomplete {
        issue,
        failed,
        deferred,
        hint,
    }
    .into())
}

fn question(plan: &Plan, title: &str) -> String {
    match &plan.started_at {
        Some(started) => format!(
            "Resume {} “{title}” (started {started}): {} of {} subscriber{} still to mail? [y/N] ",
            plan.issue,
            plan.to_mail,
            plan.counts.total(),
            plural(plan.counts.total())
        ),
        None => format!(
            "Send {} “{title}” to {} subscriber{}? [y/N] ",
            plan.issue,
            plan.to_mail,
            plural(plan.to_mail)
        ),
    }
}

/// Asks on the terminal; without one there is nobody to ask.
fn confirm(question: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "not sending without confirmation: standard input is not a terminal, so dispatch cannot ask; pass --yes to send"
        );
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        anyhow::bail!("not sent")
    }
}

fn print_dry_run(plan: &Plan, title: &str, preflight: &Preflight) {
    match &plan.started_at {
        Some(started) => println!(
            "{} “{title}”: the send started {started}; {} of {} subscriber{} still to mail{}",
            plan.issue,
            plan.to_mail,
            plan.counts.total(),
            plural(plan.counts.total()),
            if plan.to_mail > 0 { ":" } else { "" }
        ),
        None => println!(
            "{} “{title}” would go to {} active subscriber{}{}",
            plan.issue,
            plan.to_mail,
            plural(plan.to_mail),
            if plan.to_mail > 0 { ":" } else { "" }
        ),
    }
    for email in &plan.first {
        println!("  {email}");
    }
    let more = plan.to_mail - plan.first.len() as i64;
    if more > 0 {
        println!("  … and {more} more");
    }
    print_outside(plan.outside);
    let (errors, warnings) = (preflight.errors.len(), preflight.warnings.len());
    if errors + warnings == 0 {
        println!("preflight: no errors or warnings");
    } else {
        println!(
            "preflight: {errors} error{}, {warnings} warning{}",
            plural(errors as i64),
            plural(warnings as i64)
        );
    }
    for error in &preflight.errors {
        println!("  error: {error}");
    }
    for warning in &preflight.warnings {
        println!("  warning: {warning}");
    }
}

fn print_outside(outside: i64) {
    if outside > 0 {
        println!(
            "{outside} active subscriber{} joined after this send started and {} not part of it (a send's audience is fixed when it starts)",
            plural(outside),
            if outside == 1 { "is" } else { "are" }
        );
    }
}

fn print_summary(s: &Summary) {
    let secs = s.elapsed.as_secs_f64();
    let done_now = s.sent_now + s.failed_now;
    println!(
        "{}: {} message{} in {secs:.1} s ({:.1} msg/s)",
        s.issue,
        done_now,
        plural(done_now as i64),
        done_now as f64 / secs.max(0.001)
    );
    let total = s.after.total();
    println!(
        "  delivered  {:>7}  of {total} ({} in this run)",
        s.after.sent, s.sent_now
    );
    if s.after.deferred > 0 {
        println!(
            "  deferred   {:>7}  will be retried by the next `dispatch send {}`",
            s.after.deferred,
            s.issue.slug()
        );
    }
    let unsent = s.after.queued + s.after.sending;
    if unsent > 0 {
        println!(
            "  not sent   {unsent:>7}  yet; the next `dispatch send {}` mails them",
            s.issue.slug()
        );
    }
    println!("  failed     {:>7}  not retried", s.after.failed);
    let failures: Vec<String> = s
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.email, f.error))
        .collect();
    print_first(&failures, s.after.failed);
    println!(
        "  skipped    {:>7}  handled by an earlier run",
        s.before.sent + s.before.failed
    );
    let Sample {
        count: in_doubt,
        first,
    } = &s.in_doubt;
    if *in_doubt > 0 {
        println!(
            "  in doubt   {in_doubt:>7}  may have the issue twice: no answer came to the end of their message, or it was in flight when a run stopped"
        );
        print_first(first, *in_doubt);
    }
    print_outside(s.outside);
}

/// The first lines of a list under a summary line, and how many more there are of `total`.
fn print_first(lines: &[String], total: i64) {
    for line in lines {
        println!("               {line}");
    }
    if (lines.len() as i64) < total {
        println!("               … and {} more", total - lines.len() as i64);
    }
}
