//! `accountd`: see `accountd --help`.

fn main() -> std::process::ExitCode {
    match accountd::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("accountd: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
