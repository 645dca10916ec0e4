// Runs a WASI preview1 program under Node.js, for scripts/polybench:
//
//   node scripts/polybench-node.mjs PROGRAM.wasm [ARGS...]
//
// The program gets ARGS (after its own name), no environment and no
// directories; its exit code becomes the process's, and a trap exits with
// 134 after printing `trap: <message>`.
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { argv, exit } from 'node:process';
import { WASI } from 'node:wasi';

const [program, ...args] = argv.slice(2);
if (!program) {
  console.error('usage: node polybench-node.mjs PROGRAM.wasm [ARGS...]');
  exit(2);
}
// The program writes through fresh descriptors for stdout and stderr rather
// than Node's own fds 1 and 2, which Node may make non-blocking: a write to
// a full pipe then fails with EAGAIN and the output loses bytes.
const wasi = new WASI({
  version: 'preview1',
  args: [program, ...args],
  env: {},
  stdout: openSync('/dev/stdout', 'a'),
  stderr: openSync('/dev/stderr', 'a'),
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
try {
  exit(wasi.start(instance));
} catch (error) {
  // A trap: one line, as `luge run` reports it, rather than a stack trace.
  console.error(`trap: ${error.message}`);
  exit(134);
}
