#!/usr/bin/env python3
"""Runs one of Luge's WASI conformance programs under Wasmtime (its Python
package, `pip install wasmtime`), the way the tests run it under `luge run`:
DIR preopened as GUEST, the program given GUEST as its argument. Exits with
the program's status; its output goes to stdout.

    run-under-wasmtime.py PROGRAM.wasm DIR GUEST
    run-under-wasmtime.py --check      (exit 0 if wasmtime can be imported)
"""
import sys


def main():
    try:
        import wasmtime
    except ImportError:
        print("the wasmtime Python package is not installed", file=sys.stderr)
        return 3
    if sys.argv[1:] == ["--check"]:
        return 0
    program, host_dir, guest_dir = sys.argv[1:4]
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, program)
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    config.argv = [program, guest_dir]
    config.inherit_stdout()
    config.inherit_stderr()
    config.preopen_dir(host_dir, guest_dir)
    store.set_wasi(config)
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit:
        return exit.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
