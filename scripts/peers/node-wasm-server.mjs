// The Node.js peer of docs/workloads.md (experiment 5): serves the example
// functions' .wasm files the way the 2019 Node.js prototype did, one fresh
// WebAssembly instance per request, with node:wasi and Luge's CGI mapping
// (query parts as argv, body as stdin, stdout as the response body).
//
//   node scripts/peers/node-wasm-server.mjs [PORT] [EXAMPLES_DIR]
//
// Defaults: port 8083, examples/ beside this script's repository. Listens on
// 127.0.0.1 only. Modules are compiled once at start; instantiation, WASI
// set-up and the run happen per request. node:wasi takes file descriptors
// for stdio, so each request's stdin and stdout are small files in a
// private temporary directory (on /dev/shm when present).
import { createServer } from "node:http";
import { WASI } from "node:wasi";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.argv[2] ?? 8083);
const examples = process.argv[3] ?? path.join(here, "..", "..", "examples");
const tmpRoot = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
const scratch = fs.mkdtempSync(path.join(tmpRoot, "luge-node-peer-"));
const modules = new Map();
for (const name of ["hello", "hash", "prime", "net", "sleep"]) {
  const file = path.join(examples, name, `${name}.wasm`);
  modules.set(name, new WebAssembly.Module(fs.readFileSync(file)));
}

let counter = 0;

// Runs module `name` with `args` and `body` as stdin; returns [status, output].
async function run(name, args, body) {
  const id = `${process.pid}-${counter++}`;
  const inPath = path.join(scratch, `${id}.in`);
  const outPath = path.join(scratch, `${id}.out`);
  let stdin = -1;
  let stdout = -1;
  try {
    fs.writeFileSync(inPath, body);
    stdin = fs.openSync(inPath, "r");
    stdout = fs.openSync(outPath, "w+");
    const wasi = new WASI({
      version: "preview1",
      args: [name, ...args],
      env: { REQUEST_METHOD: "POST", PATH_INFO: `/${name}` },
      stdin,
      stdout,
      stderr: 2,
      returnOnExit: true,
    });
    const instance = await WebAssembly.instantiate(modules.get(name), wasi.getImportObject());
    const code = wasi.start(instance);
    return [code === 0 ? 200 : 500, fs.readFileSync(outPath)];
  } catch (e) {
    return [500, Buffer.from(`trap: ${e.message}\n`)];
  } finally {
    if (stdin >= 0) fs.closeSync(stdin);
    if (stdout >= 0) fs.closeSync(stdout);
    fs.rmSync(inPath, { force: true });
    fs.rmSync(outPath, { force: true });
  }
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const url = new URL(req.url, "http://localhost");
    const name = url.pathname.slice(1);
    let status = 404;
    let body = Buffer.from("no such function\n");
    if (modules.has(name)) {
      const args = url.search
        .slice(1)
        .split("&")
        .filter((a) => a.length > 0)
        .map((a) => decodeURIComponent(a.replace(/\+/g, " ")));
      [status, body] = await run(name, args, Buffer.concat(chunks));
    }
    res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => {
  console.error(`node peer: http://127.0.0.1:${port}/NAME (instance per request)`);
});
const stop = (code) => {
  fs.rmSync(scratch, { recursive: true, force: true });
  process.exit(code);
};
// A crash should say why in the log, not vanish.
process.on("uncaughtException", (e) => {
  console.error(`node peer: uncaught exception: ${e.stack ?? e}`);
  stop(1);
});
process.on("unhandledRejection", (e) => {
  console.error(`node peer: unhandled rejection: ${e?.stack ?? e}`);
  stop(1);
});
process.on("exit", (code) => console.error(`node peer: exit ${code}`));
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
