// Starting and stopping the processes under test: the plannr-mcp binary, its
// sandbox API (the fake Plannr) and the HTTP server.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { withTimeout } from './harness.js';

const children = new Set();

// track remembers a child so that stopAll can end it.
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

// stopAll ends every child this suite started and still running.
export async function stopAll() {
  await Promise.all([...children].map((child) => stopProcess(child)));
}

// stopProcess sends SIGTERM, then SIGKILL after two seconds, and resolves
// with the exit code (null when killed by a signal).
export function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

// exited resolves with {code, signal} when the child exits.
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

// cleanEnv is the environment for the processes under test: PATH and HOME
// from this process, nothing that configures plannr-mcp, plus extra.
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PLANNR_')) env[key] = value;
  }
  return { ...env, ...extra };
}

// buildBinary builds plannr-mcp from the repository into a temporary folder.
export async function buildBinary(repoRoot) {
  const dir = mkdtempSync(path.join(tmpdir(), 'plannr-mcp-interop-'));
  const bin = path.join(dir, process.platform === 'win32' ? 'plannr-mcp.exe' : 'plannr-mcp');
  await new Promise((resolve, reject) => {
    execFile('go', ['build', '-o', bin, '.'], { cwd: repoRoot }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`go build failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// collect keeps everything a stream writes, as text.
function collect(stream) {
  const out = { text: '' };
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    out.text += chunk;
  });
  return out;
}

// startSandboxAPI runs "plannr-mcp sandbox-api" and returns a handle on its
// inspection endpoints.
export async function startSandboxAPI(bin, token) {
  const child = track(
    spawn(bin, ['sandbox-api', '--addr', '127.0.0.1:0', '--token', token], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const stderr = collect(child.stderr);
  const lines = createInterface({ input: child.stdout });
  const firstLine = new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`sandbox-api exited with ${code} before printing its URL:\n${stderr.text}`)));
  });
  const url = (await withTimeout(firstLine, 10_000, 'sandbox-api printed no URL within 10 s')).trim();
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`sandbox-api printed ${JSON.stringify(url)}, not its URL`);
  return new SandboxAPI(url, child, stderr);
}

// SandboxAPI is a running fake Plannr.
export class SandboxAPI {
  constructor(url, child, stderr) {
    this.url = url;
    this.child = child;
    this.stderr = stderr;
  }

  // requests returns every Plannr API request received since the last reset:
  // [{method, path, status, state}], state being in-flight, completed,
  // aborted (the caller went away) or dropped (a fault cut the connection).
  async requests() {
    const res = await fetch(`${this.url}/_sandbox/requests`);
    if (res.status !== 200) throw new Error(`GET /_sandbox/requests: ${res.status}`);
    return (await res.json()).requests;
  }

  // fault queues a fault: {method, path, status, body, content_type,
  // headers, delay_ms, times, reset, hang, truncate, size}.
  async fault(fault) {
    const res = await fetch(`${this.url}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(fault),
    });
    if (res.status !== 204) throw new Error(`POST /_sandbox/faults: ${res.status} ${await res.text()}`);
  }

  // reset restores the sample data and clears faults and the request log.
  async reset() {
    const res = await fetch(`${this.url}/_sandbox/reset`, { method: 'POST' });
    if (res.status !== 204) throw new Error(`POST /_sandbox/reset: ${res.status}`);
  }

  stop() {
    return stopProcess(this.child);
  }
}

// startHTTPServer runs "plannr-mcp serve --transport http" and waits for the
// line on stderr that announces its URL.
export async function startHTTPServer(bin, args, env) {
  const child = track(
    spawn(bin, ['serve', '--transport', 'http', '--addr', '127.0.0.1:0', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  const announced = new Promise((resolve, reject) => {
    const onData = () => {
      const m = /url="?(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr.text);
      if (m) {
        child.stderr.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the HTTP server exited with ${code} before announcing its URL:\n${stderr.text}`)));
  });
  const url = await withTimeout(announced, 10_000, `the HTTP server announced no url=... on stderr within 10 s:\n${stderr.text}`);
  return {
    url,
    child,
    stderr,
    stdout,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => stopProcess(child),
  };
}

// spawnStdio runs the binary as an MCP client would, with pipes on stdin,
// stdout and stderr.
export function spawnStdio(bin, env, args = []) {
  return track(spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
}

// runProcess runs a command to completion and returns its exit code and output.
export function runProcess(command, args, { env, cwd, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} did not finish within ${timeoutMs} ms\nstderr:\n${stderr.text}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.text, stderr: stderr.text });
    });
  });
}
