//! The `pdpaint` command-line entry point.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let mut args = match cli::Cli::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    // A resumed run keeps every option not given on the command line: record which were.
    if let (Some(cli::Command::Train(t)), Some(m)) =
        (args.command.as_mut(), matches.subcommand_matches("train"))
    {
        t.given = cli::train::given_ids(m);
    }
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(hint) = cli::hints::flag_hint(&e) {
                eprintln!("{hint}");
            }
            if let Some(hint) = window_hint(&e.to_string()) {
                eprintln!("{hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What to install when the studio window could not get a graphics surface (eframe's "Failed to
/// create surface for any enabled backend"): no GPU driver and no software Vulkan.
fn window_hint(error: &str) -> Option<&'static str> {
    error
        .contains("Failed to create surface for any enabled backend")
        .then_some(
            "hint: the studio window needs a graphics driver. Install your GPU's driver, or a \
             software Vulkan driver (on Debian/Ubuntu: sudo apt install mesa-vulkan-drivers \
             libvulkan1). The headless commands (pdpaint inpaint, train, eval, import, export, \
             …) work without one.",
        )
}

#[cfg(test)]
mod tests {
    use super::window_hint;

    #[test]
    fn a_missing_surface_gets_an_install_hint() {
        let e = "backend: could not open the window: Failed to create surface for any enabled \
                 backend: {}";
        assert!(window_hint(e).is_some_and(|h| h.contains("mesa-vulkan-drivers libvulkan1")));
        assert_eq!(window_hint("cannot open image: x.png"), None);
    }
}
