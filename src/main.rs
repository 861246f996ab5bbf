//! The `mandate` binary; see `mandate --help`.

fn main() -> std::process::ExitCode {
    mandate::cli::main()
}
