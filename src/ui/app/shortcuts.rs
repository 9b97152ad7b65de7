//! Keyboard shortcuts: keys to [`Command`]s, and the list the shortcuts window shows.

use egui::{Key, KeyboardShortcut, Modifiers};

use crate::ui::canvas::Tool;
use crate::ui::command::{Command, SaveTarget};
use crate::ui::theme;

/// What the shortcuts depend on.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Context {
    /// A gesture is in progress on the canvas (tool and view keys wait).
    pub canvas_busy: bool,
    /// The shortcuts window is open (Esc closes it).
    pub shortcuts_shown: bool,
    /// A photo is open.
    pub has_doc: bool,
    /// The selected gallery sample.
    pub selected: Option<usize>,
    /// The training panel is shown (T hides it).
    pub training_shown: bool,
}

/// Consumes this frame's shortcut keys and returns what they ask for (nothing while a text
/// field has the keyboard).
#[must_use]
pub(super) fn read(ctx: &egui::Context, c: &Context) -> Vec<Command> {
    let mut out = Vec::new();
    if ctx.egui_wants_keyboard_input() {
        return out;
    }
    let cmd = Modifiers::COMMAND;
    let shift_cmd = Modifiers::COMMAND | Modifiers::SHIFT;
    let consume =
        |m: Modifiers, k: Key| ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)));
    if consume(shift_cmd, Key::Z) || consume(cmd, Key::Y) {
        out.push(Command::Redo);
    }
    if consume(cmd, Key::Z) {
        out.push(Command::Undo);
    }
    if consume(cmd, Key::O) {
        out.push(Command::OpenPhoto);
    }
    if consume(cmd, Key::S) && c.has_doc {
        out.push(Command::Save(SaveTarget::Image));
    }
    if consume(cmd, Key::Enter) {
        out.push(Command::Generate);
    }
    if consume(Modifiers::NONE, Key::F1)
        || consume(Modifiers::NONE, Key::Questionmark)
        || consume(Modifiers::SHIFT, Key::Slash)
    {
        out.push(Command::ShowShortcuts(!c.shortcuts_shown));
    }
    if c.canvas_busy {
        return out;
    }
    for t in Tool::ALL {
        if consume(Modifiers::NONE, t.key()) {
            out.push(Command::SetTool(t));
        }
    }
    if consume(Modifiers::NONE, Key::OpenBracket) {
        out.push(Command::ScaleBrush(1.0 / theme::BRUSH_STEP));
    }
    if consume(Modifiers::NONE, Key::CloseBracket) {
        out.push(Command::ScaleBrush(theme::BRUSH_STEP));
    }
    if consume(Modifiers::NONE, Key::F) {
        out.push(Command::FitView);
    }
    if consume(Modifiers::NONE, Key::Num1) {
        out.push(Command::ActualSize);
    }
    if consume(Modifiers::NONE, Key::G) {
        out.push(Command::Generate);
    }
    if consume(Modifiers::NONE, Key::M) {
        out.push(Command::ToggleMaskTint);
    }
    if consume(Modifiers::NONE, Key::P) {
        out.push(Command::TogglePreview);
    }
    if consume(Modifiers::NONE, Key::T) {
        out.push(Command::ShowTraining(!c.training_shown));
    }
    if consume(Modifiers::NONE, Key::Enter)
        && let Some(i) = c.selected
    {
        out.push(Command::Apply(i));
    }
    if consume(Modifiers::NONE, Key::Escape) {
        out.push(if c.shortcuts_shown {
            Command::ShowShortcuts(false)
        } else {
            Command::Cancel
        });
    }
    out
}

/// The shortcuts window's rows.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl+O", "Open a photo"),
    ("Ctrl+S", "Save the image"),
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "Redo"),
    ("B, E, R, L", "Brush, eraser, rectangle, lasso"),
    ("K, X", "Keep brush (pin and re-roll), mix brush"),
    ("[  ]", "Smaller, larger brush"),
    ("Right drag", "Erase with any tool"),
    ("Wheel", "Zoom about the cursor"),
    ("Space+drag, middle drag", "Pan"),
    ("F, 1", "Fit to window, actual size"),
    ("G, Ctrl+Enter", "Generate"),
    ("Esc", "Cancel the generation"),
    ("Enter", "Apply the selected sample"),
    ("Shift+click", "Compare a sample with the selected one"),
    ("P", "Preview the selected sample on the canvas"),
    (
        "Hold \\",
        "Show the original photo under the previewed sample",
    ),
    ("M", "Show or hide the mask tint"),
    ("T", "Show or hide the training panel"),
    ("F1, ?", "This list"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one frame with `key` pressed (and `modifiers` held) and returns the commands.
    fn press(key: Key, modifiers: Modifiers, c: Context) -> Vec<Command> {
        let ctx = egui::Context::default();
        let input = egui::RawInput {
            events: vec![egui::Event::Key {
                key,
                physical_key: None,
                pressed: true,
                repeat: false,
                modifiers,
            }],
            ..egui::RawInput::default()
        };
        let mut out = Vec::new();
        let mut full = ctx.run_ui(input, |ui| out = read(ui.ctx(), &c));
        // The fonts' texture was never uploaded: nothing renders in this test.
        full.textures_delta.clear();
        out
    }

    #[test]
    fn keys_become_commands_and_wait_for_a_gesture() {
        let idle = Context::default();
        assert_eq!(
            press(Key::E, Modifiers::NONE, idle),
            vec![Command::SetTool(Tool::Eraser)]
        );
        assert_eq!(press(Key::Z, Modifiers::COMMAND, idle), vec![Command::Undo]);
        assert_eq!(
            press(Key::Z, Modifiers::COMMAND | Modifiers::SHIFT, idle),
            vec![Command::Redo]
        );
        // Ctrl+S saves only with a photo open.
        assert!(press(Key::S, Modifiers::COMMAND, idle).is_empty());
        let with_doc = Context {
            has_doc: true,
            selected: Some(2),
            ..idle
        };
        assert_eq!(
            press(Key::S, Modifiers::COMMAND, with_doc),
            vec![Command::Save(SaveTarget::Image)]
        );
        assert_eq!(
            press(Key::Enter, Modifiers::NONE, with_doc),
            vec![Command::Apply(2)]
        );
        // Esc closes the shortcuts window first, else cancels the generation.
        let shown = Context {
            shortcuts_shown: true,
            ..idle
        };
        assert_eq!(
            press(Key::Escape, Modifiers::NONE, shown),
            vec![Command::ShowShortcuts(false)]
        );
        assert_eq!(
            press(Key::Escape, Modifiers::NONE, idle),
            vec![Command::Cancel]
        );
        // Tool keys wait while a stroke is drawn.
        let busy = Context {
            canvas_busy: true,
            ..idle
        };
        assert!(press(Key::E, Modifiers::NONE, busy).is_empty());
    }
}
