//! `dispatch replies review`: the pending replies one at a time on the terminal, one key per
//! decision. The queue, the decisions and the text safety live in
//! `dispatch::replies::review`; this file draws the screen and reads keys (crossterm, raw
//! mode), and always gives the terminal back as it found it: on quit, on an error, on a panic
//! and on SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossterm::cursor::{Hide, MoveTo, Show};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{execute, queue};
use tokio::runtime::Runtime;
use unicode_width::UnicodeWidthChar as _;

use dispatch::issue::IssueId;
use dispatch::newsletter::Newsletter;
use dispatch::replies::review::{
    self, Decision, Review, Undone, received, sender, terminal_line, terminal_lines, wrap,
};
use dispatch::signal::StopSignal;
use dispatch::store::Store;
use dispatch::store::replies::Reply;

pub fn run(dir: &Path, issue: Option<&str>, runtime: &Runtime) -> anyhow::Result<()> {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        anyhow::bail!(
            "`dispatch replies review` needs a terminal: it shows one reply at a time and reads one key; without one, see the pending replies with `dispatch replies list --status pending` and decide with `dispatch replies approve ID…` or `dispatch replies reject ID…`"
        );
    }
    let issue = issue.map(str::parse::<IssueId>).transpose()?;
    let store = Newsletter::open(dir)?.store()?;
    let review = Review::load(&store, issue)?;
    if review.is_empty() {
        match issue {
            Some(issue) => println!("no pending replies to {issue}"),
            None => println!("no pending replies"),
        }
        return Ok(());
    }
    restore_terminal_on_panic();
    let stop = Arc::new(OnceLock::new());
    let (review, outcome) = runtime.block_on(async {
        let session_stop = Arc::clone(&stop);
        let mut session = tokio::task::spawn_blocking(move || {
            let (mut store, mut review) = (store, review);
            let outcome = session(&mut store, &mut review, &session_stop);
            (review, outcome)
        });
        let finished = tokio::select! {
            finished = &mut session => finished,
            signal = dispatch::signal::stop_requested() => {
                if let Ok(signal) = signal {
                    let _ = stop.set(signal);
                }
                session.await
            }
        };
        finished.map_err(|e| anyhow::anyhow!("the review stopped on an internal error: {e}"))
    })?;
    println!("{}", review.tally());
    outcome?;
    if let Some(signal) = stop.get() {
        anyhow::bail!(
            "stopped by {}: the decisions made so far are saved; `dispatch replies review` resumes at the next pending reply",
            signal.name()
        );
    }
    Ok(())
}

/// What the editor sees of the current reply.
#[derive(Default)]
struct Screen {
    /// The original message instead of the reader's text.
    original: bool,
    help: bool,
    /// The first line shown.
    scroll: usize,
    /// One line about the last action, shown in place of the keys.
    notice: Option<String>,
}

/// One line of the screen, already safe and fitted to its width.
struct Line {
    text: String,
    bold: bool,
}

/// The keys on the last line, and the short form for a narrow terminal.
const KEYS: &str = "a approve  A anon  n note  e edit  r reject  s skip  u undo  o orig  q quit  ?";
const KEYS_SHORT: &str = "a A n e r s u o q  ? help";

const HELP: &[&str] = &[
    "a          approve: publish it under the name shown",
    "A          approve anonymously: publish it as \u{201c}A reader\u{201d}",
    "n          add or change your note (Enter saves, empty removes, Esc cancels)",
    "e          edit the reader's text in $VISUAL or $EDITOR",
    "r          reject: kept, never published",
    "s          skip: it comes back on the next run",
    "u          undo: take back the last decision of this run and see that reply again",
    "o          show the original message, or the reader's text again",
    "space, b   next, previous page; \u{2193} \u{2191} or j k: one line",
    "q          quit; every decision made so far is already saved",
    "?          this help; any other key goes back",
];

/// Runs the review until the queue ends, the editor quits or a signal asks to stop.
fn session(
    store: &mut Store,
    review: &mut Review,
    stop: &OnceLock<StopSignal>,
) -> anyhow::Result<()> {
    let mut term = Terminal::enter()?;
    let mut notice = None;
    loop {
        let Some((place, mut reply)) = review.current(store)? else {
            // The queue is done; the last decision can still be taken back.
            if !review.can_undo() || !last_screen(&mut term, review, notice.take(), stop)? {
                return Ok(());
            }
            notice = Some(undo_notice(review.undo(store)?));
            continue;
        };
        let mut screen = Screen {
            notice: notice.take(),
            ..Screen::default()
        };
        loop {
            let lines = if screen.help {
                help_lines()
            } else {
                reply_lines(place, review.len(), &reply, screen.original)
            };
            let page = term.draw(&lines, &mut screen)?;
            let key = match next_key(stop)? {
                Input::Stop => return Ok(()),
                Input::Resize => continue,
                Input::Key(key) => key,
            };
            screen.notice = None;
            if scrolls(&key, &mut screen, page) {
                continue;
            }
            if screen.help {
                screen.help = false;
                screen.scroll = 0;
                continue;
            }
            let decision = match key.code {
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(());
                }
                KeyCode::Char('q') => return Ok(()),
                KeyCode::Char('a') => Decision::Approve,
                KeyCode::Char('A') => Decision::ApproveAnonymously,
                KeyCode::Char('r') => Decision::Reject,
                KeyCode::Char('s') => Decision::Skip,
                KeyCode::Char('u') => {
                    if review.can_undo() {
                        notice = Some(undo_notice(review.undo(store)?));
                        break;
                    }
                    screen.notice = Some("nothing to undo in this run yet".to_string());
                    continue;
                }
                KeyCode::Char('o') => {
                    screen.original = !screen.original;
                    screen.scroll = 0;
                    continue;
                }
                KeyCode::Char('?') => {
                    screen.help = true;
                    screen.scroll = 0;
                    continue;
                }
                KeyCode::Char('n') => {
                    screen.notice = note(&mut term, store, &reply, stop)?;
                    reply = store.reply(reply.id)?;
                    continue;
                }
                KeyCode::Char('e') => {
                    screen.notice = Some(edit(&mut term, store, &reply)?);
                    reply = store.reply(reply.id)?;
                    continue;
                }
                _ => {
                    screen.notice = Some("unknown key: press ? for the keys".to_string());
                    continue;
                }
            };
            review.decide(store, &reply, decision)?;
            notice = Some(format!("reply #{} {}  (u: undo)", reply.id, past(decision)));
            break;
        }
    }
}

/// The screen after the last reply: the tally, and a key to take the last decision back.
/// True when the editor pressed `u`; any other key (or a signal) ends the review.
fn last_screen(
    term: &mut Terminal,
    review: &Review,
    notice: Option<String>,
    stop: &OnceLock<StopSignal>,
) -> anyhow::Result<bool> {
    let line = |text: String, bold: bool| Line { text, bold };
    let lines = vec![
        line("That was the last pending reply.".to_string(), true),
        line(String::new(), false),
        line(review.tally().to_string(), false),
    ];
    let mut screen = Screen {
        notice: Some(match notice {
            Some(notice) => format!("{notice}  ·  u: undo  ·  other keys: done"),
            None => "u: undo the last decision  ·  other keys: done".to_string(),
        }),
        ..Screen::default()
    };
    loop {
        term.draw(&lines, &mut screen)?;
        match next_key(stop)? {
            Input::Resize => continue,
            Input::Stop => return Ok(false),
            Input::Key(key) => return Ok(key.code == KeyCode::Char('u')),
        }
    }
}

/// What the notice line says of an undo.
fn undo_notice(undone: Undone) -> String {
    match undone {
        Undone::Pending { id, decision } => {
            format!(
                "reply #{id} is pending again ({} taken back)",
                past(decision)
            )
        }
        Undone::ChangedMeanwhile { id, status } => {
            format!("reply #{id} was changed by another command meanwhile: left {status}")
        }
    }
}

/// A decision as the notice line says it was made.
fn past(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "approved",
        Decision::ApproveAnonymously => "approved anonymously",
        Decision::Reject => "rejected",
        Decision::Skip => "skipped",
    }
}

/// Moves the view for the paging keys; `true` when `key` was one of them.
fn scrolls(key: &KeyEvent, screen: &mut Screen, page: usize) -> bool {
    let page = page.max(1);
    screen.scroll = match key.code {
        KeyCode::Char(' ') | KeyCode::PageDown => screen.scroll + page,
        KeyCode::Char('b') | KeyCode::PageUp => screen.scroll.saturating_sub(page),
        KeyCode::Down | KeyCode::Char('j') => screen.scroll + 1,
        KeyCode::Up | KeyCode::Char('k') => screen.scroll.saturating_sub(1),
        KeyCode::Home => 0,
        _ => return false,
    };
    true
}

fn reply_lines(place: usize, total: usize, reply: &Reply, original: bool) -> Vec<Line> {
    let plain = |text: String| Line { text, bold: false };
    let bold = |text: String| Line { text, bold: true };
    let issue = reply
        .issue
        .map_or_else(|| "not tied to an issue".to_string(), |i| i.to_string());
    let mut lines = vec![
        bold(format!("Reply {place} of {total} (#{})", reply.id)),
        plain(format!("From:      {}", sender(reply))),
        plain(format!("Shown as:  {}", terminal_line(&reply.shown_name()))),
        plain(format!("Issue:     {issue}")),
        plain(format!("Received:  {}", received(reply))),
        plain(format!("Subject:   {}", terminal_line(&reply.subject))),
    ];
    if let Some(note) = &reply.note {
        lines.push(plain(format!("Note:      {}", terminal_line(note))));
    }
    lines.push(plain(String::new()));
    let body = if original {
        lines.push(bold(
            "\u{2500}\u{2500} The original message \u{2500}\u{2500}".to_string(),
        ));
        match &reply.original {
            Some(text) => terminal_lines(text),
            None => vec![
                "(original not kept: this reply was imported before dispatch kept originals)"
                    .to_string(),
            ],
        }
    } else {
        lines.push(bold(
            "\u{2500}\u{2500} The reader's text \u{2500}\u{2500}".to_string(),
        ));
        terminal_lines(&reply.text)
    };
    lines.extend(body.into_iter().map(plain));
    lines
}

fn help_lines() -> Vec<Line> {
    std::iter::once(Line {
        text: "Keys".to_string(),
        bold: true,
    })
    .chain(HELP.iter().map(|l| Line {
        text: (*l).to_string(),
        bold: false,
    }))
    .collect()
}

/// Asks for the editor's note on the last line and saves it; what to tell the editor.
fn note(
    term: &mut Terminal,
    store: &mut Store,
    reply: &Reply,
    stop: &OnceLock<StopSignal>,
) -> anyhow::Result<Option<String>> {
    let prompt = "Note (Enter saves, empty removes, Esc cancels): ";
    let mut text = reply.note.clone().unwrap_or_default();
    loop {
        term.prompt(prompt, &text)?;
        let key = match next_key(stop)? {
            Input::Stop => return Ok(None),
            Input::Resize => continue,
            Input::Key(key) => key,
        };
        match key.code {
            KeyCode::Enter => break,
            KeyCode::Esc => return Ok(Some("note unchanged".to_string())),
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c)
                if !c.is_control() && !key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                text.push(c);
            }
            _ => {}
        }
    }
    let text = text.trim();
    store.set_reply_note(reply.id, Some(text))?;
    Ok(Some(if text.is_empty() {
        "note removed".to_string()
    } else {
        "note saved".to_string()
    }))
}

/// Opens the reader's text in the editor's editor, with the terminal in its usual mode
/// meanwhile, and saves what comes back; what to tell the editor.
fn edit(term: &mut Terminal, store: &mut Store, reply: &Reply) -> anyhow::Result<String> {
    term.suspend()?;
    let edited = super::replies::edit_in_editor(&reply.text);
    term.resume()?;
    Ok(match edited {
        Ok(text) => {
            if review::save_text(store, reply, &text)? {
                "text saved".to_string()
            } else {
                "text unchanged (the editor saved the same or an empty text)".to_string()
            }
        }
        Err(err) => terminal_line(&format!("{err:#}")),
    })
}

enum Input {
    Key(KeyEvent),
    Resize,
    Stop,
}

/// The next key press, a change of the terminal's size, or a stop asked by a signal (seen
/// within a tenth of a second).
fn next_key(stop: &OnceLock<StopSignal>) -> std::io::Result<Input> {
    loop {
        if stop.get().is_some() {
            return Ok(Input::Stop);
        }
        if !event::poll(Duration::from_millis(100))? {
            continue;
        }
        match event::read()? {
            Event::Key(key) if key.kind != KeyEventKind::Release => return Ok(Input::Key(key)),
            Event::Resize(..) => return Ok(Input::Resize),
            _ => {}
        }
    }
}

/// The terminal in raw mode on the alternate screen, given back as it was when dropped.
struct Terminal {
    out: std::io::Stdout,
}

impl Terminal {
    fn enter() -> std::io::Result<Terminal> {
        terminal::enable_raw_mode()?;
        let mut term = Terminal {
            out: std::io::stdout(),
        };
        execute!(term.out, EnterAlternateScreen, Hide)?;
        Ok(term)
    }

    /// Gives the terminal back for a while (to run the editor's editor).
    fn suspend(&mut self) -> std::io::Result<()> {
        restore()
    }

    fn resume(&mut self) -> std::io::Result<()> {
        terminal::enable_raw_mode()?;
        execute!(self.out, EnterAlternateScreen, Hide)
    }

    /// Draws `lines` from `screen.scroll` (kept within the text) and the last line: the
    /// notice, or the keys. Returns the number of text rows, a page.
    fn draw(&mut self, lines: &[Line], screen: &mut Screen) -> std::io::Result<usize> {
        let (width, height) = screen_size()?;
        let width = usize::from(width);
        let rows = usize::from(height.saturating_sub(1));
        let wrapped: Vec<(bool, String)> = lines
            .iter()
            .flat_map(|line| {
                wrap(std::slice::from_ref(&line.text), width)
                    .into_iter()
                    .map(move |text| (line.bold, text))
            })
            .collect();
        screen.scroll = screen.scroll.min(wrapped.len().saturating_sub(rows));
        queue!(self.out, Hide, Clear(ClearType::All))?;
        for (row, (bold, text)) in wrapped.iter().skip(screen.scroll).take(rows).enumerate() {
            queue!(self.out, MoveTo(0, row as u16))?;
            if *bold {
                queue!(
                    self.out,
                    SetAttribute(Attribute::Bold),
                    Print(text),
                    SetAttribute(Attribute::Reset)
                )?;
            } else {
                queue!(self.out, Print(text))?;
            }
        }
        let more = screen.scroll + rows < wrapped.len();
        let more = if more { "space: more  " } else { "" };
        let last = match &screen.notice {
            Some(notice) => notice.clone(),
            None if more.len() + KEYS.len() <= width => format!("{more}{KEYS}"),
            None => format!("{more}{KEYS_SHORT}"),
        };
        queue!(
            self.out,
            MoveTo(0, height.saturating_sub(1)),
            SetAttribute(Attribute::Reverse),
            Print(fit(&last, width)),
            SetAttribute(Attribute::Reset)
        )?;
        self.out.flush()?;
        Ok(rows)
    }

    /// Shows `prompt` and the text typed so far on the last line, with the cursor after it.
    fn prompt(&mut self, prompt: &str, text: &str) -> std::io::Result<()> {
        let (width, height) = screen_size()?;
        let width = usize::from(width);
        let line = format!("{prompt}{}", terminal_line(text));
        // The end of what was typed stays in sight on a narrow terminal.
        let shown = tail(&line, width.saturating_sub(1));
        let column = shown.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
        queue!(
            self.out,
            MoveTo(0, height.saturating_sub(1)),
            Clear(ClearType::CurrentLine),
            Print(shown),
            MoveTo(column as u16, height.saturating_sub(1)),
            Show
        )?;
        self.out.flush()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// The terminal's columns and rows; 80×24 when it reports no size (a serial line, a pty
/// whose size nobody set), as other terminal programs assume.
fn screen_size() -> std::io::Result<(u16, u16)> {
    let (width, height) = terminal::size()?;
    Ok(if width == 0 || height == 0 {
        (80, 24)
    } else {
        (width, height)
    })
}

/// The terminal as it was: the cursor shown, the main screen back, raw mode off.
fn restore() -> std::io::Result<()> {
    execute!(std::io::stdout(), Show, LeaveAlternateScreen)?;
    terminal::disable_raw_mode()
}

/// A panic prints its message on a usable terminal, not on the alternate screen in raw mode.
fn restore_terminal_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore();
        previous(info);
    }));
}

/// The start of `text` that fits in `width` columns.
fn fit(text: &str, width: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= width
        })
        .collect()
}

/// The end of `text` that fits in `width` columns.
fn tail(text: &str, width: usize) -> String {
    let mut used = 0;
    let mut kept: Vec<char> = text
        .chars()
        .rev()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= width
        })
        .collect();
    kept.reverse();
    kept.into_iter().collect()
}
