fn main() {
    println!("cargo:rerun-if-changed=src/sys/unwind.c");
    cc::Build::new()
        .file("src/sys/unwind.c")
        .warnings(true)
        .compile("luge_unwind");
}
