//! Progress indicators on stderr. On a terminal they redraw in place; when stderr is not a
//! terminal (a batch job, `2> log`) a long task prints its state as one plain line every
//! [`LOG_PERIOD`] and its last state when it ends, and a task shorter than that prints nothing.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// How often a progress bar writes a line when stderr is not a terminal.
pub const LOG_PERIOD: Duration = Duration::from_secs(30);

/// Where bars draw: stderr itself on a terminal, plain throttled lines otherwise.
pub fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::term_like(Box::new(LogLines::new(LOG_PERIOD)))
    }
}

/// A "terminal" that keeps the bar's current text and writes it to stderr as a line at most
/// once per `period` (see the module docs).
#[derive(Debug)]
struct LogLines {
    period: Duration,
    state: Mutex<LogState>,
}

#[derive(Debug)]
struct LogState {
    started: Instant,
    last: Option<Instant>,
    line: String,
    printed: String,
}

impl LogLines {
    fn new(period: Duration) -> Self {
        let state = LogState { started: Instant::now(), last: None, line: String::new(), printed: String::new() };
        Self { period, state: Mutex::new(state) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut LogState) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

impl LogState {
    fn print(&mut self) {
        let text = self.line.trim();
        if !text.is_empty() && text != self.printed {
            eprintln!("{text}");
            self.printed = text.to_string();
        }
        self.last = Some(Instant::now());
    }
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.with(|state| state.line.push_str(s));
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.with(|state| state.line.clear());
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let period = self.period;
        self.with(|state| {
            if state.last.unwrap_or(state.started).elapsed() >= period {
                state.print();
            }
        });
        Ok(())
    }
}

impl Drop for LogLines {
    fn drop(&mut self) {
        // The last state, when the task ran long enough to have printed before.
        self.with(|state| {
            if state.last.is_some() {
                state.print();
            }
        });
    }
}

/// A spinner with a message, ticking in the background.
pub fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A bar counting `total` `unit`s on stderr, with an ETA.
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), draw_target());
    if let Ok(style) = ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{eta}})")) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_print_at_most_once_per_period_and_the_last_state_on_drop() {
        let log = LogLines::new(Duration::from_millis(50));
        let draw = |text: &str| {
            log.clear_line().unwrap();
            log.write_str(text).unwrap();
            log.flush().unwrap();
        };
        draw("1/10");
        assert_eq!(log.with(|s| (s.last.is_some(), s.printed.clone())), (false, String::new()));
        std::thread::sleep(Duration::from_millis(60));
        draw("2/10");
        assert_eq!(log.with(|s| s.printed.clone()), "2/10");
        draw("3/10");
        assert_eq!(log.with(|s| s.printed.clone()), "2/10", "within the period: nothing printed");
        log.with(LogState::print);
        assert_eq!(log.with(|s| s.printed.clone()), "3/10");
    }
}
