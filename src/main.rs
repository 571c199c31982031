//! The `probetop` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    probetop::app::main()
}
