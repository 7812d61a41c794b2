// Builds dist/dashboard.html: src/main.ts and what it imports, bundled and
// minified by esbuild, and src/styles.css, minified, both inlined into
// src/index.html. The output is one self-contained file that the Go server
// embeds; the same sources and toolchain always give the same bytes.
//
// The build refuses a bundle that holds code from anywhere but src/ (the
// ext-apps imports are types only) or any way of parsing markup or reaching
// the network, so that the page's promises are checked on every build.

import { build, transform } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = (name) => path.join(here, 'src', name);
const out = path.join(here, 'dist', 'dashboard.html');

// What the page must never do, as it would appear in the minified bundle.
const FORBIDDEN = [
  'innerHTML',
  'outerHTML',
  'insertAdjacentHTML',
  'createContextualFragment',
  'DOMParser',
  'document.write',
  'eval(',
  'Function(',
  'fetch(',
  'XMLHttpRequest',
  'WebSocket',
  'EventSource',
  'sendBeacon',
  'import(',
  'window.open',
];

const bundle = await build({
  absWorkingDir: here,
  entryPoints: ['src/main.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2022',
  charset: 'utf8',
  legalComments: 'none',
  metafile: true,
  write: false,
});
const foreign = Object.keys(bundle.metafile.inputs).filter((input) => !input.startsWith('src/'));
if (foreign.length > 0) throw new Error(`the bundle holds code from outside src/: ${foreign.join(', ')}`);
const js = bundle.outputFiles[0].text.trim();
for (const word of FORBIDDEN) {
  if (js.includes(word)) throw new Error(`the bundle uses ${word}`);
}

const css = (await transform(readFileSync(src('styles.css'), 'utf8'), { loader: 'css', minify: true })).code.trim();

// Neither may end the element it is inlined into.
if (/<\/script/i.test(js) || /<\/style/i.test(css)) throw new Error('the script or style closes its own element');

const template = readFileSync(src('index.html'), 'utf8');
if (!template.includes('/*STYLE*/') || !template.includes('/*SCRIPT*/')) throw new Error('src/index.html lacks a placeholder');
// Function replacers: the inlined code may hold "$&" and the like.
const html = template.replace('/*STYLE*/', () => css).replace('/*SCRIPT*/', () => js);

mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, html);
console.log(`dist/dashboard.html: ${Buffer.byteLength(html)} bytes (script ${Buffer.byteLength(js)}, style ${Buffer.byteLength(css)})`);
