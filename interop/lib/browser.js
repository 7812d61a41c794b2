// Debian's Chromium, as the browser suites (apps/, oauth/) launch it
// through playwright-core.

import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

// CHROMIUM_ARGS run it headless, quiet and without network of its own.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// inCI reports whether the CI variable is set to something true.
export function inCI() {
  const v = (process.env.CI ?? '').toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

// missingBrowser says so when Chromium is not installed and returns the
// exit status the suite should end with: a failure in CI, a skip
// elsewhere. It returns undefined when the browser is there.
export function missingBrowser() {
  if (existsSync(CHROMIUM)) return undefined;
  if (inCI()) {
    console.log(`FAIL ${CHROMIUM} is missing; install Debian's chromium (apt-get install chromium)`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  console.log(`skipped: ${CHROMIUM} is missing (apt-get install chromium to run these checks; with CI set this is a failure)`);
  return 0;
}
