#!/usr/bin/env node
// MCP authorization end to end: the official TypeScript SDK client
// (@modelcontextprotocol/sdk, its OAuthClientProvider flow) connects by URL
// to the built plannr-mcp serving HTTP with --auth oauth on its sandbox,
// and a real headless Chromium (Debian's, driven by playwright-core) clicks
// through plannr-mcp's consent page and the sandbox Plannr's sign-in page.
// The client discovers the authorization server from the 401, registers
// by dynamic client registration for one person and by a Client ID
// Metadata Document for the other, uses PKCE, finishes the flow and calls
// list_oauth_connections: each person sees their own connections. Then an
// MCP access token expires and the SDK refreshes it, a person is revoked
// with plannr-mcp users revoke and refused, and the consent page refuses
// to be framed.
//
// The metadata document is served over https on loopback with a
// certificate made for the run; the server trusts it through SSL_CERT_FILE
// and fetches it from loopback only because the run sets
// PLANNR_MCP_INSECURE_METADATA_URLS, which is for tests only.
//
// Usage: node interop/oauth/run.js [--only TEXT]
// PLANNR_MCP_BIN, when set, is the binary to test instead of building one.
// Without /usr/bin/chromium the checks are skipped with exit status 0,
// unless CI is set. The last line is "N passed, M failed".

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHTTPSServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Suite, sleep } from '../lib/harness.js';
import { CHROMIUM, CHROMIUM_ARGS, missingBrowser } from '../lib/browser.js';
import { resultText } from '../lib/mcp.js';
import { buildBinary, cleanEnv, runProcess, startHTTPServer, stopAll } from '../lib/processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

const OWNER = 'adviser@harbourwealth.example';
const SECOND = 'paraplanner@harbourwealth.example';
const PASSWORD = 'sandbox';
const STORE_KEY = 'interop-oauth-store-key-5a4b3c2d1e0f9a8b7c6d5e4f';
const ACCESS_TTL_S = 4;

// listen starts a server on a free loopback port and returns its origin.
function listen(server, scheme) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`${scheme}://127.0.0.1:${server.address().port}`)));
}

// Callbacks is the client's redirect URI: a loopback page that hands each
// authorization code to whoever waits for it.
class Callbacks {
  constructor() {
    this.waiting = [];
    this.server = createServer((req, res) => {
      const u = new URL(req.url, 'http://127.0.0.1');
      const next = this.waiting.shift();
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>done</title><p id="done">You can close this page.</p>');
      if (next) next(u.searchParams);
    });
  }

  async start() {
    this.origin = await listen(this.server, 'http');
    return `${this.origin}/callback`;
  }

  next() {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

// Provider is an OAuthClientProvider kept in memory, whose
// redirectToAuthorization lets the browser person sign in.
class Provider {
  constructor({ redirectUrl, name, metadataUrl, signIn }) {
    this._redirectUrl = redirectUrl;
    this.name = name;
    if (metadataUrl) this.clientMetadataUrl = metadataUrl;
    this.signIn = signIn;
    this.saved = {};
    this.redirects = 0;
    this.tokenSaves = 0;
  }

  get redirectUrl() {
    return this._redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.saved.client;
  }

  saveClientInformation(info) {
    this.saved.client = info;
  }

  tokens() {
    return this.saved.tokens;
  }

  saveTokens(tokens) {
    this.saved.tokens = tokens;
    this.tokenSaves++;
  }

  saveCodeVerifier(v) {
    this.saved.verifier = v;
  }

  codeVerifier() {
    return this.saved.verifier;
  }

  async redirectToAuthorization(url) {
    this.redirects++;
    this.authorizationUrl = url;
    if (this.signIn) this.pendingCode = this.signIn(url);
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'tokens') delete this.saved.tokens;
    if (scope === 'all' || scope === 'client') delete this.saved.client;
  }
}

// connect connects the SDK client through the OAuth flow: the first
// attempt gets 401 and sends the person to sign in; the code finishes the
// flow and the second attempt connects.
async function connect(url, provider) {
  const attempt = async () => {
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
    const client = new Client({ name: 'plannr-mcp-interop-oauth', version: '1.0.0' });
    await client.connect(transport);
    return { client, transport };
  };
  try {
    return await attempt();
  } catch (err) {
    if (!(err instanceof UnauthorizedError) || !provider.pendingCode) throw err;
  }
  const code = await provider.pendingCode;
  provider.pendingCode = undefined;
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  await transport.finishAuth(code);
  return attempt();
}

async function main() {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const missing = missingBrowser();
  if (missing !== undefined) return missing;
  const suite = new Suite({ only: values.only });
  const work = mkdtempSync(path.join(tmpdir(), 'plannr-mcp-oauth-'));
  let built;
  let browser;
  const servers = [];
  try {
    let bin = process.env.PLANNR_MCP_BIN;
    if (!bin) {
      built = await buildBinary(repoRoot);
      bin = built.bin;
    }
    // The client's metadata document, over https with a certificate made now.
    const key = path.join(work, 'key.pem');
    const cert = path.join(work, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const callbacks = new Callbacks();
    const redirectUrl = await callbacks.start();
    servers.push(callbacks.server);
    let metadataUrl;
    let metadataFetches = 0;
    const docs = createHTTPSServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      metadataFetches++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ client_id: metadataUrl, client_name: 'Interop metadata client', redirect_uris: [redirectUrl], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }));
    });
    metadataUrl = `${await listen(docs, 'https')}/oauth/client.json`;
    servers.push(docs);

    const store = path.join(work, 'store.db');
    const env = cleanEnv({
      PLANNR_MCP_STORE: store,
      PLANNR_MCP_STORE_KEY: STORE_KEY,
      PLANNR_MCP_INSECURE_METADATA_URLS: 'true',
      SSL_CERT_FILE: cert,
      HOME: work,
      XDG_CONFIG_HOME: work,
    });
    const server = await startHTTPServer(bin, ['--sandbox', '--auth', 'oauth', '--oauth-access-ttl', `${ACCESS_TTL_S}s`], env);
    const origin = new URL(server.url).origin;

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    // signInAs lets a person sign in, in a browser context of their own:
    // Allow on plannr-mcp's consent page, then the sandbox Plannr's page.
    const consentPages = [];
    const accountPages = [];
    const signInAs = (email) => async (url) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const code = callbacks.next();
      await page.goto(url.toString());
      await page.waitForSelector('#allow');
      consentPages.push(await page.content());
      await page.click('#allow');
      await page.waitForSelector('input[name=email]');
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', PASSWORD);
      await page.click('button[value=approve]');
      // A person with several accounts chooses one; the page proposes
      // Plannr's preferred account.
      await page.waitForSelector('#done, #continue');
      if (await page.$('#continue')) {
        accountPages.push(await page.content());
        await page.click('#continue');
      }
      const params = await code;
      await page.waitForSelector('#done');
      await context.close();
      if (params.get('error')) throw new Error(`the authorization ended with ${params.get('error')}: ${params.get('error_description')}`);
      assert.equal(params.get('iss'), origin, 'the authorization response names the issuer (RFC 9207)');
      return params.get('code');
    };

    suite.group('MCP authorization with the TypeScript SDK and a real browser');
    const owner = new Provider({ redirectUrl, name: 'Interop DCR client', signIn: signInAs(OWNER) });
    const ownerConn = await suite.check('discovery from the 401, registration by DCR, PKCE, consent and Plannr sign-in in Chromium', async () => {
      const res = await fetch(server.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{}' });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
      const conn = await connect(server.url, owner);
      assert.equal(owner.redirects, 1, 'the person was sent to sign in once');
      assert.match(owner.saved.client.client_id, /^pmcp_client_/, 'registered by dynamic client registration');
      assert.match(consentPages.at(-1), /Interop DCR client/);
      assert.equal(accountPages.length, 1, 'the person, who has two accounts, chose one');
      assert.match(accountPages[0], /Harbour Wealth Clients/);
      return conn;
    }, { timeoutMs: 60_000, setup: true });

    await suite.check('the first person lists their own connections', async () => {
      const result = await ownerConn.client.callTool({ name: 'list_oauth_connections', arguments: {} });
      const text = resultText(result);
      assert.equal(result.isError ?? false, false, text);
      assert.match(text, /Transact platform/);
      assert.doesNotMatch(text, /Paraplanning/);
      return `${result.structuredContent.count} connections`;
    }, { setup: true });

    const second = new Provider({ redirectUrl, name: 'ignored: the document names it', metadataUrl, signIn: signInAs(SECOND) });
    const secondConn = await suite.check('registration by Client ID Metadata Document (https), the second person signs in', async () => {
      const conn = await connect(server.url, second);
      assert.equal(second.saved.client.client_id, metadataUrl, 'the client_id is the metadata document URL');
      assert.ok(metadataFetches >= 1, 'the server fetched the document');
      assert.match(consentPages.at(-1), /Interop metadata client/);
      assert.match(consentPages.at(-1), /identified by a document published at 127\.0\.0\.1/);
      return conn;
    }, { timeoutMs: 60_000, setup: true });

    await suite.check('the second person sees their own connections, not the first person\'s', async () => {
      const result = await secondConn.client.callTool({ name: 'list_oauth_connections', arguments: {} });
      const text = resultText(result);
      assert.equal(result.isError ?? false, false, text);
      assert.match(text, /Paraplanning - Fundment/);
      assert.doesNotMatch(text, /Transact platform/);
      return `${result.structuredContent.count} connections`;
    });

    await suite.check('an expired MCP access token is refreshed by the SDK and the call goes through', async () => {
      const before = second.saved.tokens.access_token;
      const saves = second.tokenSaves;
      await sleep((ACCESS_TTL_S + 1) * 1000);
      const result = await secondConn.client.callTool({ name: 'list_oauth_connections', arguments: {} });
      assert.equal(result.isError ?? false, false, resultText(result));
      assert.notEqual(second.saved.tokens.access_token, before, 'a new access token');
      assert.ok(second.tokenSaves > saves, 'the SDK saved refreshed tokens');
      assert.equal(second.redirects, 1, 'without signing in again');
    }, { timeoutMs: 30_000 });

    await suite.check('a person revoked with plannr-mcp users revoke is refused', async () => {
      const revoked = await runProcess(bin, ['users', 'revoke', OWNER], { env });
      assert.equal(revoked.code, 0, revoked.stderr);
      const redirectsBefore = owner.redirects;
      owner.signIn = undefined; // the person does not sign in again
      await assert.rejects(ownerConn.client.callTool({ name: 'list_oauth_connections', arguments: {} }), (err) => {
        assert.match(String(err), /Unauthorized|401|invalid_grant|sign/i);
        return true;
      });
      assert.ok(owner.redirects > redirectsBefore, 'the client was sent to authorize again');
      const result = await secondConn.client.callTool({ name: 'list_oauth_connections', arguments: {} });
      assert.equal(result.isError ?? false, false, 'the other person is not affected');
    }, { timeoutMs: 30_000 });

    await suite.check('the consent page refuses to be shown in a frame', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${callbacks.origin}/framing-page`);
      await page.setContent(`<iframe id="f" src="${owner.authorizationUrl}" width="600" height="400"></iframe>`);
      await sleep(1000);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      const content = frame ? await frame.content().catch(() => '') : '';
      await context.close();
      assert.doesNotMatch(content, /id="allow"/, 'the consent form was shown in a frame');
    });

    await suite.check('no token, code or key in the server\'s log', async () => {
      const secrets = [STORE_KEY, owner.saved.verifier, second.saved.verifier, second.saved.tokens?.access_token, second.saved.tokens?.refresh_token].filter(Boolean);
      for (const s of secrets) assert.ok(!server.stderr.text.includes(s), 'a secret is in the log');
    });
    await ownerConn.client.close().catch(() => {});
    await secondConn.client.close().catch(() => {});
  } catch (err) {
    suite.fail('setup', err);
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const s of servers) s.close();
    await stopAll();
    built?.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(suite.summaryLine());
  return suite.failed === 0 ? 0 : 1;
}

process.exitCode = await main();
