'use strict';
// The vendored pusher-js (served at /assets/pusher.min.js) is the pinned npm
// package's web build, unmodified, with its license header.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

// The demo pages live in the hub's crate, which embeds them.
const VENDOR = path.join(__dirname, '..', '..', 'crates', 'duplex-hub', 'demo', 'vendor');
const vendored = fs.readFileSync(path.join(VENDOR, 'pusher.min.js'), 'utf8');
const pinned = require('../package.json').devDependencies['pusher-js'];

test('vendor: pusher.min.js is the pinned pusher-js build, unmodified', () => {
  const pkg = require('pusher-js/package.json');
  assert.equal(pkg.version, pinned);
  const original = fs.readFileSync(require.resolve('pusher-js/dist/web/pusher.min.js'), 'utf8');
  assert.ok(vendored.endsWith(original), 'the original file follows the header comment, byte for byte');
  const header = vendored.slice(0, vendored.length - original.length);
  assert.match(header, new RegExp(`pusher-js@${pinned.replace(/\./g, '\\.')}`));
  assert.match(header, /Released under the MIT licence/);
  assert.match(original, /^\/\*! For license information please see pusher\.min\.js\.LICENSE\.txt \*\//);
  const notice = fs.readFileSync(path.join(VENDOR, 'pusher.min.js.LICENSE.txt'), 'utf8');
  assert.match(notice, new RegExp(`Pusher JavaScript Library v${pinned.replace(/\./g, '\\.')}`));
  assert.match(fs.readFileSync(path.join(VENDOR, 'LICENCE'), 'utf8'), /Permission is hereby granted/);
  const origin = fs.readFileSync(path.join(VENDOR, 'NOTICE'), 'utf8');
  assert.match(origin, new RegExp(`pusher-js ${pinned.replace(/\./g, '\\.')}, from the npm registry`));
});
