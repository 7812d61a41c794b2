// A small check runner. Each check is a named async function that throws to
// fail; it may return a short detail to print after its name. Checks run one
// after another, each under a time limit, and the run ends with the line
// "N passed, M failed".

const DEFAULT_TIMEOUT_MS = 20_000;

export class Suite {
  constructor({ only } = {}) {
    this.only = only;
    this.passed = 0;
    this.failed = 0;
  }

  // group prints a heading for the checks that follow.
  group(title) {
    console.log(`\n== ${title}`);
  }

  // note prints information that is not a check and counts for nothing.
  note(message) {
    console.log(`   note: ${message}`);
  }

  // selected tells whether a check of this name runs under --only.
  selected(name) {
    return !this.only || name.includes(this.only);
  }

  // check runs fn and records whether it passed. It returns fn's value, or
  // undefined when fn failed or was not selected. A check that others
  // depend on (setup: true) runs even when --only does not select it.
  async check(name, fn, { timeoutMs = DEFAULT_TIMEOUT_MS, setup = false } = {}) {
    if (!setup && !this.selected(name)) return undefined;
    const started = Date.now();
    try {
      const value = await withTimeout(Promise.resolve().then(fn), timeoutMs, `timed out after ${timeoutMs} ms`);
      this.passed++;
      const detail = typeof value === 'string' && value ? ` (${value})` : '';
      console.log(`ok   ${name}${detail} [${Date.now() - started} ms]`);
      return value;
    } catch (err) {
      this.failed++;
      console.log(`FAIL ${name} [${Date.now() - started} ms]`);
      console.log(indent(describe(err)));
      return undefined;
    }
  }

  // fail records a failure that is not tied to a check function, such as a
  // process that would not start.
  fail(name, err) {
    this.failed++;
    console.log(`FAIL ${name}`);
    console.log(indent(describe(err)));
  }

  summaryLine() {
    return `${this.passed} passed, ${this.failed} failed`;
  }
}

export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// waitFor polls until fn returns a truthy value and returns it.
export async function waitFor(fn, { timeoutMs = 5_000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(err) {
  if (err instanceof Error) {
    const stack = (err.stack || '').split('\n');
    // Keep the message and the first frames inside this suite.
    const frames = stack
      .filter((line) => /^\s+at /.test(line) && !line.includes('node_modules') && !line.includes('node:'))
      .slice(0, 3);
    return [truncate(String(err.message ?? err)), ...frames.map((f) => f.trim())].join('\n');
  }
  return truncate(String(err));
}

// truncate keeps a failure readable when a message quotes a whole result.
function truncate(text, max = 1_000) {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `     | ${line}`)
    .join('\n');
}
