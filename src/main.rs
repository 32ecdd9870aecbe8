fn main() {
    std::process::exit(bentokit::cli::main());
}
