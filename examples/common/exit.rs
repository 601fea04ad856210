//! How an example ends: an error printed as users read it (`Display`, with its causes),
//! not as `main` returning `Err` prints it (`Debug`).

use std::fmt::Display;
use std::process::ExitCode;

/// `SUCCESS`, or the error on standard error and `FAILURE`.
pub fn exit<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
