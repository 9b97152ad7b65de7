//! Command-line wording for the library's [`Refusal`]s: the library says what to change
//! without naming an option (the studio has buttons, not flags); the command line names the
//! flag here.

use pdpaint::error::{Error, Refusal};

/// The flag to use about the first refusal in `e`'s chain of causes, if any.
pub fn flag_hint(e: &anyhow::Error) -> Option<&'static str> {
    e.chain()
        .find_map(|c| match c.downcast_ref::<Error>() {
            Some(Error::Refused(r)) => Some(r),
            _ => None,
        })
        .map(refusal_hint)
}

/// The flag that answers a refusal.
pub fn refusal_hint(r: &Refusal) -> &'static str {
    match r {
        Refusal::NoWgpuAdapter => {
            "hint: pass --backend cpu (or --backend auto, which falls back to the CPU)"
        }
        Refusal::RunExists { .. } => {
            "hint: pass --resume to continue that run, or choose another --out folder"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_get_their_flag_and_other_errors_none() {
        let e = anyhow::Error::from(Error::Refused(Refusal::NoWgpuAdapter))
            .context("could not start training");
        assert!(flag_hint(&e).is_some_and(|h| h.contains("--backend cpu")));
        let e = anyhow::Error::from(Error::Refused(Refusal::RunExists {
            checkpoint: "runs/a/checkpoints/prior-10".into(),
        }));
        assert!(flag_hint(&e).is_some_and(|h| h.contains("--resume")));
        assert!(
            !e.to_string().contains("--"),
            "the library's own words name no flag: {e}"
        );
        assert_eq!(flag_hint(&anyhow::anyhow!("plain failure")), None);
    }
}
